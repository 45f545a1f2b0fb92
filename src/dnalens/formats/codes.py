"""CSR arrays on disk: `<stem>.indptr.npy` (int64 [n+1]), `.indices.npy` (uint16, or int32 past 65,536
latents), `.values.npy` (float16).

This is the format of both the per-shard codes written by `dnalens encode` and the codes of an
ActivationBuffer: 4 bytes per stored value (2 for the value, 2 for its latent index; 6 with more than
65,536 latents), memory-mapped on read. Values are clipped to float16's range (with a count), never
silently overflowed to inf. Codes written before indices were narrowed (int32) read the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from dnalens.atomic import atomic_path
from dnalens.errors import InputError

if TYPE_CHECKING:  # scipy is imported where a matrix is built
    import scipy.sparse as sp

FP16_MAX = float(np.finfo(np.float16).max)
PARTS = ("indptr", "indices", "values")
DTYPES = {"indptr": np.int64, "indices": np.int32, "values": np.float16}  # indices: see index_dtype
CODES_MANIFEST = "manifest.json"


def index_dtype(n_cols: int) -> np.dtype:
    """The smallest dtype that holds every latent index: uint16 up to 65,536 latents, else int32."""
    return np.dtype(np.uint16) if int(n_cols) <= 1 << 16 else np.dtype(np.int32)


@dataclass
class CsrArrays:
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    n_cols: int

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0]) - 1

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1]) if self.indptr.size else 0

    def to_scipy(self, dtype=np.float32):
        """scipy CSR [n_rows, n_cols]; float16 is not a scipy.sparse compute dtype, so values are cast
        (int32 indices stay memory-mapped; uint16 ones are widened to int32 in memory, as scipy needs)."""
        import scipy.sparse as sp

        indices = self.indices if self.indices.dtype == np.int32 else np.asarray(self.indices, np.int32)
        return sp.csr_matrix(
            (np.asarray(self.values, dtype=dtype), indices, self.indptr), shape=(self.n_rows, self.n_cols)
        )

    @staticmethod
    def concat(parts: "list[CsrArrays]", n_cols: int) -> "CsrArrays":
        """Rows of `parts` one after the other (in memory)."""
        indptr = [np.zeros(1, np.int64)]
        base = 0
        for p in parts:
            indptr.append(np.asarray(p.indptr[1:], np.int64) + base)
            base += p.nnz
        dtype = index_dtype(n_cols)
        indices = np.concatenate([np.asarray(p.indices, dtype) for p in parts]) if parts else np.zeros(0, dtype)
        values = np.concatenate([np.asarray(p.values, np.float16) for p in parts]) if parts else np.zeros(0, np.float16)
        return CsrArrays(np.concatenate(indptr), indices, values, int(n_cols))


def to_fp16(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Values as float16, clipped to +-65504; returns (array, number clipped)."""
    values = np.asarray(values)
    over = int(np.count_nonzero(np.abs(values) > FP16_MAX))
    if over:
        values = np.clip(values, -FP16_MAX, FP16_MAX)
    return values.astype(np.float16), over


def csr_paths(directory: str | Path, stem: str) -> dict[str, Path]:
    return {part: Path(directory) / f"{stem}.{part}.npy" for part in PARTS}


def write_csr(directory: str | Path, stem: str, arrays: CsrArrays) -> None:
    """Each array atomically (temp + rename); the caller writes its commit marker afterwards."""
    dtypes = dict(DTYPES, indices=index_dtype(arrays.n_cols))
    for part, path in csr_paths(directory, stem).items():
        data = np.ascontiguousarray(getattr(arrays, part), dtype=dtypes[part])
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, data, allow_pickle=False)


def read_csr(directory: str | Path, stem: str, n_cols: int, mmap: bool = True) -> CsrArrays:
    mode = "r" if mmap else None
    parts = {
        part: np.load(path, mmap_mode=mode, allow_pickle=False) for part, path in csr_paths(directory, stem).items()
    }
    return CsrArrays(parts["indptr"], parts["indices"], parts["values"], int(n_cols))


def read_codes_manifest(directory: str | Path) -> dict[str, Any]:
    """manifest.json of a codes directory written by `dnalens encode` (written last: its presence = done)."""
    path = Path(directory) / CODES_MANIFEST
    if not path.is_file():
        raise InputError("codes manifest missing (encoding unfinished?).", path=path, fix="rerun `dnalens encode`.")
    data = json.loads(path.read_text())
    if data.get("format") != "dnalens-codes":
        raise InputError("not a dnalens codes directory (manifest format is not dnalens-codes).", path=path)
    return data


def iter_code_shards(directory: str | Path) -> Iterator[tuple[dict[str, Any], CsrArrays]]:
    """(shard meta with windows and offsets, memory-mapped CSR arrays) per code shard, in order."""
    directory = Path(directory)
    manifest = read_codes_manifest(directory)
    for entry in manifest["shards"]:
        meta = json.loads((directory / f"{entry['stem']}.json").read_text())
        yield meta, read_csr(directory, entry["stem"], manifest["n_features"])


class CodeRows:
    """Row subsets of on-disk CSR codes as float32 scipy matrices, without the whole matrix.

    Why: probes read a sample of training tokens and every held-out token. A scipy matrix over the
    memory-mapped codes casts all values to float32 (E. coli: 1.2 GB), and a long-lived memory map keeps
    every page it touched in the process's RSS; here each batch of rows opens its own short-lived map."""

    def __init__(self, directory: str | Path, stem: str, n_cols: int, batch_rows: int = 4096) -> None:
        self.paths = csr_paths(directory, stem)
        self.indptr = np.load(self.paths["indptr"], allow_pickle=False)
        self.n_cols, self.batch_rows = int(n_cols), int(batch_rows)
        self.shape = (int(self.indptr.size) - 1, self.n_cols)
        self.ndim = 2

    def take(self, rows: np.ndarray) -> "sp.csr_matrix":
        import scipy.sparse as sp

        rows = np.asarray(rows, np.int64)
        parts = [self._batch(rows[i : i + self.batch_rows]) for i in range(0, rows.size, self.batch_rows)]
        return sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, self.n_cols), dtype=np.float32)

    def _batch(self, rows: np.ndarray):
        import scipy.sparse as sp

        starts, counts = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()), dtype=np.int64)
        indices = np.load(self.paths["indices"], mmap_mode="r", allow_pickle=False)[pos].astype(np.int32)
        values = np.load(self.paths["values"], mmap_mode="r", allow_pickle=False)[pos].astype(np.float32)
        indptr = np.concatenate(([0], np.cumsum(counts)))
        return sp.csr_matrix((values, indices, indptr), shape=(rows.size, self.n_cols))
