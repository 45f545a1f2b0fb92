"""The ActivationBuffer directory: its layout, format version and writers (the reader: formats/buffer.py).

On disk, format version 2 (a directory, replaced as a whole; every array a .npy, nothing pickled):
  buffer.json                  format, shapes, label/instance names, provenance (SAE, layer, trims),
                               `label_source` ("store" or "inline") and `label_store` (its path relative
                               to this directory and absolute, its content digest and token count)
  codes.indptr.npy             int64 [N+1]   CSR row pointers
  codes.indices.npy            uint16 [nnz]  latent index of each stored value (int32 past 65,536 latents)
  codes.values.npy             float16 [nnz] code value            -> k x 4 bytes per token (+ 8 for indptr)
  windows.parquet              row (of windows.bed), contig, start, end, strand, name,
                               token_start, token_end (rows of this buffer), read_offset (read
                               position of the window's first row; > 0 when extraction trimmed starts)
  dense.npy                    float16 [N, d] (optional dense twin: the activations themselves)
  only with label_source "inline" (a buffer built in memory: select, concat, tests):
  labels.npy                   uint8 [N, ceil(L/8)]  bit-packed bools (big bit order, as in the label store)
  instances.{pointers,starts,ids}.npy  instance ids per region concept as runs (formats/instance_runs.py)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnalens.formats.buffer_labels import store_reference, write_inline
from dnalens.formats.codes import index_dtype, write_csr

FORMAT = "dnalens-activation-buffer"
VERSION = 2  # 2: labels and instance ids read through the label store (or inline runs), no dense copy
WINDOW_COLUMNS = ("row", "contig", "start", "end", "strand", "name", "token_start", "token_end", "read_offset")


def write_buffer_files(directory: Path, buffer, final: Path | None = None) -> None:
    """Every file of a buffer into an (empty, temporary) directory that becomes `final`; buffer.json last."""
    write_csr(directory, "codes", buffer.code_arrays)
    if buffer.label_store is None:
        write_inline(directory, buffer.labels_packed, buffer.instances)
    if buffer.dense is not None:
        np.save(directory / "dense.npy", np.ascontiguousarray(buffer.dense, dtype=np.float16), allow_pickle=False)
    write_windows_table(directory / "windows.parquet", buffer.windows)
    write_buffer_meta(
        directory,
        buffer.meta,
        n_tokens=buffer.n_tokens,
        n_features=buffer.n_features,
        label_names=buffer.label_names,
        instance_names=buffer.instance_names,
        dense_width=None if buffer.dense is None else int(buffer.dense.shape[1]),
        nnz=buffer.nnz,
        label_store=None if buffer.label_store is None else store_reference(final or directory, buffer.label_store),
    )


def write_windows_table(path: Path, table) -> None:
    table = table.loc[:, list(WINDOW_COLUMNS)]
    table.to_parquet(path, index=False)


def write_buffer_meta(
    directory: Path,
    meta: dict[str, Any],
    *,
    n_tokens: int,
    n_features: int,
    nnz: int,
    label_names: Sequence[str],
    instance_names: Sequence[str],
    dense_width: int | None,
    label_store: dict[str, Any] | None = None,
) -> None:
    """buffer.json; `label_store` (label_rows.store_reference) when labels are read through the store,
    else the buffer directory holds them (label_source "inline")."""
    record = {k: v for k, v in meta.items() if k not in ("format", "version", "label_source", "label_store")}
    record.update(
        {
            "format": FORMAT,
            "version": VERSION,
            "n_tokens": int(n_tokens),
            "n_features": int(n_features),
            "nnz": int(nnz),
            "label_names": list(label_names),
            "instance_names": list(instance_names),
            "dense": dense_width is not None,
            "dense_width": dense_width,
            "codes_dtype": "float16",
            "indices_dtype": index_dtype(n_features).name,
            "labels_bitorder": "big",
            "label_source": "inline" if label_store is None else "store",
        }
    )
    if label_store is not None:
        record["label_store"] = label_store
    (directory / "buffer.json").write_text(json.dumps(record, indent=1) + "\n")
