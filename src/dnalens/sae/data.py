"""Which activation rows the SAE trains and is judged on: everything but a few held-out genome blocks.

The held-out part is `holdout_blocks` contiguous blocks (contigs laid end to end in windows.bed
order), each at the end of one equal slice of the genome, never random tokens, since neighbouring
nucleotides leak; both strands of a region fall on the same side. Several spread blocks, not one:
dead and dense latents are judged on a sample that looks like the genome (the chloroplast's last 10 %
is all inverted repeat, where 29 % of a healthy dictionary's latents never fire). Window starts that a model needs trimmed (Evo 2's outsized first positions)
are already absent from the shards: extraction drops them (`model.trim`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from dnalens.errors import InputError
from dnalens.formats.activation_shards import iter_shards
from dnalens.formats.window_table import Window
from dnalens.sae.sources import SampleSource, equal_shares

log = logging.getLogger(__name__)
SHUFFLE_POOL_ROWS = 1 << 17  # rows shuffled together before they are cut into batches


def holdout_mask(windows: Sequence[Window], fraction: float, blocks: int = 1) -> np.ndarray:
    """bool [n_windows]: True for windows starting in the last `fraction` of each of `blocks` equal
    slices of the genome (blocks = 1: the last `fraction` of the genome).

    With too few windows for that block, the windows at the last start are held out; when that would
    hold out everything (one region), nothing is (callers then evaluate on the training windows).
    """
    n = len(windows)
    if n == 0 or fraction <= 0:
        return np.zeros(n, dtype=bool)
    contig_end: dict[str, int] = {}
    for w in windows:
        contig_end[w.contig] = max(contig_end.get(w.contig, 0), w.end)
    offset, base = {}, 0
    for contig, end in contig_end.items():  # first-appearance order
        offset[contig] = base
        base += end
    starts = np.array([offset[w.contig] + w.start for w in windows], dtype=np.int64)
    blocks = max(int(blocks), 1)
    slice_len = base / blocks
    within = starts - np.floor(starts / slice_len) * slice_len  # position inside its slice
    held = within >= (1.0 - fraction) * slice_len
    if not held.any():
        held = starts == starts.max()
    if held.all():
        log.warning("too few windows to hold any out: SAE quality will be measured on training windows")
        held[:] = False
    return held


def evaluation_windows(held: np.ndarray) -> tuple[np.ndarray, bool]:
    """(windows to measure quality on, whether they are held out): the held-out ones, else all."""
    if held.any():
        return held, True
    return np.ones_like(held), False


def _rows_of_windows(meta: dict, use_window: np.ndarray) -> np.ndarray:
    """Row indices of one shard that belong to used windows."""
    offsets = np.asarray(meta["offsets"], dtype=np.int64)
    window_of_row = np.repeat(np.asarray(meta["windows"], dtype=np.int64), np.diff(offsets))
    if window_of_row.size and window_of_row.max() >= len(use_window):
        raise InputError(
            f"activation shard {meta.get('shard')} names window row {int(window_of_row.max())} "
            f"but windows.bed has {len(use_window)} rows.",
            fix="re-extract activations.",
        )
    return np.flatnonzero(use_window[window_of_row])


def training_batches(
    directory: str | Path,
    use_window: np.ndarray,
    *,
    batch_size: int,
    seed: int = 0,
    pool_tokens: int = SHUFFLE_POOL_ROWS,
    bases: dict[int, np.ndarray] | None = None,
    stream: int | None = None,
    read_rows: int | None = None,
) -> Iterator[torch.Tensor] | Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless float32 batches [batch_size, d] of rows from used windows, shuffled within a pool of
    ~`pool_tokens` rows, epoch after epoch (each epoch reshuffled; deterministic for a seed).

    With `bases` (row_bases.activation_row_bases) each batch is (rows, their lookup codes). `stream` (a
    genome's index in a shared dictionary's mix) gives each genome its own shuffle for the same seed.
    `read_rows` reads a shard at most that many rows at a time (None: a whole shard, which may exceed the
    pool: extract.shard_tokens rows)."""
    epoch = 0
    while True:
        rng = np.random.default_rng([int(seed), epoch] if stream is None else [int(seed), int(stream), epoch])
        pool: list[np.ndarray] = []
        pool_bases: list[np.ndarray] = []
        n_pool = 0
        emitted = 0
        for meta, array, rows in _shard_reads(directory, use_window, read_rows):
            pool.append(np.asarray(array[rows], dtype=np.float16))
            if bases is not None:
                pool_bases.append(bases[int(meta["shard"])][rows])
            n_pool += rows.size
            if n_pool >= max(pool_tokens, batch_size):
                order = rng.permutation(n_pool)
                merged = np.concatenate(pool)[order]
                merged_bases = np.concatenate(pool_bases)[order] if bases is not None else None
                full = (n_pool // batch_size) * batch_size
                for i in range(0, full, batch_size):
                    yield _batch(merged, merged_bases, i, i + batch_size)
                    emitted += 1
                pool, n_pool = [merged[full:]], n_pool - full
                pool_bases = [merged_bases[full:]] if merged_bases is not None else []
        if n_pool:
            order = rng.permutation(n_pool)
            merged = np.concatenate(pool)[order]
            merged_bases = np.concatenate(pool_bases)[order] if bases is not None else None
            for i in range(0, n_pool - batch_size + 1, batch_size):
                yield _batch(merged, merged_bases, i, i + batch_size)
                emitted += 1
            if emitted == 0:  # fewer rows than one batch in all: use what there is
                yield _batch(merged, merged_bases, 0, n_pool)
                emitted += 1
        if emitted == 0:
            raise InputError(
                "no activation rows left for SAE training after the hold-out.",
                path=directory,
                fix="lower sae.holdout_fraction.",
            )
        epoch += 1


def _shard_reads(directory, use_window: np.ndarray, read_rows: int | None):
    """(shard meta, its array, rows to read) in shard order, a shard's used rows in pieces of `read_rows`."""
    for meta, array in iter_shards(directory):
        rows = _rows_of_windows(meta, use_window)
        step = rows.size if read_rows is None else max(int(read_rows), 1)
        for r0 in range(0, rows.size, max(step, 1)):
            yield meta, array, rows[r0 : r0 + step]


def mixed_batches(
    streams: Sequence[Iterator],
) -> Iterator[torch.Tensor] | Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A shared dictionary's batches: each step takes the next batch of every genome's stream (each sized
    to an equal token share) and stacks them, so every genome weighs the same in every step however
    long its genome or its sample. One stream passes through unchanged (a one-genome run trains the same
    bytes as a per-genome SAE)."""
    if len(streams) == 1:
        yield from streams[0]
        return
    for parts in zip(*streams):
        if isinstance(parts[0], tuple):
            yield torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        else:
            yield torch.cat(list(parts))


def source_batches(
    sources: Sequence[SampleSource],
    train_windows: Sequence[np.ndarray],
    bases: Sequence[dict[int, np.ndarray] | None],
    *,
    batch_size: int,
    seed: int,
) -> Iterator[torch.Tensor] | Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless training batches over one genome's sample (exactly `training_batches`) or several genomes'
    samples mixed in equal shares of `batch_size` rows (`mixed_batches`)."""
    if len(sources) == 1:
        return training_batches(
            sources[0].activations, train_windows[0], batch_size=batch_size, seed=seed, bases=bases[0]
        )
    if batch_size < len(sources):
        raise InputError(
            f"sae.batch_size gives {batch_size} rows per step for {len(sources)} genomes: each genome needs one.",
            fix=f"raise sae.batch_size to at least {2 * len(sources)} (strand-shared rows hold two states).",
        )
    shares = equal_shares(batch_size, len(sources))
    # one shuffle pool's worth of rows in all, split between the genomes, and shards read a pool's worth at a
    # time: a stream holding a whole shard (extract.shard_tokens rows, 134 MB at the tiny model's width, 2 GB
    # at Evo 2's) per genome grew the six-genome demo's training job by ~0.4 GB per genome
    pool = max(SHUFFLE_POOL_ROWS // len(sources), 1)
    streams = [
        training_batches(
            src.activations, use, batch_size=size, seed=seed, bases=b, stream=i, pool_tokens=pool, read_rows=pool
        )
        for i, (src, use, b, size) in enumerate(zip(sources, train_windows, bases, shares))
    ]
    return mixed_batches(streams)


def _batch(rows: np.ndarray, bases: np.ndarray | None, a: int, b: int):
    x = torch.from_numpy(rows[a:b].astype(np.float32))
    return x if bases is None else (x, torch.from_numpy(bases[a:b].copy()))


def window_batches(
    directory: str | Path,
    use_window: np.ndarray,
    *,
    max_tokens: int | None = None,
    bases: dict[int, np.ndarray] | None = None,
) -> Iterator[torch.Tensor] | Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One float32 tensor per used window, in stored order, up to ~`max_tokens` rows in all
    ((tensor, lookup codes) pairs with `bases`)."""
    seen = 0
    for meta, array in iter_shards(directory):
        offsets = meta["offsets"]
        for w, a, b in zip(meta["windows"], offsets[:-1], offsets[1:]):
            if not use_window[int(w)] or b <= a:
                continue
            yield _batch(
                np.asarray(array[a:b]), bases[int(meta["shard"])][a:b] if bases is not None else None, 0, b - a
            )
            seen += b - a
            if max_tokens is not None and seen >= max_tokens:
                return


def activation_width(directory: str | Path) -> int:
    for _meta, array in iter_shards(directory):
        return int(array.shape[1])
    raise InputError("no activation shards found.", path=directory, fix="run `dnalens sample` first.")
