"""The genome-wide encode: every window -> the window pass (models.window_pass) -> SAE on the model's device ->
sparse code shards; no dense shard is written.

Why: a dense fp16 shard costs d x 2 bytes per token (Evo 2 7B: 8 KB), sparse codes about k x 4. The SAE
is trained on a seeded sample of windows (dnalens.sample), then every window of the genome is read once
more with the SAE as the step on each batch's rows, and only the non-zero codes cross to the host.

Same bytes as the stored path: the window pass rounds the rows through float16 on the device (as a stored
shard would be) before the SAE reads them, shards follow the same plan (`plan_shards`, so code shard i
covers the windows activation shard i would), and each part writes what `dnalens encode --part`
writes. Memory on the device: one batch of `batch_tokens` tokens and its dense codes; on CUDA out of
memory the budget halves (dnalens.oom, kept for the rest of the part) down to one window, then one error
names the window length and the memory needed. SIGTERM stops between token batches: the finished shards
are kept (sae/encode_resume.py) and a rerun or requeued job encodes only the rest.

Recompute or store: a shard the dense sample already holds (same model, layer, trims and windows: the
sample is the whole genome, as on small genomes) is encoded from the stored rows instead of being run
through the model again; every other shard is recomputed. See benchmarks/README.md for the costs.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnalens import preemption
from dnalens.errors import InputError
from dnalens.formats.activation_shards import part_shards
from dnalens.models.window_pass import (
    ExtractSettings,
    device_rows,
    fingerprint,
    pass_shard,
    plan_shards,
    token_offsets,
    trims,
)
from dnalens.oom import HalvingBatch, oom_error

log = logging.getLogger(__name__)


def encode_windows(
    adapter,
    sae,
    fasta,
    windows,
    rows: Sequence[int],
    layer: str,
    trim: tuple[int, int],
    budget: HalvingBatch,
    bases: np.ndarray | None = None,
):
    """Codes of the kept tokens of windows `rows` (one shard) as CSR arrays, and the values clipped to float16:
    the window pass in token batches of `budget.size` (halved on CUDA out of memory, shared by the shards of
    one call) with the SAE encode as its step; `bases`: the shard's lookup codes (sae.row_bases) for an SAE
    with a per-w-mer decoder bias."""
    from dnalens.formats.codes import CsrArrays
    from dnalens.sae.encode import encode_shard

    offsets = token_offsets([windows[r].length for r in rows], trim)

    def encode(kept, a: int, b: int):
        x, lo, hi = kept[layer], int(offsets[a]), int(offsets[b])
        bounds = (offsets[a : b + 1] - lo).tolist()
        return encode_shard(sae, x, bounds, device=x.device, bases=None if bases is None else bases[lo:hi])

    def too_big(a: int, b: int, exc: BaseException) -> BaseException:
        return oom_error(
            f"one window of {windows[rows[a]].length:,} nt through the model and the SAE (batch budget halved "
            f"from {budget.initial:,} tokens)",
            exc,
            fix="use a GPU with more memory, shorter windows (windows.length), or model.device: cpu.",
        )

    pieces = pass_shard(
        fasta,
        windows,
        rows,
        trim,
        lambda seqs: {layer: device_rows(adapter, seqs, layer, trim)},  # this module's name: tests swap it
        encode,
        budget=budget,
        by_tokens=True,
        too_big=too_big,
    )
    return CsrArrays.concat([csr for csr, _ in pieces], sae.d_sae), sum(n for _, n in pieces)


def stored_shards(activations: str | Path | None, fp: str) -> dict[int, tuple]:
    """{shard index: (meta, memory-mapped rows)} of a finished dense directory with this fingerprint (same
    model, layer, trims, shard size and windows.bed bytes: a sample that is the whole genome); else {}."""
    from dnalens.formats.activation_shards import MANIFEST, iter_shards, read_manifest

    if not activations or not (Path(activations) / MANIFEST).is_file():
        return {}
    if read_manifest(activations).get("fingerprint") != fp:
        return {}
    return {int(meta["shard"]): (meta, array) for meta, array in iter_shards(activations)}


def _holds(stored: dict[int, tuple], idx: int, rows: Sequence[int]) -> bool:
    """Whether the stored dense shard `idx` holds exactly these windows."""
    return idx in stored and [int(w) for w in stored[idx][0]["windows"]] == [int(r) for r in rows]


def _reuse(stored: dict[int, tuple], idx: int, rows: Sequence[int], activations):
    """The stored rows of shard `idx` when they hold exactly these windows (size and CRC-32 checked), else None."""
    from dnalens.formats.activation_shards import corrupt_shard_error, shard_problem

    if not _holds(stored, idx, rows):
        return None
    meta, array = stored[idx]
    problem = shard_problem(activations, meta, verify=True)
    if problem is not None:
        raise corrupt_shard_error(activations, meta, problem)
    return array


def run_fused(
    fasta: str | Path,
    windows_bed: str | Path,
    model_spec,
    sae_path: str | Path,
    layer: str,
    settings: ExtractSettings,
    out: str | Path,
    *,
    k: int | None = None,
    part: int | None = None,
    parts: int = 1,
    adapter=None,
    sae=None,
    activations: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Write the codes directory `out` (as a whole, atomically) for the shards of scatter part `part`:
    what `dnalens encode --part` writes from stored activations, without them (`activations`: the dense
    sample's layer directory, whose shards are reused where they are the very same windows)."""
    from dataclasses import asdict

    from tqdm import tqdm

    from dnalens.atomic import atomic_dir
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, parse_spec
    from dnalens.sae.encode import encode_shard, shard_entry, write_code_shard, write_codes_manifest
    from dnalens.sae.encode_resume import KeptShards, sae_identity
    from dnalens.sae.io import load_sae
    from dnalens.sae.row_bases import shard_row_bases
    from dnalens.sae.strand_shared import StrandSharedSAE

    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    spec = parse_spec(model_spec)
    windows = read_windows_bed(windows_bed)
    trim = trims(spec)
    plan = plan_shards([w.length for w in windows], settings.shard_tokens, trim)
    mine = part_shards(len(plan), part, parts)
    fa = open_fasta(fasta)
    fp = fingerprint(asdict(spec), layer, trim, Path(windows_bed), settings.shard_tokens)
    stored = stored_shards(activations, fp)
    recompute = [i for i in mine if not _holds(stored, i, plan[i])]
    if recompute or not mine:  # the model is loaded only when some shard must be run through it
        adapter = adapter or load_model(spec)
        adapter.module_path(layer)  # an unknown layer fails before any work
        device, width = adapter.device, adapter.d_model(layer)
    else:
        import torch

        from dnalens.devices import resolve_device

        device, width = torch.device(resolve_device(spec.device, what="model.device")), stored[mine[0]][1].shape[1]
    sae = (sae or load_sae(sae_path, k=k)).to(device).eval()
    if isinstance(sae, StrandSharedSAE) and spec.rc_pool != "concat":
        raise InputError(
            f"a strand-shared SAE needs model.rc_pool: concat, not {spec.rc_pool!r}.",
            path=sae_path,
            fix="set model.rc_pool: concat, or use an SAE of one strand pass.",
        )
    if width != sae.d_in:
        raise InputError(
            f"layer {layer} has width {width} but the SAE expects d_in={sae.d_in}.",
            path=sae_path,
            fix="use the SAE trained for this model and layer.",
        )
    reused = 0
    shards: list[dict] = []
    budget = HalvingBatch(
        settings.batch_tokens, minimum=max((w.length for w in windows), default=1), what="encode batch (tokens)"
    )
    kept_shards, finished = KeptShards(out, lambda: sae_identity(sae, str(device))), []
    with (
        atomic_dir(out) as tmp,
        preemption.at_safe_points(),
        tqdm(
            total=sum(len(plan[i]) for i in mine),
            desc="encode",
            unit="win",
            file=sys.stderr,
            disable=not progress,
            mininterval=5.0,
        ) as bar,
    ):
        try:
            for idx in mine:
                preemption.progress(f"after {len(shards)} of {len(mine)} shard(s) of this part")
                preemption.check()
                rows = plan[idx]
                stem, source = f"shard-{idx:05d}", f"{fp}:{','.join(map(str, rows))}"
                record = kept_shards.take(stem, source, tmp)
                if record is not None:  # finished before a SIGTERM stopped an earlier run of this part
                    shards.append(shard_entry(record))
                    finished.append((stem, source))
                    bar.update(len(rows))
                    continue
                meta = {
                    "shard": idx,
                    "windows": [int(r) for r in rows],
                    "layer": layer,
                    "trim_start": trim[0],
                    "trim_end": trim[1],
                }
                offsets = token_offsets([windows[r].length for r in rows], trim)
                meta["offsets"] = offsets.tolist()
                bases = shard_row_bases(meta, windows, fa, sae.lookup_context) if sae.lookup_context else None
                array = _reuse(stored, idx, rows, activations)
                if array is not None:
                    csr, clipped = encode_shard(sae, array, meta["offsets"], device=device, bases=bases)
                    reused += 1
                else:
                    csr, clipped = encode_windows(adapter, sae, fa, windows, rows, layer, trim, budget, bases)
                shards.append(write_code_shard(tmp, meta, csr, clipped, sae.d_sae))
                finished.append((stem, source))
                bar.update(len(rows))
        except preemption.Preempted:
            kept_shards.keep(tmp, finished)
            raise
        summary = write_codes_manifest(
            tmp,
            shards,
            sae,
            str(sae_path),
            layer=layer,
            trims=trim,
            extra={"fused": True, "device": str(device), "reused_dense_shards": reused},
        )
    kept_shards.clear()
    log.info(
        "%d shard(s) (%d encoded from the stored dense sample, %d recomputed), %d tokens, mean L0 %.2f",
        len(shards),
        reused,
        len(shards) - reused,
        summary["total_tokens"],
        summary["mean_l0"],
    )
    return summary
