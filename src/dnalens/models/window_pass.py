"""Running the model over windows: the one piece the SAE sample and the genome-wide encode both call.

A pass over a genome's windows is cut into a fixed shard plan (`plan_shards`: whole windows, closed once a
shard holds `extract.shard_tokens` kept tokens), so a shard is the unit of resuming, scattering and reuse:
shard i of the dense sample and code shard i of the encode cover the same windows when the plan's inputs
(model, layer, trims, shard size, windows.bed bytes: the `fingerprint`) agree. `pass_shard` runs one
shard's windows through the model in batches and hands each batch's kept rows (trimmed, strand-pooled by
the adapter's `pooled_rows`, rounded through float16 like a stored shard) to the caller's step: the
sample writes them to a dense shard, the encode runs the SAE on them on the model's device.

Faults: CUDA out of memory halves the batch (windows, or tokens with `token_batches`) and reruns it, step
included (dnalens.oom); SIGTERM stops before a batch (dnalens.preemption), so the shard in flight is dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np

from dnalens import preemption
from dnalens.errors import InputError
from dnalens.formats.window_table import window_sequence
from dnalens.oom import HalvingBatch
from dnalens.settings import schema_defaults

T = TypeVar("T")
_DEFAULTS = schema_defaults("extract")  # every default: workflow/schemas/config.schema.yaml

#: a batch's rows: window sequences -> {layer: kept rows [n, d]}, n = the windows' kept tokens
BatchRows = Callable[[list[str]], Mapping[str, Any]]


@dataclass(frozen=True)
class ExtractSettings:
    """The config's `extract:` block: how the model runs over windows (the sample's layers and dense twin,
    the shard plan, threads, the encode's token batches); see the schema for every key."""

    layers: tuple[str, ...] = _DEFAULTS["layers"]
    shard_tokens: int = _DEFAULTS["shard_tokens"]
    dense_twin: bool = _DEFAULTS["dense_twin"]
    threads: int = _DEFAULTS["threads"]
    batch_tokens: int = _DEFAULTS["batch_tokens"]
    sample_coverage: float = _DEFAULTS["sample_coverage"]


def trims(spec) -> tuple[int, int]:
    """Positions dropped at the start (and, with rc_pool, the end: the start of the reverse pass)."""
    return int(spec.trim), int(spec.trim) if spec.rc_pool != "none" else 0


def kept_tokens(length: int, trim: tuple[int, int]) -> int:
    """Tokens a window of `length` nt keeps after the model's trims (none when it is shorter than them)."""
    return max(0, int(length) - trim[0] - trim[1])


def token_offsets(lengths: Sequence[int], trim: tuple[int, int]) -> np.ndarray:
    """Row offset of each window's first kept token within a shard, plus the total: [0, n1, n1 + n2, ...]."""
    return np.concatenate([[0], np.cumsum([kept_tokens(n, trim) for n in lengths])]).astype(np.int64)


def plan_shards(lengths: Sequence[int], shard_tokens: int, trim: tuple[int, int]) -> list[list[int]]:
    """Window rows per shard: whole windows, closed once a shard holds >= shard_tokens kept tokens."""
    shards, current, size = [], [], 0
    for row, n in enumerate(lengths):
        current.append(row)
        size += kept_tokens(n, trim)
        if size >= shard_tokens:
            shards.append(current)
            current, size = [], 0
    if current or not shards:
        shards.append(current)
    return shards


def fingerprint(
    spec_dict: dict[str, Any], layer: str, trim: tuple[int, int], windows_bed: Path, shard_tokens: int
) -> str:
    """What a shard's rows depend on (model spec, layer, trims, shard size, windows.bed bytes), hashed: a shard
    with another fingerprint is stale, and a dense shard with this one can stand in for a recomputed one."""
    h = hashlib.sha256()
    h.update(json.dumps([spec_dict, layer, list(trim), shard_tokens], sort_keys=True).encode())
    h.update(windows_bed.read_bytes())
    return h.hexdigest()[:16]


def token_batches(lengths: Sequence[int], batch_tokens: int) -> list[tuple[int, int]]:
    """(start, end) ranges of consecutive windows whose padded size (count x longest) stays within
    `batch_tokens`; a window longer than the budget is a batch of its own."""
    out, start, longest = [], 0, 0
    for i, n in enumerate(lengths):
        wider = max(longest, int(n))
        if i > start and wider * (i - start + 1) > batch_tokens:
            out.append((start, i))
            start, wider = i, int(n)
        longest = wider
    if start < len(lengths):
        out.append((start, len(lengths)))
    return out


def kept_rows(rows: Sequence[Any], trim: tuple[int, int]):
    """Each window's rows (tensors or arrays [len, d], read order) without its trims, concatenated [n, d] and
    rounded to float16 as a stored shard holds them (a torch tensor where the rows are; a window shorter than
    the trims keeps none)."""
    import torch

    rows = [r if isinstance(r, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(r)) for r in rows]
    return torch.cat([r[trim[0] : max(trim[0], r.shape[0] - trim[1])] for r in rows]).half()


def device_rows(adapter, seqs: Sequence[str], layer: str, trim: tuple[int, int]):
    """Kept rows of `seqs` at `layer` on the model's device, float32 rounded through float16 (what an SAE
    reads of a stored shard); one forward pass, and the reverse-complement pass only when the batch does not
    hold every window's other strand (models.base.rc_partners)."""
    return kept_rows(adapter.pooled_rows(seqs, [layer], trim)[layer], trim).float()


def host_rows(adapter, seqs: Sequence[str], layers: Sequence[str], trim: tuple[int, int]) -> dict[str, np.ndarray]:
    """Kept rows of `seqs` per layer as float16 arrays on the host (a dense shard's bytes), through the
    adapter's public `activations` (the same pooled rows as `device_rows`, moved to the host)."""
    acts = adapter.activations(seqs, layers, trim)
    return {layer: kept_rows(acts[layer], trim).cpu().numpy() for layer in layers}


def batch_end(lengths: Sequence[int], start: int, size: int, by_tokens: bool) -> int:
    """End of the batch that starts at window `start`: `size` windows, or (by_tokens) the consecutive
    windows whose padded size stays within `size` tokens."""
    if by_tokens:
        return start + token_batches(lengths[start:], size)[0][1]
    return min(len(lengths), start + size)


def pass_shard(
    fasta,
    windows: Sequence,
    rows: Sequence[int],
    trim: tuple[int, int],
    batch_rows: BatchRows,
    step: Callable[[Mapping[str, Any], int, int], T],
    *,
    budget: HalvingBatch,
    by_tokens: bool,
    too_big: Callable[[int, int, BaseException], BaseException],
) -> list[T]:
    """Windows `rows` (one shard; `windows`: windows.bed rows, `fasta`: an open genome) through the model in
    batches; returns step(kept rows per layer, a, b) for each batch of windows rows[a:b], in order.

    `batch_rows` runs the model (`device_rows` for one layer on the device, `host_rows` for dense shards).
    A batch is `budget.size` windows, or with `by_tokens` `budget.size` padded tokens; on CUDA out of memory
    the budget halves and the batch reruns, step included (so a step writes slices or returns its result),
    down to `budget.minimum`, then too_big(a, b, exc) is raised. A batch whose rows are not its windows'
    kept tokens (token_offsets) is one InputError."""
    lengths = [windows[r].length for r in rows]
    offsets = token_offsets(lengths, trim)
    results: list[T] = []
    start = 0
    while start < len(rows):

        def attempt(size: int, a: int = start) -> tuple[int, T]:
            preemption.check()  # before a forward pass: nothing of this shard is on disk yet
            b = batch_end(lengths, a, size, by_tokens)
            kept = batch_rows([window_sequence(fasta, windows[r]) for r in rows[a:b]])
            for x in kept.values():
                if x.shape[0] != offsets[b] - offsets[a]:
                    raise InputError(
                        f"windows {rows[a]}..{rows[b - 1]} gave {x.shape[0]} rows, expected {offsets[b] - offsets[a]}.",
                        fix="check model.trim against the window length.",
                    )
            return b, step(kept, a, b)

        start, result = budget.run(
            attempt, lambda size, exc, a=start: too_big(a, batch_end(lengths, a, size, by_tokens), exc)
        )
        results.append(result)
    return results
