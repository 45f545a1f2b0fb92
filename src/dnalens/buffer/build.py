"""Build an ActivationBuffer from code shards (`dnalens encode`), a label store and, optionally, dense shards.

Streams shard by shard into plain appended files, so memory stays at one shard. Every window's token
count is checked against the label store (minus the positions extraction trimmed) before anything is
written; a mismatch is an InputError naming the window, never a silently shifted label. Labels and
instance ids are not copied: the buffer records the store (path, digest) and reads through it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.formats.buffer import ActivationBuffer
from dnalens.formats.buffer_files import write_buffer_meta, write_windows_table
from dnalens.formats.buffer_labels import store_reference
from dnalens.formats.codes import index_dtype, iter_code_shards, read_codes_manifest


@dataclass(frozen=True)
class BufferSettings:
    """The config's `buffer:` block."""

    dense_twin: bool = False


@dataclass
class _WindowPlan:
    table: list[dict[str, Any]]
    n_shards: int


def _plan(codes_dir: Path, store, trim_start: int, trim_end: int) -> _WindowPlan:
    offsets = np.asarray(store.window_offsets, dtype=np.int64)
    index_of_row = {int(r): j for j, r in enumerate(np.asarray(store.window_rows))}
    store_windows = store.windows
    table: list[dict[str, Any]] = []
    token = n_shards = 0
    for meta, _csr in iter_code_shards(codes_dir):
        n_shards += 1
        for row, a, b in zip(meta["windows"], meta["offsets"][:-1], meta["offsets"][1:]):
            row = int(row)
            if row not in index_of_row:
                raise InputError(
                    f"window row {row} of the codes is not in the label store.",
                    path=store.path,
                    fix="build labels and activations from the same windows.bed.",
                )
            j = index_of_row[row]
            w = store_windows[j]
            n_labels = int(offsets[j + 1] - offsets[j])
            expected = max(0, n_labels - trim_start - trim_end)
            if expected != b - a:
                raise InputError(
                    f"window {w.contig}:{w.start}-{w.end}({w.strand}) (windows.bed row {row}) has {b - a} code rows "
                    f"but {n_labels} labelled tokens (minus trims {trim_start}+{trim_end} = {expected}).",
                    path=codes_dir,
                    fix="rebuild labels and activations from the same windows.bed and model.trim.",
                )
            table.append(
                {
                    "row": row,
                    "contig": w.contig,
                    "start": w.start,
                    "end": w.end,
                    "strand": w.strand,
                    "name": w.name,
                    "token_start": token,
                    "token_end": token + expected,
                    "read_offset": trim_start,
                }
            )
            token += expected
    return _WindowPlan(table, n_shards)


class _NpyAppender:
    """A .npy written front to back: the header for the final shape, then rows appended in order.

    Why not np.memmap: pages written through a memory map stay resident in the writing process, so a
    buffer of a few GB showed up as GBs of RSS; plain writes leave them to the page cache. The bytes
    are the ones np.save / open_memmap write (same header)."""

    def __init__(self, path: Path, dtype, shape: tuple[int, ...]) -> None:
        self.dtype, self.shape, self.rows = np.dtype(dtype), shape, 0
        self.handle = open(path, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(self.handle, header)

    def append(self, rows: np.ndarray) -> None:
        block = np.ascontiguousarray(rows, dtype=self.dtype)
        if block.shape[1:] != self.shape[1:] or self.rows + block.shape[0] > self.shape[0]:
            raise ValueError(f"block {block.shape} does not fit {self.shape} after {self.rows} rows")
        self.handle.write(block.tobytes())
        self.rows += block.shape[0]

    def close(self) -> None:
        self.handle.close()


def run_buffer(
    codes_dir: str | Path,
    labels_dir: str | Path,
    out: str | Path,
    *,
    dense_dir: str | Path | None = None,
    genome: str | None = None,
    progress: bool = True,
) -> dict:
    """Write the buffer directory `out` (atomically, as a whole); returns its info()."""
    import pandas as pd
    from tqdm.auto import tqdm

    from dnalens.formats.label_store import LabelStore

    codes_dir, out = Path(codes_dir), Path(out)
    manifest = read_codes_manifest(codes_dir)
    store = LabelStore.open(labels_dir)
    trim_start, trim_end = int(manifest.get("trim_start", 0)), int(manifest.get("trim_end", 0))
    plan = _plan(codes_dir, store, trim_start, trim_end)
    n, nnz, n_features = int(manifest["total_tokens"]), int(manifest["total_nnz"]), int(manifest["n_features"])
    label_names, instance_names = store.concept_names, store.region_concepts
    dense_iter = None
    dense_width = None
    if dense_dir is not None:
        from dnalens.formats.activation_shards import iter_shards, read_manifest

        read_manifest(dense_dir)
        dense_iter = iter_shards(dense_dir)
        dense_width = next(iter_shards(dense_dir))[1].shape[1]
    with atomic_dir(out) as tmp:
        indptr = _NpyAppender(tmp / "codes.indptr.npy", np.int64, (n + 1,))
        indices = _NpyAppender(tmp / "codes.indices.npy", index_dtype(n_features), (nnz,))
        values = _NpyAppender(tmp / "codes.values.npy", np.float16, (nnz,))
        dense = None if dense_width is None else _NpyAppender(tmp / "dense.npy", np.float16, (n, dense_width))
        outputs = [a for a in (indptr, indices, values, dense) if a is not None]
        try:
            row, at = _stream_rows(
                outputs,
                iter_code_shards(codes_dir),
                plan,
                dense_iter,
                dense_dir,
                n,
                nnz,
                tqdm if progress else None,
            )
        finally:
            for array in outputs:
                array.close()
        if row != n or at != nnz:
            raise InputError(
                f"codes manifest says {n} rows / {nnz} values, shards hold {row} / {at} (or more).",
                path=codes_dir,
                fix="rerun `dnalens encode`.",
            )
        write_windows_table(
            tmp / "windows.parquet",
            pd.DataFrame(
                plan.table,
                columns=["row", "contig", "start", "end", "strand", "name", "token_start", "token_end", "read_offset"],
            ),
        )
        meta = {
            "genome": genome,
            "layer": manifest.get("layer"),
            "sae": manifest.get("sae"),
            "sae_digest": manifest.get("sae_digest"),
            "architecture": manifest.get("architecture"),
            "k": manifest.get("k"),
            "trim_start": trim_start,
            "trim_end": trim_end,
            "codes": str(codes_dir),
            "labels": str(labels_dir),
        }
        write_buffer_meta(
            tmp,
            meta,
            n_tokens=n,
            n_features=n_features,
            nnz=nnz,
            label_names=label_names,
            instance_names=instance_names,
            dense_width=dense_width,
            label_store=store_reference(out, store),
        )
    return ActivationBuffer.open(out, labels=labels_dir).info()


def _stream_rows(outputs, code_shards, plan: _WindowPlan, dense_iter, dense_dir, n: int, nnz: int, progress):
    """Append every code shard to the outputs; returns (rows, values) seen.
    One shard's memory maps at a time: a list of all shards would keep every page read resident."""
    indptr, indices, values, *rest = outputs
    dense = rest[0] if rest else None
    row, at = 0, 0
    indptr.append(np.zeros(1, np.int64))
    if progress is not None:
        code_shards = progress(
            code_shards, total=plan.n_shards, desc="buffer", unit="shard", file=sys.stderr, mininterval=2.0
        )
    for meta, csr in code_shards:
        m, k = csr.n_rows, csr.nnz
        if row + m > n or at + k > nnz:
            return row + m, at + k  # more than the manifest says: the caller reports it
        indptr.append(np.asarray(csr.indptr[1:]) + at)
        indices.append(csr.indices)
        values.append(csr.values)
        if dense is not None:
            dmeta, darr = next(dense_iter)
            if list(dmeta["windows"]) != list(meta["windows"]) or list(dmeta["offsets"]) != list(meta["offsets"]):
                raise InputError(
                    f"dense shard {dmeta.get('shard')} does not match code shard {meta.get('shard')}.",
                    path=dense_dir,
                    fix="encode the same activation directory you give as --dense.",
                )
            dense.append(darr)
        row, at = row + m, at + k
    return row, at
