"""The sample stage (the SAE-training sample): sampled windows -> the window pass -> fp16 activation shards per layer.

Why a fixed shard plan (models.window_pass, shared with the encode): shard boundaries depend only on window
lengths and `shard_tokens`, so a rerun after a kill recomputes the same plan and skips every shard whose
JSON marker exists and whose .npy still matches the size and CRC-32 in it (a truncated or altered shard is
deleted and re-made). Memory is bounded by one shard per layer plus one batch. All layers come out of the
same forward pass. A shard written by a different model/layer/trim (fingerprint mismatch) is stale and
removed. The gather checks the shards the parts wrote the same way before writing the manifests.
Faults: CUDA out-of-memory halves the batch of windows (dnalens.oom); SIGTERM stops between forward
passes, dropping the shard in flight (dnalens.preemption), so a rerun resumes at the last complete shard.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens import preemption
from dnalens.errors import InputError
from dnalens.formats.activation_shards import (
    owning_marker,
    part_shards,
    shard_complete,
    shard_problem,
    shard_stem,
    write_manifest,
    write_shard,
)
from dnalens.models.window_pass import (
    ExtractSettings,
    fingerprint,
    host_rows,
    pass_shard,
    plan_shards,
    token_offsets,
    trims,
)
from dnalens.oom import HalvingBatch, oom_error

log = logging.getLogger(__name__)


def _drop_stale(directory: Path, fp: str, keep: set[int]) -> None:
    for js in sorted(directory.glob("shard-*.json")):
        try:
            meta = json.loads(js.read_text())
            stale = meta.get("fingerprint") != fp or meta.get("shard") not in keep
        except json.JSONDecodeError:
            stale = True
        if stale:
            log.warning("removing stale shard %s (different model, layer, trim or windows)", js)
            js.unlink()
            js.with_suffix(".npy").unlink(missing_ok=True)
    (directory / "manifest.json").unlink(missing_ok=True)  # rewritten when every shard is done


def _drop_corrupt(directory: Path, indices: Sequence[int]) -> None:
    """Resume check: delete shards of `indices` whose .npy no longer matches its JSON (size and CRC-32),
    so this call re-makes them instead of a later stage failing on them."""
    for idx in indices:
        js, npy = directory / f"{shard_stem(idx)}.json", directory / f"{shard_stem(idx)}.npy"
        if not (js.exists() and npy.exists()):
            continue
        problem = shard_problem(directory, json.loads(js.read_text()), verify=True)
        if problem is not None:
            log.warning("re-making activation shard %s: %s", npy, problem)
            js.unlink()  # the marker first: a kill in between leaves an ordinary unfinished shard
            npy.unlink(missing_ok=True)


def _check_gathered(dirs: dict[str, Path], n_shards: int, skip: set[int], out_root: Path) -> None:
    """Gather check: every shard not verified by this call must match its JSON (size and CRC-32). Bad shards
    and the markers of the parts owning them are deleted, so rerunning the workflow re-makes them."""
    bad = []
    for layer, d in dirs.items():
        for idx in range(n_shards):
            if idx not in skip:
                problem = shard_problem(d, json.loads((d / f"{shard_stem(idx)}.json").read_text()), verify=True)
                if problem is not None:
                    bad.append((d / f"{shard_stem(idx)}.npy", idx, problem))
    if not bad:
        return
    markers = {m for _, idx, _ in bad if (m := owning_marker(out_root, idx, n_shards)) is not None}
    for npy, _, _ in bad:
        npy.with_suffix(".json").unlink(missing_ok=True)
        npy.unlink(missing_ok=True)
    for marker in markers:
        marker.unlink(missing_ok=True)
    npy, idx, problem = bad[0]
    removed = f"; removed it and part marker(s) {', '.join(sorted(map(str, markers)))}" if markers else "; removed it"
    raise InputError(
        f"{len(bad)} activation shard(s) corrupt, first: shard {idx} ({problem}){removed}.",
        path=npy,
        fix="rerun the workflow: the sample part re-makes the shard(s)"
        if markers
        else "rerun the sample part that computes this shard (`dnalens sample --part`), then gather again.",
    )


def run_sample(
    fasta: str | Path,
    windows_bed: str | Path,
    model_spec,
    settings: ExtractSettings,
    out_root: str | Path,
    adapter=None,
    part: int | None = None,
    parts: int = 1,
    finalize: bool = True,
    compute: bool = True,
) -> dict[str, Path]:
    """Capture every configured layer (extract.layers) into out_root/<layer>/; returns {layer: directory}.

    Scatter/gather: with `part`/`parts`, only that block of shards is computed (finalize=False), and a
    gather call (compute=False) checks every shard exists and writes the manifests.
    """
    from tqdm import tqdm

    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, parse_spec

    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    spec = parse_spec(model_spec)
    if not settings.layers:
        raise InputError("extract.layers is empty.", fix="list at least one module path, e.g. blocks.5.")
    windows_bed = Path(windows_bed)
    windows = read_windows_bed(windows_bed)
    trim = trims(spec)
    spec_dict = asdict(spec)
    plan = plan_shards([w.length for w in windows], settings.shard_tokens, trim)
    mine = part_shards(len(plan), part, parts) if compute else []
    dirs = {layer: Path(out_root) / layer for layer in settings.layers}
    fps = {layer: fingerprint(spec_dict, layer, trim, windows_bed, settings.shard_tokens) for layer in settings.layers}
    for layer, d in dirs.items():  # layer directories appear with their first shard (none on bad input)
        _drop_stale(d, fps[layer], keep=set(range(len(plan))))
        _drop_corrupt(d, mine)
    todo = [i for i in mine if not all(shard_complete(dirs[l], i) for l in settings.layers)]
    log.info("%d windows in %d shards; this call: %d shard(s), %d to do", len(windows), len(plan), len(mine), len(todo))
    if todo:
        adapter = adapter or load_model(spec)
        for layer in settings.layers:
            adapter.module_path(layer)  # an unknown layer fails before any work
        fasta_handle = open_fasta(fasta)
        total = sum(len(plan[i]) for i in mine)
        batch = HalvingBatch(adapter.spec.batch_size, what="sample batch (windows)")
        with (
            tqdm(
                total=total,
                initial=total - sum(len(plan[i]) for i in todo),
                desc="sample",
                unit="win",
                file=sys.stderr,
                mininterval=5.0,
            ) as bar,
            preemption.at_safe_points(),
        ):
            for done, idx in enumerate(todo):  # SIGTERM: the shard in flight is dropped, finished ones kept
                preemption.progress(f"after {len(mine) - len(todo) + done} of {len(mine)} shard(s) of this call")
                _sample_shard(
                    adapter,
                    fasta_handle,
                    windows,
                    plan[idx],
                    idx,
                    settings.layers,
                    dirs,
                    trim,
                    spec_dict,
                    fps,
                    bar,
                    batch,
                )
    if not finalize:
        return dirs
    missing = [i for i in range(len(plan)) if not all(shard_complete(dirs[l], i) for l in settings.layers)]
    if missing:
        raise InputError(
            f"{len(missing)} activation shard(s) missing (first: {missing[0]}).",
            path=out_root,
            fix="run every sample part before finalizing.",
        )
    _check_gathered(dirs, len(plan), set(mine), Path(out_root))
    for layer, d in dirs.items():
        meta = {
            "layer": layer,
            "model": spec_dict,
            "trim_start": trim[0],
            "trim_end": trim[1],
            "n_windows": len(windows),
            "windows_bed": str(windows_bed),
            "fingerprint": fps[layer],
        }
        write_manifest(d, meta)
        if settings.dense_twin:
            write_dense_twin(d)
    return dirs


def _sample_shard(
    adapter, fasta, windows, rows, idx, layers, dirs, trim, spec_dict, fps, bar, batch: HalvingBatch
) -> None:
    """One shard through the window pass (models.window_pass), in batches of `batch.size` windows (halved on
    CUDA out-of-memory: each window's activations come from its own sequence only, so the batch size does not
    change them); the step copies each batch's float16 rows into the shard's arrays."""
    offsets = token_offsets([windows[r].length for r in rows], trim)
    arrays: dict[str, np.ndarray] = {}

    def store(kept, a: int, b: int) -> None:  # rerun on a halved batch: writes slices, so harmless
        for layer, x in kept.items():
            if layer not in arrays:
                arrays[layer] = np.empty((int(offsets[-1]), x.shape[1]), dtype=np.float16)
            arrays[layer][offsets[a] : offsets[b]] = x
        bar.update(b - a)

    def too_big(start: int, end: int, exc: BaseException) -> BaseException:
        longest = max(windows[r].length for r in rows[start:end])
        return oom_error(
            f"one window of {longest:,} nt (shard {idx}, windows.bed row {rows[start]})",
            exc,
            halved_from=batch.initial,
            fix="use shorter windows (windows.length), a GPU with more memory, or a smaller model.",
        )

    pass_shard(  # a SIGTERM during the last pass: this shard is still written
        fasta,
        windows,
        rows,
        trim,
        lambda seqs: host_rows(adapter, seqs, layers, trim),
        store,
        budget=batch,
        by_tokens=False,
        too_big=too_big,
    )
    for layer in layers:
        array = arrays.get(layer, np.zeros((0, adapter.d_model(layer)), np.float16))
        write_shard(
            dirs[layer],
            idx,
            array,
            rows,
            offsets.tolist(),
            {"layer": layer, "model": spec_dict, "trim_start": trim[0], "trim_end": trim[1], "fingerprint": fps[layer]},
        )


def write_dense_twin(directory: Path) -> Path:
    """One contiguous fp16 `dense.npy` [total_tokens, d] streamed from the shards (atomic)."""
    from dnalens.atomic import atomic_path, reserve
    from dnalens.formats.activation_shards import iter_shards, read_manifest

    manifest = read_manifest(directory)
    shards = list(iter_shards(directory))
    d = shards[0][1].shape[1] if shards else 0
    target = directory / "dense.npy"
    with atomic_path(target) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(manifest["total_tokens"], d))
        reserve(tmp)  # a full disk is one DiskFullError here, not SIGBUS while writing through the map
        pos = 0
        for _, arr in shards:
            out[pos : pos + arr.shape[0]] = arr
            pos += arr.shape[0]
        out.flush()
        del out
    return target


def publish_layers(dirs: dict[str, Path], dest: str | Path) -> dict[str, Path]:
    """Move finished layer directories (manifest written) into `dest`, replaced as a whole: the workflow's
    temp() activations output, so the dense sample leaves the disk with its last reader. A rename, no copy."""
    import os

    from dnalens.atomic import atomic_dir

    dest = Path(dest)
    with atomic_dir(dest) as tmp:
        for layer, d in dirs.items():
            os.replace(d, tmp / layer)
    return {layer: dest / layer for layer in dirs}
