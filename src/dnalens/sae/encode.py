"""Encode activation shards into sparse code shards (CSR, float16 values, uint16 latent indices up to 65,536 latents).

One code shard per activation shard, same windows and token offsets, so codes, activations and labels
line up row for row (window starts dropped at extraction stay dropped). A batch-level SAE (BatchTopK without a
threshold, e.g. Goodfire's) is given one window at a time: its top-k x positions budget is per sequence,
as when it was trained; a per-token SAE is given large chunks of rows (on a CPU, cache-sized pieces).

Corrupt inputs and outputs: each activation shard this call encodes is checked against its JSON (size and
CRC-32) first, and each code shard's JSON records its three files' bytes and CRC-32 (`files`), which the
gather (`sae/parts.py`) compares before linking.
SIGTERM stops between shards; the finished ones are kept for the next call (encode_resume.py).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dnalens import preemption
from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.formats.activation_shards import (
    corrupt_shard_error,
    file_record,
    iter_shards,
    read_manifest,
    shard_problem,
)
from dnalens.formats.codes import CODES_MANIFEST, CsrArrays, csr_paths, index_dtype, to_fp16, write_csr
from dnalens.oom import HalvingBatch, oom_error
from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.encode_resume import KeptShards, sae_identity
from dnalens.sae.topk import TopKSAE, topk_picks

log = logging.getLogger(__name__)
_MAX_CHUNK_ELEMENTS = 1 << 25  # dense codes per chunk: 128 MB of float32
_CPU_PIECE_ELEMENTS, _CPU_MIN_ROWS = 1 << 19, 512  # 2 MB of float32 pre-activations; rows per read of W_enc


def _windows(offsets: list[int]) -> list[tuple[int, int]]:
    """(start, end) rows of each non-empty window of a shard: a batch-level SAE's unit of encoding."""
    return [(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:]) if b > a]


def _nonzeros(codes: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-row counts, column indices, values) of a dense code block, row-major, found on its device
    so only the non-zeros cross to the host (a GPU block of 32,768 latents is mostly zeros)."""
    nz = codes.nonzero()
    counts = torch.bincount(nz[:, 0], minlength=codes.shape[0])
    values = codes[nz[:, 0], nz[:, 1]]
    # 2 bytes per index cross to the host: int16 bits, read back as uint16 (two's-complement wrap, no overflow)
    index = torch.int16 if codes.shape[1] <= 1 << 16 else torch.int32
    return (
        counts.cpu().numpy(),
        nz[:, 1].to(index).cpu().numpy().view(index_dtype(codes.shape[1])),
        values.float().cpu().numpy(),
    )


def _topk_packed(sae, x: torch.Tensor, bases: torch.Tensor | None) -> torch.Tensor:
    """A plain TopK SAE's k picks per row (sae.topk.topk_picks) as [2, n, k] int32 on x's device: columns
    ascending, then the bits of their ReLU'd float32 values. No dense [n, d_sae] block is scattered and
    scanned, and the picks of all chunks cross to the host in one copy (`_unpack_picks`)."""
    cols, vals = topk_picks(sae.pre_activations(x, bases), sae.k)
    return torch.stack([cols.to(torch.int32), vals.relu().float().view(torch.int32)])


def _unpack_picks(host: np.ndarray, d_sae: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_nonzeros(sae.encode(x))` from `_topk_packed` on the host: the ReLU zeros dropped, row-major."""
    cols, vals = host[0], host[1].view(np.float32)
    keep = vals != 0
    return np.count_nonzero(keep, axis=1), cols[keep].astype(index_dtype(d_sae)), vals[keep]


def _topk_nonzeros(sae, x: torch.Tensor, bases: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_nonzeros(sae.encode(x))` for a plain TopK SAE, from its k picks per row."""
    return _unpack_picks(_topk_packed(sae, x, bases).cpu().numpy(), sae.d_sae)


def _cache_pieces(a: int, b: int, d_sae: int, device: torch.device) -> list[tuple[int, int]]:
    """Rows a:b in pieces whose pre-activations stay in a CPU's cache between the matmul and the top-k
    (512 rows of 1,024 latents: the encode a third faster than one block); one piece on a GPU. No piece
    of one row: a one-row matmul takes another kernel (gemv) whose sums may differ in the last bit."""
    if device.type != "cpu":
        return [(a, b)]
    step = max(_CPU_MIN_ROWS, _CPU_PIECE_ELEMENTS // max(1, d_sae))
    bounds = [*range(a, b, step), b]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return list(zip(bounds[:-1], bounds[1:]))


def _rows(array, a: int, b: int, device: torch.device) -> torch.Tensor:
    """Rows a:b as float32 on `device`: a slice of a device tensor (fused path) or of a numpy/memory map."""
    if isinstance(array, torch.Tensor):
        return array[a:b].to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.asarray(array[a:b], dtype=np.float32)).to(device)


@torch.no_grad()
def encode_shard(
    sae: SparseAutoencoder,
    array,
    offsets: list[int],
    *,
    device: torch.device,
    bases: np.ndarray | None = None,
    batch: HalvingBatch | None = None,
) -> tuple[CsrArrays, int]:
    """Codes of one activation shard (numpy [n, d], or a tensor already on `device`) as CSR arrays, and
    how many values were clipped to float16 (`bases`: [n_rows] lookup codes, sae.row_bases, for an SAE
    with a per-w-mer decoder bias).

    CUDA out-of-memory halves the rows per chunk (`batch`, kept across shards; rows are encoded
    independently, so the codes do not change); a batch-level SAE's unit is one window, never split."""
    n = int(array.shape[0])
    topk = type(sae) is TopKSAE
    found: list[tuple[int, int, Any]] = []  # per piece: rows, then TopK's packed picks (on the device) or nonzeros

    def piece(a: int, b: int) -> tuple[int, int, Any]:
        x = _rows(array, a, b, device)
        b_rows = None if bases is None else torch.from_numpy(np.asarray(bases[a:b])).to(device)
        return a, b, _topk_packed(sae, x, b_rows) if topk else _nonzeros(sae.encode(x, b_rows))

    def run(a: int, b: int) -> None:  # kept only once all pieces are done: a chunk retried after OOM counts once
        found.extend([piece(lo, hi) for lo, hi in _cache_pieces(a, b, sae.d_sae, device)])

    fix = "use a GPU with more memory or sae.device: cpu"
    if sae.batch_dependent:  # top k x positions over one window: the window is the smallest unit
        windows = _windows(offsets)
        one = HalvingBatch(1, what="encode window")
        one.chunks(
            len(windows),
            lambda i, j: found.append(piece(*windows[i])),
            lambda i, j, exc: oom_error(
                f"one window of {windows[i][1] - windows[i][0]:,} rows (a batch-level SAE encodes a window at once)",
                exc,
                fix=f"{fix}, or use shorter windows (windows.length).",
            ),
        )
    else:
        batch = batch or HalvingBatch(max(1, _MAX_CHUNK_ELEMENTS // sae.d_sae), what="encode chunk (rows)")
        batch.chunks(
            n,
            run,
            lambda a, b, exc: oom_error(
                f"{b - a} row(s) x {sae.d_sae:,} latents", exc, halved_from=batch.initial, fix=f"{fix}."
            ),
        )
    if topk and found:  # the chunks cover rows 0..n in order; one device->host copy (one sync on a GPU)
        found = [(0, n, _unpack_picks(torch.cat([f[2] for f in found], dim=1).cpu().numpy(), sae.d_sae))]
    counts = np.zeros(n, dtype=np.int64)
    for a, b, (row_counts, _, _) in found:
        counts[a:b] = row_counts
    cols = [f[2][1] for f in found]
    vals = [f[2][2] for f in found]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    values, clipped = to_fp16(np.concatenate(vals) if vals else np.zeros(0, np.float32))
    indices = np.concatenate(cols) if cols else np.zeros(0, index_dtype(sae.d_sae))
    return CsrArrays(indptr, indices, values, sae.d_sae), clipped


def encode_activations(
    sae: SparseAutoencoder,
    activations: str | Path,
    out: str | Path,
    *,
    device: str = "cpu",
    sae_source: str | None = None,
    progress: bool = True,
    part: int | None = None,
    parts: int = 1,
    bases: dict[int, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write `out/` (as a whole, atomically): shard-NNNNN.{indptr,indices,values}.npy + .json, manifest.

    With `part`/`parts` only the activation shards of that scatter part are encoded (the same
    contiguous blocks `dnalens sample --part` computes); `merge_code_parts` gathers the parts.
    `bases` (row_bases.activation_row_bases) is required by an SAE with a per-w-mer decoder bias.
    """
    from tqdm.auto import tqdm

    from dnalens.formats.activation_shards import part_shards

    act_manifest = read_manifest(activations)
    n_shards = len(act_manifest.get("shards", []))
    mine = set(part_shards(n_shards, part, parts))
    torch_device = torch.device(device)
    sae = sae.to(torch_device).eval()
    shards: list[dict] = []
    batch = HalvingBatch(max(1, _MAX_CHUNK_ELEMENTS // sae.d_sae), what="encode chunk (rows)")
    kept, finished = KeptShards(out, lambda: sae_identity(sae, device)), []
    with (
        atomic_dir(out) as tmp,
        preemption.at_safe_points(),
        tqdm(
            total=len(mine), desc="encode", unit="shard", file=sys.stderr, disable=not progress, mininterval=2.0
        ) as bar,
    ):
        try:
            for index, (meta, array) in enumerate(iter_shards(activations)):
                if index not in mine:
                    continue
                preemption.progress(f"after {len(shards)} of {len(mine)} shard(s) of this part")
                preemption.check()  # SIGTERM: the finished shards move to the resume directory (below)
                stem = f"shard-{int(meta['shard']):05d}"
                record = kept.take(stem, meta.get("npy_checksum"), tmp)
                if record is None:
                    entry = _encode_one(sae, activations, meta, array, n_shards, tmp, torch_device, bases, batch)
                else:
                    entry = shard_entry(record)
                finished.append((stem, meta.get("npy_checksum")))
                shards.append(entry)
                bar.update(1)
        except preemption.Preempted:
            kept.keep(tmp, finished)
            raise
        summary = write_codes_manifest(
            tmp,
            shards,
            sae,
            sae_source,
            layer=act_manifest.get("layer"),
            trims=(int(act_manifest.get("trim_start", 0)), int(act_manifest.get("trim_end", 0))),
        )
    kept.clear()
    return summary


def _encode_one(sae, activations, meta, array, n_shards, tmp, device, bases, batch) -> dict[str, Any]:
    """Encode one activation shard (checked first) into `tmp`; returns its manifest entry."""
    problem = shard_problem(activations, meta, verify=True)  # one read; encoding reads it all anyway
    if problem is not None:
        raise corrupt_shard_error(activations, dict(meta, n_shards=n_shards), problem)
    if array.shape[1] != sae.d_in:
        raise InputError(
            f"activations have width {array.shape[1]} but the SAE expects d_in={sae.d_in}.",
            path=activations,
            fix="use the SAE trained for this model and layer.",
        )
    shard_bases = None if bases is None else bases[int(meta["shard"])]
    csr, clipped = encode_shard(sae, array, list(meta["offsets"]), device=device, bases=shard_bases, batch=batch)
    return write_code_shard(tmp, meta, csr, clipped, sae.d_sae)


def write_code_shard(directory: Path, meta: dict[str, Any], csr: CsrArrays, clipped: int, n_features: int) -> dict:
    """One code shard (three .npy files, then its JSON with their bytes and CRC-32); returns its manifest entry.
    `meta` carries shard, windows, offsets, layer and trims (an activation shard's JSON, or the fused plan's)."""
    stem = f"shard-{int(meta['shard']):05d}"
    write_csr(directory, stem, csr)
    record = {
        "shard": int(meta["shard"]),
        "windows": meta["windows"],
        "offsets": meta["offsets"],
        "n_tokens": csr.n_rows,
        "n_features": n_features,
        "nnz": csr.nnz,
        "clipped": clipped,
        "layer": meta.get("layer"),
        "trim_start": int(meta.get("trim_start", 0)),
        "trim_end": int(meta.get("trim_end", 0)),
        "indices_dtype": index_dtype(n_features).name,
        "files": {path.name: file_record(path) for path in csr_paths(directory, stem).values()},
    }
    (directory / f"{stem}.json").write_text(json.dumps(record) + "\n")
    return shard_entry(record)


def shard_entry(record: dict[str, Any]) -> dict[str, Any]:
    """A code shard's manifest entry from its JSON record (written now, or kept from a stopped run)."""
    return {
        "stem": f"shard-{int(record['shard']):05d}",
        "n_tokens": record["n_tokens"],
        "nnz": record["nnz"],
        "n_windows": len(record["windows"]),
        "clipped": record["clipped"],
    }


def write_codes_manifest(
    directory: Path,
    shards: list[dict],
    sae,
    sae_source: str | None,
    *,
    layer: str | None,
    trims: tuple[int, int],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The codes directory's manifest.json (written last: its presence means every shard is done)."""
    total_tokens = sum(s["n_tokens"] for s in shards)
    total_nnz = sum(s["nnz"] for s in shards)
    total_clipped = sum(s.pop("clipped", 0) for s in shards)
    if total_clipped:
        log.warning("%d code values exceeded float16's range and were clipped to 65504", total_clipped)
    summary = {
        "format": "dnalens-codes",
        "version": 1,
        "shards": shards,
        "n_features": sae.d_sae,
        "total_tokens": total_tokens,
        "total_nnz": total_nnz,
        "clipped": total_clipped,
        "trim_start": int(trims[0]),
        "trim_end": int(trims[1]),
        "layer": layer,
        "sae": sae_source,
        # which dictionary made these codes, by content (a shared dictionary is named by its settings)
        "sae_digest": sae_identity(sae, "cpu")["weights"],
        "architecture": sae.architecture,
        "k": sae.k,
        "mean_l0": total_nnz / max(total_tokens, 1),
        "indices_dtype": index_dtype(sae.d_sae).name,
        **(extra or {}),
    }
    (directory / CODES_MANIFEST).write_text(json.dumps(summary, indent=1) + "\n")
    return summary
