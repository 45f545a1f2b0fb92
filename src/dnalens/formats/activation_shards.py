"""Activation shards: one directory per (genome, layer), fp16 .npy shards with a JSON commit marker.

Layout of `results/<genome>/activations/<layer>/`:
- `shard-00000.npy`: float16 [n_tokens, d] (np.save, allow_pickle=False), tokens of whole windows in
  windows.bed row order, read order within a window, one row per kept nucleotide;
- `shard-00000.json`: {"windows": [rows of windows.bed], "offsets": [token offset of each window
  within this shard, n_windows + 1 entries], "layer", "d", "dtype": "float16", "npy_bytes": size of
  the .npy, "npy_checksum": "crc32:<8 hex>", ...} written AFTER the .npy, so its presence means the
  shard was complete when written (a rerun verifies it, then skips it);
- `manifest.json`: written last: shards in order (with their bytes and checksum), total tokens,
  model spec, layer.

Why this shape: shards bound memory (the extractor holds one shard at a time), memory-mapped reads
let the SAE trainer stream tokens without loading a genome's activations, and the JSON marker makes
resumption a matter of "skip shards whose .json exists and whose .npy still matches it".

Why size + CRC-32: a crashed or partial network write can leave a renamed-but-short .npy, which
numpy would only report deep inside a later stage. Every reader compares the size (one stat, free);
the resume check and the gather also compare the CRC-32 (zlib, about 3 GB/s from the page cache:
40 ms for a 128 MiB shard of 256k tokens x 256). Readers do not checksum by default because the SAE
trainer memory-maps the same shards once per pass. Shards written before these fields existed still
read: their .npy header gives the size to expect, with a one-time warning.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from dnalens.atomic import atomic_path, write_text
from dnalens.errors import InputError

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
_CHUNK = 1 << 20
_WARNED_LEGACY: set[str] = set()


def file_checksum(path: str | Path) -> str:
    """'crc32:<8 hex>' of a file, streamed in 1 MiB reads (zlib.crc32: about 3 GB/s)."""
    crc = 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while n := fh.readinto(buf):
            crc = zlib.crc32(view[:n], crc)
    return f"crc32:{crc:08x}"


def file_record(path: str | Path) -> dict[str, Any]:
    """{"bytes", "checksum"} of a finished file: what a commit marker records about it."""
    return {"bytes": Path(path).stat().st_size, "checksum": file_checksum(path)}


def file_problem(path: str | Path, size: int | None, checksum: str | None, verify: bool) -> str | None:
    """What is wrong with `path` against its recorded size/checksum (None: nothing found).

    The size is always compared (one stat); the checksum only with `verify` (one full read)."""
    path = Path(path)
    if not path.is_file():
        return "file is missing"
    found = path.stat().st_size
    if size is not None and found != int(size):
        how = "truncated" if found < int(size) else "longer than written"
        return f"{how}: expected {int(size)} bytes, found {found} bytes"
    if verify and checksum is not None:
        got = file_checksum(path)
        if got != checksum:
            return f"checksum mismatch: expected {checksum}, found {got} (same size, {found} bytes: contents changed)"
    return None


def npy_expected_bytes(path: str | Path) -> int | None:
    """File size a .npy's own header implies (header + shape x itemsize): checks shards written
    before sizes were recorded. None when the header itself is unreadable."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            return fh.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    except (ValueError, OSError, EOFError):
        return None


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
        written = file_record(tmp)  # of the bytes on disk, read back before the rename
    record = dict(meta or {})
    record.update(
        {
            "windows": windows,
            "offsets": offsets,
            "d": int(arr.shape[1]),
            "dtype": "float16",
            "n_tokens": int(arr.shape[0]),
            "shard": idx,
            "npy_bytes": written["bytes"],
            "npy_checksum": written["checksum"],
        }
    )
    record.setdefault("layer", None)
    write_text(d / f"{stem}.json", json.dumps(record) + "\n")
    return d / f"{stem}.json"


def write_manifest(directory: str | Path, meta: dict[str, Any]) -> None:
    """Write manifest.json last: lists every complete shard in order and the total token count."""
    d = Path(directory)
    shards, total = [], 0
    for meta_i, _ in _shard_metas(d):
        entry = {
            "npy": f"{shard_stem(meta_i['shard'])}.npy",
            "json": f"{shard_stem(meta_i['shard'])}.json",
            "n_tokens": meta_i["n_tokens"],
            "n_windows": len(meta_i["windows"]),
        }
        for key in ("npy_bytes", "npy_checksum"):
            if key in meta_i:
                entry[key] = meta_i[key]
        shards.append(entry)
        total += meta_i["n_tokens"]
    record = dict(meta)
    record.update({"shards": shards, "total_tokens": total, "dtype": "float16"})
    write_text(d / MANIFEST, json.dumps(record, indent=1) + "\n")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.exists():
        raise InputError(
            "activation manifest missing (sample unfinished?).",
            path=path,
            fix="rerun `dnalens sample` for this genome and layer.",
        )
    return json.loads(path.read_text())


def _shard_metas(d: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    for js in sorted(d.glob("shard-*.json")):
        npy = js.with_suffix(".npy")
        if not npy.exists():
            continue
        meta = json.loads(js.read_text())
        yield meta, npy


def shard_problem(directory: str | Path, meta: dict[str, Any], verify: bool) -> str | None:
    """What is wrong with the .npy of the shard whose JSON is `meta` (None: it matches).

    Size always, CRC-32 with `verify`; a shard written before sizes were recorded is checked
    against its own .npy header (with a one-time warning per directory)."""
    d = Path(directory)
    npy = d / f"{shard_stem(int(meta['shard']))}.npy"
    if "npy_bytes" in meta:
        return file_problem(npy, meta["npy_bytes"], meta.get("npy_checksum"), verify)
    if str(d) not in _WARNED_LEGACY:
        _WARNED_LEGACY.add(str(d))
        log.warning(
            "activation shards in %s carry no size/checksum (written by an older dnalens): only their"
            " .npy headers can be checked; rerun extraction to record them",
            d,
        )
    if not npy.is_file():
        return "file is missing"
    size = npy_expected_bytes(npy)
    if size is None:
        return "unreadable .npy header"
    return file_problem(npy, size, None, verify=False)


def corrupt_shard_error(directory: str | Path, meta: dict[str, Any], problem: str) -> InputError:
    """The one error a reader raises for a bad shard: the file, what is wrong, how to re-make it."""
    d = Path(directory)
    idx = int(meta["shard"])

    marker = owning_marker(d.parent, idx, int(meta.get("n_shards") or 0))
    if marker is not None:
        fix = (
            f"delete the sample part marker {marker} and rerun the workflow: that sample part verifies its"
            " shards on resume, re-makes this one and the gather rewrites the manifest."
        )
    else:
        fix = (
            "rerun the workflow (or `dnalens sample` with the same settings): the sample part verifies its"
            f" shards on resume and re-makes this one; if its part marker exists, delete it first (or delete {d})."
        )
    return InputError(f"activation shard {idx} is corrupt ({problem}).", path=d / f"{shard_stem(idx)}.npy", fix=fix)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            "activation shard marker is missing.",
            path=path,
            fix="rerun the workflow: the sample part re-makes the shard.",
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"activation shard marker is not valid JSON ({exc}).",
            path=path,
            fix="delete it and rerun the workflow: the sample part re-makes the shard.",
        ) from None


def iter_shards(directory: str | Path, verify: bool = False) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(shard meta, memory-mapped float16 array [n_tokens, d]) for every complete shard, in order.

    Each .npy's size is compared with its JSON before it is mapped (and its CRC-32 with `verify`);
    a bad shard raises InputError naming the file, instead of a numpy error in a later stage."""
    d = Path(directory)
    if (d / MANIFEST).exists():
        entries = read_manifest(d)["shards"]
        pairs = [(d / e["json"], d / e["npy"]) for e in entries]
        n_shards = len(pairs)  # the whole plan: names the part marker that owns a bad shard
    else:
        pairs = [(js, npy) for js in sorted(d.glob("shard-*.json")) if (npy := js.with_suffix(".npy")).exists()]
        n_shards = 0
    for js, npy in pairs:
        meta = _load_json(js)
        problem = shard_problem(d, meta, verify)
        if problem is not None:
            raise corrupt_shard_error(d, dict(meta, n_shards=n_shards), problem)
        try:
            array = np.load(npy, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise corrupt_shard_error(d, dict(meta, n_shards=n_shards), f"numpy cannot read it: {exc}") from None
        yield meta, array


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


def part_shards(n_shards: int, part: int | None, parts: int) -> list[int]:
    """Shard indices of scatter part `part` of `parts` (contiguous blocks); all when part is None."""
    if part is None:
        return list(range(n_shards))
    if not 0 <= part < parts:
        raise InputError(f"scatter part {part} is outside 0..{parts - 1}.")
    bounds = np.linspace(0, n_shards, parts + 1).round().astype(int)
    return list(range(bounds[part], bounds[part + 1]))


def owning_marker(out_root: str | Path, idx: int, n_shards: int) -> Path | None:
    """The `--done` marker (out_root/parts/part-<i>.json, the workflow's layout) of the part that computes
    shard `idx`, or None: deleting it makes the workflow rerun that part, whose resume re-makes the shard."""
    for marker in sorted(Path(out_root).glob("parts/part-*.json")):
        try:
            info = json.loads(marker.read_text())
            if idx in part_shards(n_shards, int(info["part"]), int(info["parts"])):
                return marker
        except (ValueError, KeyError, TypeError, InputError):
            continue
    return None
