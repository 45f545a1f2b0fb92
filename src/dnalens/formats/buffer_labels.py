"""Labels and instance ids of buffer rows, read through the label store (buffer format 2).

Why: a buffer row is a label-store token (window `row` of windows.bed, read position `read_offset` + k),
so a copy of the store's labels and instance ids next to the codes (format 1: 49 bytes per token on
V. cholerae) only repeated the store. The buffer records where its store is (relative to itself, then
as given) and the store's content digest; rows are mapped through the window table when read.

A buffer built in memory (`select`, `concat`, tests) has no store behind it: it is saved with its own
labels.npy and run-length encoded instance ids (`instances.{pointers,starts,ids}.npy`, formats/instance_runs.py).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.coordinates import token_read_offsets
from dnalens.formats.instance_runs import RunLengthIds

INLINE_INSTANCES = "instances"  # stem of an inline buffer's run files
REBUILD = "rerun the buffer rule (`dnalens buffer --codes ... --labels DIR`) on this label store."


def store_rows(windows, window_rows, window_offsets) -> np.ndarray:
    """Label-store token row of every buffer row (int64 [N]), from the buffer's window table and the
    store's window rows and token offsets."""
    index_of_row = {int(r): j for j, r in enumerate(np.asarray(window_rows))}
    offsets = np.asarray(window_offsets, np.int64)
    lengths = windows["token_end"].to_numpy(np.int64) - windows["token_start"].to_numpy(np.int64)
    read_offset = (
        windows["read_offset"].to_numpy(np.int64) if "read_offset" in windows else np.zeros(len(windows), np.int64)
    )
    try:
        window = np.array([index_of_row[int(r)] for r in windows["row"]], np.int64)
    except KeyError as err:
        raise InputError(
            f"buffer window row {err.args[0]} is not in the label store.",
            fix="pass the label store the buffer was built from.",
        ) from None
    if window.size and (read_offset + lengths > offsets[window + 1] - offsets[window]).any():
        raise InputError(
            "buffer windows hold more tokens than the label store's windows.",
            fix="pass the label store the buffer was built from.",
        )
    owner, k = token_read_offsets(lengths, read_offset)  # buffer rows are whole windows in table order
    return offsets[window][owner] + k


class MappedRows:
    """[n, C] view whose row i is row `rows[i]` of `base` (anything read as `base[rows, cols]`: a
    RowChunkedArray of the store's labels.npy, the store's RunLengthIds). The row map is built on first read."""

    def __init__(self, base, n_rows: int, make_rows) -> None:
        self.base = base
        self.shape, self.ndim, self.dtype = (int(n_rows), int(base.shape[1])), 2, np.dtype(base.dtype)
        self._make_rows = make_rows

    @cached_property
    def rows(self) -> np.ndarray:
        return self._make_rows()

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        mapped = self.rows if isinstance(rows, slice) and rows == slice(None) else self.rows[rows]
        return self.base[mapped, cols]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.asarray(self.base[self.rows, slice(None)])
        return out if dtype is None else out.astype(dtype)


def store_reference(buffer_dir: Path, store) -> dict[str, Any]:
    """buffer.json's `label_store`: the store relative to the buffer directory and absolute, its digest."""
    where = Path(store.path).resolve()
    return {
        "path": os.path.relpath(where, Path(buffer_dir).resolve()),
        "absolute": str(where),
        "digest": store.meta.get("digest"),
        "n_tokens": store.n_tokens,
    }


def find_store(path: Path, meta: dict[str, Any], labels: str | Path | None = None):
    """The label store a format-2 buffer reads through: `labels` when given, else the recorded one
    (relative to the buffer, absolute, as given to `dnalens buffer`); checked against its digest."""
    from dnalens.formats.label_store import LabelStore

    ref = meta.get("label_store") or {}
    if labels is not None:
        candidates = [Path(labels)]
    else:
        candidates = [path / ref["path"]] if ref.get("path") else []
        candidates += [Path(p) for p in (ref.get("absolute"), meta.get("labels")) if p]
    found = next((c for c in candidates if (c / "meta.json").is_file()), None)
    if found is None:
        raise InputError(
            f"this buffer reads its labels through a label store, found at none of {[str(c) for c in candidates]}.",
            path=path,
            fix="pass the label store it was built from (`--labels DIR`, `ActivationBuffer.open(path, labels=DIR)`).",
        )
    store = LabelStore.open(found)
    if store.meta.get("digest") != ref.get("digest") or store.n_tokens != ref.get("n_tokens"):
        raise InputError(
            f"the label store {found} is not the one this buffer was built from (its content digest differs).",
            path=path,
            fix=REBUILD,
        )
    return store


def open_labels(path: Path, meta: dict[str, Any], windows, labels: str | Path | None = None):
    """(packed labels, instance ids, label store or None) of an opened buffer directory."""
    n = int(meta["n_tokens"])
    if meta.get("label_source") != "store":
        return (
            np.load(path / "labels.npy", mmap_mode="r", allow_pickle=False),
            RunLengthIds.load(path, INLINE_INSTANCES, n),
            None,
        )
    store = find_store(path, meta, labels)
    if store.concept_names != list(meta["label_names"]) or store.region_concepts != list(meta["instance_names"]):
        raise InputError("the label store's concepts differ from the buffer's.", path=store.path, fix=REBUILD)
    return (*through_store(store, windows, n), store)


def through_store(store, windows, n_rows: int) -> tuple[MappedRows, MappedRows]:
    """(packed labels, instance ids) of the buffer rows as views over the store (one shared row map)."""
    from dnalens.formats.row_chunks import RowChunkedArray

    cache: dict[str, np.ndarray] = {}

    def rows() -> np.ndarray:
        if "rows" not in cache:
            cache["rows"] = store_rows(windows, store.window_rows, store.window_offsets)
        return cache["rows"]

    labels = MappedRows(RowChunkedArray(store.path / "labels.npy"), n_rows, rows)
    return labels, MappedRows(store.instance_runs, n_rows, rows)


def write_inline(directory: Path, labels_packed, instances) -> None:
    """An in-memory buffer's labels (packed) and instance ids (as runs) into its directory."""
    np.save(directory / "labels.npy", np.ascontiguousarray(labels_packed, dtype=np.uint8), allow_pickle=False)
    runs = instances if isinstance(instances, RunLengthIds) else RunLengthIds.from_dense(np.asarray(instances))
    runs.save(directory, INLINE_INSTANCES)
