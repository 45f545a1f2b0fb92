"""Activation shards: one directory per (genome, layer), fp16 .npy shards with a JSON commit marker.

Layout of `results/<genome>/activations/<layer>/`:
- `shard-00000.npy`: float16 [n_tokens, d] (np.save, allow_pickle=False), tokens of whole windows in
  windows.bed row order, read order within a window, one row per kept nucleotide;
- `shard-00000.json`: {"windows": [rows of windows.bed], "offsets": [token offset of each window
  within this shard, n_windows + 1 entries], "layer", "d", "dtype": "float16", ...} written AFTER
  the .npy, so its presence means the shard is complete (a rerun skips it);
- `manifest.json`: written last: shards in order, total tokens, model spec, layer.

Why this shape: shards bound memory (the extractor holds one shard at a time), memory-mapped reads
let the SAE trainer stream tokens without loading a genome's activations, and the JSON marker makes
resumption a matter of "skip shards whose .json exists".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from dnalens.atomic import atomic_path, write_text
from dnalens.errors import InputError

MANIFEST = "manifest.json"


def shard_stem(idx: int) -> str:
    return f"shard-{idx:05d}"


def shard_complete(directory: str | Path, idx: int) -> bool:
    d = Path(directory)
    return (d / f"{shard_stem(idx)}.json").exists() and (d / f"{shard_stem(idx)}.npy").exists()


def write_shard(
    directory: str | Path,
    idx: int,
    array: np.ndarray,
    windows: Sequence[int],
    offsets: Sequence[int],
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write shard `idx` atomically: the .npy first, then the .json commit marker. Returns the .json path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    offsets = [int(o) for o in offsets]
    windows = [int(w) for w in windows]
    if len(offsets) != len(windows) + 1 or offsets[0] != 0 or offsets[-1] != array.shape[0]:
        raise ValueError(
            f"offsets must have len(windows)+1 entries from 0 to n_tokens={array.shape[0]}, got {offsets[:3]}..{offsets[-1:]}"
        )
    if any(b < a for a, b in zip(offsets, offsets[1:])):
        raise ValueError("offsets must be non-decreasing")
    arr = np.ascontiguousarray(array, dtype=np.float16)
    stem = shard_stem(idx)
    with atomic_path(d / f"{stem}.npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    record = dict(meta or {})
    record.update(
        {"windows": windows, "offsets": offsets, "d": int(arr.shape[1]), "dtype": "float16",
         "n_tokens": int(arr.shape[0]), "shard": idx}
    )
    record.setdefault("layer", None)
    write_text(d / f"{stem}.json", json.dumps(record) + "\n")
    return d / f"{stem}.json"


def write_manifest(directory: str | Path, meta: dict[str, Any]) -> None:
    """Write manifest.json last: lists every complete shard in order and the total token count."""
    d = Path(directory)
    shards, total = [], 0
    for meta_i, _ in _shard_metas(d):
        shards.append({"npy": f"{shard_stem(meta_i['shard'])}.npy", "json": f"{shard_stem(meta_i['shard'])}.json",
                       "n_tokens": meta_i["n_tokens"], "n_windows": len(meta_i["windows"])})
        total += meta_i["n_tokens"]
    record = dict(meta)
    record.update({"shards": shards, "total_tokens": total, "dtype": "float16"})
    write_text(d / MANIFEST, json.dumps(record, indent=1) + "\n")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise InputError("activation manifest missing (extraction unfinished?).", path=path,
                         fix="rerun `dnalens extract` for this genome and layer.")
    return json.loads(path.read_text())


def _shard_metas(d: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    for js in sorted(d.glob("shard-*.json")):
        npy = js.with_suffix(".npy")
        if not npy.exists():
            continue
        meta = json.loads(js.read_text())
        yield meta, npy


def iter_shards(directory: str | Path) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(shard meta, memory-mapped float16 array [n_tokens, d]) for every complete shard, in order."""
    d = Path(directory)
    if (d / MANIFEST).exists():
        for entry in read_manifest(d)["shards"]:
            meta = json.loads((d / entry["json"]).read_text())
            yield meta, np.load(d / entry["npy"], mmap_mode="r", allow_pickle=False)
        return
    for meta, npy in _shard_metas(d):
        yield meta, np.load(npy, mmap_mode="r", allow_pickle=False)


def iter_token_batches(
    directory: str | Path, batch_tokens: int, shuffle_seed: int | None = None
) -> Iterator[np.ndarray]:
    """Float32 batches of `batch_tokens` token rows (last one may be shorter).

    Without a seed: every token once, in stored order. With a seed: shard order and the token order
    within each shard are shuffled (one shard in memory at a time), then concatenated into batches,
    so memory stays bounded by one shard.
    """
    shards = list(iter_shards(directory))
    order = np.arange(len(shards))
    rng = np.random.default_rng(shuffle_seed) if shuffle_seed is not None else None
    if rng is not None:
        rng.shuffle(order)
    pending: list[np.ndarray] = []
    n_pending = 0
    for i in order:
        arr = shards[i][1]
        if rng is not None:
            arr = np.asarray(arr)[rng.permutation(arr.shape[0])]
        pos = 0
        while pos < arr.shape[0]:
            take = min(batch_tokens - n_pending, arr.shape[0] - pos)
            pending.append(np.asarray(arr[pos : pos + take], dtype=np.float32))
            n_pending += take
            pos += take
            if n_pending == batch_tokens:
                yield np.concatenate(pending)
                pending, n_pending = [], 0
    if n_pending:
        yield np.concatenate(pending)


def window_token_ranges(directory: str | Path) -> dict[int, tuple[int, int]]:
    """windows.bed row -> (start, end) global token index over all shards in order."""
    out: dict[int, tuple[int, int]] = {}
    base = 0
    for meta, arr in iter_shards(directory):
        for w, a, b in zip(meta["windows"], meta["offsets"], meta["offsets"][1:]):
            out[int(w)] = (base + a, base + b)
        base += arr.shape[0]
    return out
