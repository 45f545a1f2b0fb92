"""Feature-chunk views of activation matrices: only the nonzeros of a few columns at a time.

Every probing metric works column by column, so codes are walked in feature chunks whose entry count
is bounded (memory and cache), whatever the input: one scipy.sparse matrix (CSR is converted to CSC
once), a list of row shards (stacked per chunk, never as a whole), or a dense ndarray / memmap.
A row subset (a split's tokens) is applied per chunk, so a split never copies the whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from dnalens.formats.feature_columns import feature_bounds

DEFAULT_CHUNK_ENTRIES = 1 << 17


@dataclass(frozen=True)
class ColumnBlock:
    """Nonzeros of columns [f0, f1) over the selected rows, grouped by column (CSC layout)."""

    f0: int
    f1: int
    n_rows: int
    data: np.ndarray  # nonzero values (exact zeros removed)
    rows: np.ndarray  # row of each value, in the selected-row numbering
    indptr: np.ndarray  # [f1 - f0 + 1] offsets into data/rows per column

    @property
    def n_cols(self) -> int:
        return self.f1 - self.f0

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def cols(self) -> np.ndarray:
        """Column (0-based within the block) of each entry."""
        return np.repeat(np.arange(self.n_cols, dtype=np.int64), self.counts)


class FeatureChunker:
    """Walks codes in feature chunks of at most `max_entries` stored values (one column may exceed it)."""

    def __init__(self, codes, *, rows: np.ndarray | None = None, max_entries: int = DEFAULT_CHUNK_ENTRIES):
        self.max_entries = int(max_entries)
        self._dense: np.ndarray | None = None
        self._shards: list[sp.csc_matrix] = []
        if isinstance(codes, np.ndarray):
            if codes.ndim != 2:
                raise ValueError(f"dense codes must be 2-D [N, F], got shape {codes.shape}")
            self._dense = codes
            n_total, self.n_features = codes.shape
        else:
            shards = list(codes) if isinstance(codes, (list, tuple)) else [codes]
            if not shards or not all(sp.issparse(s) for s in shards):
                raise TypeError("codes must be a scipy.sparse matrix, a list of them (row shards) or an ndarray")
            widths = {s.shape[1] for s in shards}
            if len(widths) != 1:
                raise ValueError(f"row shards disagree on the number of features: {sorted(widths)}")
            self._shards = [_canonical_csc(s) for s in shards]
            n_total, self.n_features = sum(s.shape[0] for s in shards), widths.pop()
        self.n_total_rows = n_total
        self._offsets = np.cumsum([0] + [s.shape[0] for s in self._shards])
        if rows is None:
            self._remap = None
            self.n_rows = n_total
        else:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= n_total):
                raise ValueError("row subset out of range")
            if rows.size > 1 and not (np.diff(rows) > 0).all():
                raise ValueError("row subset must be strictly increasing (sorted token indices)")
            # an [N] map per call: int32 when it fits (a genome has tens of millions of tokens)
            remap = np.full(n_total, -1, dtype=np.int32 if n_total < np.iinfo(np.int32).max else np.int64)
            remap[rows] = np.arange(rows.size)
            self._remap = remap
            self.n_rows = int(rows.size)
        self._rows = rows

    def column_nnz(self) -> np.ndarray:
        """Stored entries per column (over all rows; a cheap upper bound for chunk sizing)."""
        if self._dense is not None:
            return np.full(self.n_features, self.n_rows, dtype=np.int64)
        return sum(np.diff(s.indptr) for s in self._shards).astype(np.int64)

    def bounds(self) -> list[tuple[int, int]]:
        """Feature ranges [f0, f1) whose stored entries stay under max_entries."""
        return feature_bounds(self.column_nnz(), self.max_entries)

    def __iter__(self) -> Iterator[ColumnBlock]:
        for f0, f1 in self.bounds():
            yield self.block(f0, f1)

    def block(self, f0: int, f1: int) -> ColumnBlock:
        if self._dense is not None:
            part = np.asarray(self._dense[:, f0:f1] if self._rows is None else self._dense[self._rows, f0:f1])
            csc = sp.csc_matrix(part)
            return _from_csc(csc, f0, f1, self.n_rows, None)
        pieces = [s[:, f0:f1] for s in self._shards]
        if len(pieces) == 1:
            return _from_csc(pieces[0], f0, f1, self.n_rows, self._remap)
        data = np.concatenate([p.data for p in pieces])
        rows = np.concatenate([p.indices.astype(np.int64) + off for p, off in zip(pieces, self._offsets)])
        cols = np.concatenate([np.repeat(np.arange(f1 - f0), np.diff(p.indptr)) for p in pieces])
        order = np.argsort(cols, kind="stable")
        indptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=f1 - f0))))
        merged = sp.csc_matrix((data[order], rows[order], indptr), shape=(int(self._offsets[-1]), f1 - f0))
        return _from_csc(merged, f0, f1, self.n_rows, self._remap)


def _canonical_csc(matrix) -> sp.csc_matrix:
    """CSC with sorted, unique row indices per column (copies only when the input is not canonical)."""
    csc = sp.csc_matrix(matrix)
    if not csc.has_canonical_format:
        csc = csc.copy()
        csc.sum_duplicates()
    return csc


def _from_csc(csc: sp.csc_matrix, f0: int, f1: int, n_rows: int, remap: np.ndarray | None) -> ColumnBlock:
    data, rows, indptr = csc.data, csc.indices.astype(np.int64), csc.indptr.astype(np.int64)
    keep = data != 0
    if remap is not None:
        rows = remap[rows].astype(np.int64)
        keep &= rows >= 0
    if np.isnan(data).any():
        raise ValueError("codes contain NaN; fix the activations/SAE before probing")
    if not keep.all():
        cols = np.repeat(np.arange(f1 - f0), np.diff(indptr))[keep]
        data, rows = data[keep], rows[keep]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=f1 - f0))))
    return ColumnBlock(f0, f1, n_rows, data, rows, indptr)
