"""Row-major [N, C] buffer arrays (labels.npy, instances.npy) read a chunk of rows at a time.

Why: a memory map keeps every page it touched in the process's RSS, and reading one column of a
row-major file touches every page: on a whole genome the instance ids alone are N × R × 4 bytes
(E. coli: 334 MB). Plain positioned reads of a chunk of rows keep only the result resident.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK_ROWS = 1 << 20


def npy_layout(path: str | Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, byte offset of the data) from an .npy header, for positioned reads."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        return shape, fortran, dtype, handle.tell()


class RowChunkedArray:
    """An [N, C] .npy file: `x[rows]`, `x[rows, cols]`, `x[:, j]`, np.asarray(x), read by row chunks."""

    def __init__(self, path: str | Path, chunk_rows: int = CHUNK_ROWS) -> None:
        self.path = Path(path)
        shape, fortran, dtype, self._offset = npy_layout(self.path)
        if len(shape) != 2 or fortran:
            raise ValueError(f"{self.path}: expected a C-ordered 2-D array, got shape {shape}")
        self.shape, self.dtype, self.ndim = (int(shape[0]), int(shape[1])), np.dtype(dtype), 2
        self.chunk_rows = int(chunk_rows)

    def _read(self, a: int, b: int) -> np.ndarray:
        n_cols = self.shape[1]
        flat = np.fromfile(
            self.path, dtype=self.dtype, count=(b - a) * n_cols, offset=self._offset + a * n_cols * self.dtype.itemsize
        )
        return flat.reshape(b - a, n_cols)

    def take(self, rows=None, cols=slice(None)) -> np.ndarray:
        """Rows (index array in any order, a slice or None = all) and columns (int, list or slice)."""
        n = self.shape[0]
        if rows is not None and not isinstance(rows, slice):
            rows = np.asarray(rows)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
        if rows is None or isinstance(rows, slice):
            a, b, step = (0, n, 1) if rows is None else rows.indices(n)
            if step != 1:
                return self.take(np.arange(a, b, step), cols)
            parts = [self._read(i, min(i + self.chunk_rows, b))[:, cols] for i in range(a, b, self.chunk_rows)]
            return np.concatenate(parts) if parts else np.zeros((0, self.shape[1]), self.dtype)[:, cols]
        rows = rows.astype(np.int64, copy=False)
        ascending = rows.size < 2 or bool(np.all(rows[1:] >= rows[:-1]))
        order = None if ascending else np.argsort(rows, kind="stable")
        sorted_rows = rows if order is None else rows[order]
        first = np.zeros((0, self.shape[1]), self.dtype)[:, cols]
        out = np.empty((rows.size,) + first.shape[1:], self.dtype)
        if rows.size and (sorted_rows[0] < 0 or sorted_rows[-1] >= n):
            raise IndexError(f"row index out of range for {n} rows")
        for i in range(0, n, self.chunk_rows):
            lo, hi = np.searchsorted(sorted_rows, [i, i + self.chunk_rows])
            if hi == lo:
                continue
            chunk = self._read(i, min(i + self.chunk_rows, n))[sorted_rows[lo:hi] - i][:, cols]
            if order is None:
                out[lo:hi] = chunk
            else:
                out[order[lo:hi]] = chunk
        return out

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, cols = key
            return self.take(None if isinstance(rows, slice) and rows == slice(None) else rows, cols)
        return self.take(key)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.take()
        return out if dtype is None else out.astype(dtype)


class PackedLabels:
    """bool [N, L] concept labels over their bit-packed form (numpy's big bit order, L/8 bytes per token):
    a column or a row subset is unpacked when read, never the whole matrix (E. coli: 288 MB)."""

    def __init__(self, packed, n_labels: int) -> None:
        self.packed = packed  # uint8 [N, ceil(L/8)]: ndarray, memmap or RowChunkedArray
        self.shape, self.ndim, self.dtype = (int(packed.shape[0]), int(n_labels)), 2, np.dtype(bool)

    def column(self, j: int, rows=None) -> np.ndarray:
        if not 0 <= j < self.shape[1]:
            raise IndexError(f"label column {j} out of range for {self.shape[1]} labels")
        byte = self.packed[:, j >> 3] if rows is None else self.packed[rows, j >> 3]
        return (np.asarray(byte) >> (7 - (j & 7))) & 1 == 1

    def rows(self, rows) -> np.ndarray:
        return np.unpackbits(np.asarray(self.packed[rows]), axis=1, count=self.shape[1]).astype(bool)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, cols = key
            if isinstance(cols, (int, np.integer)):
                return self.column(int(cols), None if isinstance(rows, slice) and rows == slice(None) else rows)
            return self.rows(rows)[:, cols]
        return self.rows(key)

    def sum(self, axis: int = 0) -> np.ndarray:
        if axis != 0:
            raise ValueError("PackedLabels.sum supports axis=0 only")
        n = self.shape[0]
        total = np.zeros(self.shape[1], np.int64)
        for a in range(0, n, CHUNK_ROWS):
            total += self.rows(slice(a, min(a + CHUNK_ROWS, n))).sum(axis=0)
        return total

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.rows(slice(None))
        return out if dtype is None else out.astype(dtype)
