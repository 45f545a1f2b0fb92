"""Feature-major (CSC) view of a buffer's codes, read one column block at a time with plain file reads.

Why: probing and the report walk features, but codes are written token-major. A CSC built in memory
costs about 8 bytes per stored value twice over (E. coli with k = 32: 297 M values, ~5 GB during the
conversion), and memory-mapped reads of scattered columns leave every touched page counted in the
process's RSS. The reader transposes the buffer's one row-major copy block by block (positioned writes,
no memory map) into a temporary directory (`transposed_columns`; V. cholerae chr2, 36.5 M values: a few
seconds), and pulls exactly the bytes of the columns it needs; nothing of it stays in results/.

Files (valid .npy, read with np.load too):
  features.indptr.npy   int64 [F+1]   column pointers
  features.rows.npy     int32 [nnz]   token row of each value, increasing within a column
  features.values.npy   float16 [nnz] code value
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import scipy.sparse as sp

from dnalens.errors import InputError
from dnalens.formats.row_chunks import npy_layout

INDPTR, ROWS, VALUES = "features.indptr.npy", "features.rows.npy", "features.values.npy"
COLUMN_FILES = (INDPTR, ROWS, VALUES)


def _npy_header(handle, dtype, n: int) -> int:
    """Write a .npy header for a 1-D array of n items; returns the data offset."""
    np.lib.format.write_array_header_1_0(
        handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n,)}
    )
    return handle.tell()


def column_counts(shards: Iterable, n_features: int) -> np.ndarray:
    """Stored values per feature over row-major shards (objects with .indices)."""
    counts = np.zeros(n_features, np.int64)
    for shard in shards:
        counts += np.bincount(np.asarray(shard.indices), minlength=n_features)
    return counts


def write_feature_major(directory: str | Path, shards: Iterable, counts: np.ndarray, n_rows: int) -> None:
    """Transpose row-major shards (objects with .indptr, .indices, .values; rows in order) into the three
    feature-major files in `directory`. `counts` = column_counts of the same shards. Memory: one shard."""
    directory = Path(directory)
    counts = np.asarray(counts, np.int64)
    indptr = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    if n_rows >= 2**31:
        raise InputError(
            f"{n_rows} tokens: more than int32 row numbers hold.", fix="split the genome into several configs."
        )
    np.save(directory / INDPTR, indptr, allow_pickle=False)
    at = indptr[:-1].copy()  # next free slot per feature
    row_base = 0
    with open(directory / ROWS, "wb") as rows_file, open(directory / VALUES, "wb") as values_file:
        rows_at, values_at = _npy_header(rows_file, np.int32, nnz), _npy_header(values_file, np.float16, nnz)
        for shard in shards:
            ip = np.asarray(shard.indptr, np.int64)
            cols = np.asarray(shard.indices)
            order = np.argsort(cols, kind="stable")  # by feature; rows stay increasing within one
            cols_sorted = cols[order]
            rows = (np.repeat(np.arange(ip.size - 1, dtype=np.int64), np.diff(ip)) + row_base)[order].astype(np.int32)
            values = np.asarray(shard.values, np.float16)[order]
            present, first, n = np.unique(cols_sorted, return_index=True, return_counts=True)
            for f, a, m in zip(present.tolist(), first.tolist(), n.tolist()):
                slot = int(at[f])
                if slot + m > indptr[f + 1]:
                    raise InputError(f"feature {f} has more values than counted.", fix="rebuild the buffer.")
                os.pwrite(rows_file.fileno(), rows[a : a + m].tobytes(), rows_at + 4 * slot)
                os.pwrite(values_file.fileno(), values[a : a + m].tobytes(), values_at + 2 * slot)
                at[f] = slot + m
            row_base += ip.size - 1
        if not np.array_equal(at, indptr[1:]) or row_base != n_rows:
            raise InputError(
                f"feature-major copy incomplete ({int((at - indptr[:-1]).sum())} of {nnz} values, "
                f"{row_base} of {n_rows} rows).",
                fix="rebuild the buffer.",
            )
        for handle, offset, itemsize in ((rows_file, rows_at, 4), (values_file, values_at, 2)):
            handle.truncate(offset + itemsize * nnz)  # the last feature's slots may end the file


class FeatureColumns:
    """Column blocks of a feature-major code copy; nothing but the column pointers stays in memory."""

    def __init__(self, directory: str | Path, n_rows: int) -> None:
        self.path = Path(directory)
        for name in (INDPTR, ROWS, VALUES):
            if not (self.path / name).is_file():
                raise InputError(
                    f"no {name}: the buffer predates feature-major codes.",
                    path=self.path,
                    fix="rebuild it with `dnalens buffer` (snakemake --forcerun buffer).",
                )
        self.indptr = np.load(self.path / INDPTR, allow_pickle=False)
        self.n_rows = int(n_rows)
        self.n_features = self.indptr.size - 1
        self._offsets = {name: self._data_offset(name) for name in (ROWS, VALUES)}

    def _data_offset(self, name: str) -> int:
        shape, _, _, offset = npy_layout(self.path / name)
        if shape != (int(self.indptr[-1]),):
            raise InputError(
                f"{name} holds {shape} values, the column pointers {int(self.indptr[-1])}.",
                path=self.path,
                fix="rebuild the buffer.",
            )
        return offset

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_rows, self.n_features

    def column_nnz(self) -> np.ndarray:
        return np.diff(self.indptr)

    def _read(self, name: str, dtype, start: int, stop: int) -> np.ndarray:
        itemsize = np.dtype(dtype).itemsize
        return np.fromfile(
            self.path / name, dtype=dtype, count=stop - start, offset=self._offsets[name] + itemsize * start
        )

    def block(self, f0: int, f1: int, dtype=np.float32) -> sp.csc_matrix:
        """Columns [f0, f1) as CSC [n_rows, f1 - f0] with sorted row indices."""
        a, b = int(self.indptr[f0]), int(self.indptr[f1])
        values = self._read(VALUES, np.float16, a, b).astype(dtype)
        rows = self._read(ROWS, np.int32, a, b)
        matrix = sp.csc_matrix((values, rows, self.indptr[f0 : f1 + 1] - a), shape=(self.n_rows, f1 - f0))
        matrix.has_sorted_indices = True
        return matrix

    def columns(self, features: Iterable[int], dtype=np.float32) -> sp.csc_matrix:
        """The given columns (any order) as one CSC matrix, in that order."""
        parts = [self.block(int(f), int(f) + 1, dtype) for f in features]
        if not parts:
            return sp.csc_matrix((self.n_rows, 0), dtype=dtype)
        return sp.hstack(parts, format="csc")

    def bounds(self, max_entries: int) -> list[tuple[int, int]]:
        return feature_bounds(self.column_nnz(), max_entries)

    def blocks(self, max_entries: int, dtype=np.float32) -> Iterator[tuple[int, int, sp.csc_matrix]]:
        for f0, f1 in self.bounds(max_entries):
            yield f0, f1, self.block(f0, f1, dtype)


def row_blocks(codes, rows_per_block: int = 1 << 20) -> Iterator:
    """Consecutive row blocks of CSR arrays (memory-mapped) as CsrArrays with rebased row pointers."""
    from dnalens.formats.codes import CsrArrays

    indptr = codes.indptr
    n = int(indptr.shape[0]) - 1
    for a in range(0, n, rows_per_block):
        b = min(a + rows_per_block, n)
        ip = np.asarray(indptr[a : b + 1], np.int64)
        lo, hi = int(ip[0]), int(ip[-1])
        yield CsrArrays(ip - lo, codes.indices[lo:hi], codes.values[lo:hi], codes.n_cols)


def transposed_columns(codes, n_rows: int, directory: str | Path | None = None) -> "FeatureColumns":
    """FeatureColumns over a feature-major copy of row-major `codes`, written to a new temporary directory
    (under `directory`, else $TMPDIR) that is removed when the returned object is collected or the
    process exits."""
    import shutil
    import tempfile
    import weakref

    tmp = Path(tempfile.mkdtemp(prefix="dnalens-columns-", dir=directory))
    try:
        write_feature_major(tmp, row_blocks(codes), column_counts(row_blocks(codes), codes.n_cols), n_rows)
        columns = FeatureColumns(tmp, n_rows)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(columns, shutil.rmtree, str(tmp), True)
    return columns


def feature_bounds(column_nnz: np.ndarray, max_entries: int) -> list[tuple[int, int]]:
    """Consecutive feature ranges [f0, f1) of at most `max_entries` values (a single column may exceed it)."""
    out: list[tuple[int, int]] = []
    f0, acc = 0, 0
    for f, c in enumerate(np.asarray(column_nnz).tolist()):
        if f > f0 and acc + c > max_entries:
            out.append((f0, f))
            f0, acc = f, 0
        acc += int(c)
    n = len(column_nnz)
    if f0 < n or not out:
        out.append((f0, n))
    return out


def feature_blocks(codes, max_entries: int, dtype=np.float32) -> Iterator[tuple[int, int, sp.csc_matrix]]:
    """(f0, f1, CSC block) over FeatureColumns or any in-memory scipy matrix (converted once)."""
    if isinstance(codes, FeatureColumns):
        yield from codes.blocks(max_entries, dtype)
        return
    csc = sp.csc_matrix(codes, dtype=dtype)
    csc.sort_indices()
    for f0, f1 in feature_bounds(np.diff(csc.indptr), max_entries):
        yield f0, f1, csc[:, f0:f1]
