"""What the torch kernels of the probe stage share (`auroc_torch`, `f1_torch`, `feature_stats`): device
copies built once per stage, column pieces that halve on CUDA out-of-memory, and the label-pattern sums on
the device. Which kernels run is decided in one place, `backend`; torch is imported only on the torch path.

Every device sum is exact: ranks are half-integers and counts integers, summed in float64 below 2^53
(bincount, index_add_ and the [P, L] pattern product give the same numbers in any order).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dnalens.oom import HalvingBatch, oom_error

DEVICE_CHUNK_ENTRIES = 1 << 25  # nonzeros per device chunk (halved on OOM): not the CPU's cache-sized chunks
PATTERN_BINS = 1 << 25  # (segment, label pattern) float64 bins per device bincount: 256 MB
FIX = "use probe.device: cpu, a GPU with more memory, or a smaller probe.feature_block_entries."


def device_chunk_entries(max_chunk_entries: int) -> int:
    """Entries per chunk on the torch path: at least DEVICE_CHUNK_ENTRIES (few large kernels)."""
    return max(int(max_chunk_entries), DEVICE_CHUNK_ENTRIES)


def cached(owner, key, make: Callable[[], object]):
    """A device copy of `owner`'s arrays, built once and kept on `owner` itself (a frozen dataclass: in
    its __dict__, as functools.cached_property does), so it lives as long as the stage's label sets."""
    store = owner.__dict__.setdefault("_device_copies", {})
    if key not in store:
        store[key] = make()
    return store[key]


def device_patterns(patterns, device: str):
    """(of_token int64 [n], table float64 [P, L]) of a LabelPatterns on `device`, once per label set."""
    import torch

    return cached(
        patterns,
        ("patterns", device),
        lambda: (
            torch.as_tensor(patterns.of_token, device=device).to(torch.int64),
            torch.as_tensor(patterns.table, dtype=torch.float64, device=device),
        ),
    )


def by_columns(
    n_cols: int,
    width: int,
    run: Callable[[int, int], None],
    what: str,
    largest: Callable[[int, int], str],
) -> None:
    """Cover columns [0, n_cols) with run(a, b) pieces of at most `width` columns, halving on CUDA OOM
    down to one column (every column's numbers come from its own entries: pieces change nothing);
    `largest(a, b)` names the piece that did not fit alone."""
    batch = HalvingBatch(min(max(width, 1), max(n_cols, 1)), what=what)
    batch.chunks(
        n_cols,
        run,
        lambda a, b, exc: oom_error(largest(a, b), exc, halved_from=batch.initial, fix=FIX),
    )


def pattern_sums(torch, seg, of_token_at, n_seg: int, table, weights=None):
    """[n_seg, L] float64: Σ weight (or count) per segment over each concept's positives, by one bincount
    over (segment, label pattern) bins and the [P, L] pattern table (`label_patterns` on the device)."""
    n_p = table.shape[0]
    key = seg * n_p + of_token_at
    w = None if weights is None else weights.to(torch.float64)
    per = torch.bincount(key, weights=w, minlength=n_seg * n_p).to(torch.float64)
    return per.reshape(n_seg, n_p) @ table


def column_width(per_column: int, n_patterns: int) -> int:
    """Columns per piece so that its (segment, pattern) bins stay under PATTERN_BINS."""
    return max(1, PATTERN_BINS // max(per_column * n_patterns, 1))


def to_numpy(tensor) -> np.ndarray:
    return tensor.cpu().numpy()
