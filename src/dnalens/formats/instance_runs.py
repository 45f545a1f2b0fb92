"""Instance ids run-length encoded: per region concept, the tokens where its id changes.

Why: the id of the instance a token lies in (per region concept, −1 outside) is constant along a gene,
an exon, an intergenic stretch, so int32 [N, R] is almost all repeats; the change points are ~1/300
of its bytes (V. cholerae chr2: 196 MB dense, 0.7 MB as runs). Columns are expanded when read.

On disk, three .npy files `<stem>.{pointers,starts,ids}.npy`:
  pointers  int64 [R+1]  the runs of column r are pointers[r]:pointers[r+1]
  starts    int64 [M]    first token of each run; each column's first run starts at token 0
  ids       int32 [M]    the id over the run (−1 outside), never equal to the previous run's id
A store of N = 0 tokens has no runs. This form is canonical: equal columns give equal files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

PARTS = ("pointers", "starts", "ids")


def column_runs(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ids) of one dense column: a run starts at token 0 and wherever the id changes."""
    column = np.asarray(column)
    if column.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int32)
    starts = np.concatenate(([0], np.flatnonzero(column[1:] != column[:-1]) + 1)).astype(np.int64)
    return starts, column[starts].astype(np.int32)


def _as_rows(rows, n: int) -> np.ndarray:
    """Row selector (index array, bool mask, slice) as int64 indices in [0, n)."""
    if isinstance(rows, slice):
        return np.arange(*rows.indices(n), dtype=np.int64)
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise IndexError(f"boolean row mask of shape {rows.shape} for {n} rows")
        return np.flatnonzero(rows)
    rows = rows.astype(np.int64, copy=False)
    if rows.size and (int(rows.min()) < -n or int(rows.max()) >= n):
        raise IndexError(f"row index out of range for {n} rows")
    return np.where(rows < 0, rows + n, rows) if rows.size and int(rows.min()) < 0 else rows


@dataclass(frozen=True)
class RunLengthIds:
    """int32 [n_rows, R] instance ids as runs; reads like an array: `x[:, r]`, `x[rows, r]`, `x[rows]`,
    np.asarray(x) (what the buffer and the probe's metrics use)."""

    pointers: np.ndarray  # int64 [R+1]
    starts: np.ndarray  # int64 [M]
    ids: np.ndarray  # int32 [M]
    n_rows: int

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.n_rows), int(self.pointers.size) - 1)

    ndim = 2
    dtype = np.dtype(np.int32)

    @property
    def nbytes(self) -> int:
        return int(self.pointers.nbytes + self.starts.nbytes + self.ids.nbytes)

    # ---- building ---------------------------------------------------------------------------------
    @classmethod
    def from_columns(cls, columns: Iterable[np.ndarray], n_rows: int) -> "RunLengthIds":
        """From dense columns (each int [n_rows]), one at a time: memory is one column plus the runs."""
        starts, ids, pointers = [], [], [0]
        for column in columns:
            if len(column) != n_rows:
                raise ValueError(f"column of {len(column)} rows for {n_rows}")
            s, v = column_runs(column)
            starts.append(s)
            ids.append(v)
            pointers.append(pointers[-1] + s.size)
        return cls(
            np.asarray(pointers, np.int64),
            np.concatenate(starts) if starts else np.zeros(0, np.int64),
            np.concatenate(ids) if ids else np.zeros(0, np.int32),
            int(n_rows),
        )

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> "RunLengthIds":
        dense = np.asarray(dense)
        return cls.from_columns((dense[:, r] for r in range(dense.shape[1])), dense.shape[0])

    @staticmethod
    def concat(parts: Sequence["RunLengthIds"]) -> "RunLengthIds":
        """Rows of `parts` one after the other (same columns); a run continuing across a boundary is
        merged, so the result is what encoding the concatenated dense columns gives."""
        if not parts:
            raise ValueError("nothing to concatenate")
        n_cols = parts[0].shape[1]
        if any(p.shape[1] != n_cols for p in parts):
            raise ValueError("parts have different numbers of columns")
        starts, ids, pointers = [], [], [0]
        for r in range(n_cols):
            base, last, count = 0, None, 0
            for p in parts:
                s, v = p.runs(r)
                if s.size and last is not None and v[0] == last:
                    s, v = s[1:], v[1:]  # the previous part's last run goes on
                if s.size:
                    starts.append(s + base)
                    ids.append(v)
                    last, count = v[-1], count + s.size
                base += p.n_rows
            pointers.append(pointers[-1] + count)
        return RunLengthIds(
            np.asarray(pointers, np.int64),
            np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64),
            np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32),
            sum(p.n_rows for p in parts),
        )

    # ---- reading ----------------------------------------------------------------------------------
    def runs(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ids) of column r."""
        if not 0 <= r < self.shape[1]:
            raise IndexError(f"instance column {r} out of range for {self.shape[1]} columns")
        a, b = int(self.pointers[r]), int(self.pointers[r + 1])
        return np.asarray(self.starts[a:b]), np.asarray(self.ids[a:b])

    def column(self, r: int, rows=None) -> np.ndarray:
        """int32 ids of column r at `rows` (all when None)."""
        starts, ids = self.runs(int(r))
        if rows is None:
            return np.repeat(ids, np.diff(np.append(starts, self.n_rows)))
        rows = _as_rows(rows, self.n_rows)
        if 4 * rows.size >= self.n_rows:  # many rows: expanding the column and gathering is cheaper
            return np.repeat(ids, np.diff(np.append(starts, self.n_rows)))[rows]
        return ids[np.searchsorted(starts, rows, side="right") - 1]

    def rows(self, rows=None) -> np.ndarray:
        """int32 [n, R] for `rows` (all when None)."""
        n = self.n_rows if rows is None else _as_rows(rows, self.n_rows).size
        out = np.empty((n, self.shape[1]), np.int32)
        for r in range(self.shape[1]):
            out[:, r] = self.column(r, rows)
        return out

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, cols = key
            rows = None if isinstance(rows, slice) and rows == slice(None) else rows
            if isinstance(cols, (int, np.integer)):
                return self.column(int(cols), rows)
            return self.rows(rows)[:, cols]
        return self.rows(key)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.rows()
        return out if dtype is None else out.astype(dtype)

    # ---- files ------------------------------------------------------------------------------------
    def save(self, directory: str | Path, stem: str) -> None:
        for part in PARTS:
            np.save(
                Path(directory) / f"{stem}.{part}.npy", np.ascontiguousarray(getattr(self, part)), allow_pickle=False
            )

    @classmethod
    def load(cls, directory: str | Path, stem: str, n_rows: int) -> "RunLengthIds":
        arrays = {part: np.load(Path(directory) / f"{stem}.{part}.npy", allow_pickle=False) for part in PARTS}
        return cls(arrays["pointers"], arrays["starts"], arrays["ids"], int(n_rows))


def run_files(stem: str) -> list[str]:
    return [f"{stem}.{part}.npy" for part in PARTS]
