"""Per-feature statistics of a CSC block (frequency of > 0, max activation, mean where non-zero): the counts on
numpy or on a torch device (`backend.feature_statistics` picks), the statistics from them on the host."""

from __future__ import annotations

import numpy as np

from dnalens.probe.torch_shared import by_columns, to_numpy


def feature_counts(codes_csc) -> tuple[np.ndarray, ...]:
    """(active, nonzero, total, max) per column, reduced over the non-empty columns only (their starts are
    valid reduceat indices, and an empty column in between has no values), accumulating in the
    reduction's dtype: no widened copy of the block's values (8 M values are 64 MB per float64 copy)."""
    n_cols = codes_csc.shape[1]
    has = np.diff(codes_csc.indptr) > 0
    active, nonzero = np.zeros(n_cols, np.int64), np.zeros(n_cols, np.int64)
    total, fmax = np.zeros(n_cols), np.zeros(n_cols)
    if has.any():
        data = codes_csc.data
        starts = codes_csc.indptr[:-1][has]
        active[has] = np.add.reduceat(data > 0, starts, dtype=np.int64)
        nonzero[has] = np.add.reduceat(data != 0, starts, dtype=np.int64)
        total[has] = np.add.reduceat(data, starts, dtype=np.float64)
        fmax[has] = np.maximum(np.maximum.reduceat(data, starts), 0.0)
    return active, nonzero, total, fmax


def statistics_from_counts(n_tokens: int, counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency of > 0, max activation, mean where non-zero) from either backend's counts."""
    active, nonzero, total, fmax = counts
    mean = np.where(nonzero > 0, total / np.maximum(nonzero, 1), 0.0)
    return active / max(n_tokens, 1), fmax, mean


def feature_counts_torch(codes_csc, device: str) -> tuple[np.ndarray, ...]:
    """`feature_counts` on a torch `device`. Counts and maxima are exact; the float64 total's summation
    order differs from numpy's (the mean agrees to float64 rounding, about 1e-15 relative)."""
    import torch

    n_cols = codes_csc.shape[1]
    indptr = np.asarray(codes_csc.indptr, np.int64)
    out = [np.zeros(n_cols, np.int64), np.zeros(n_cols, np.int64), np.zeros(n_cols), np.zeros(n_cols)]

    def run(a: int, b: int) -> None:
        data = torch.as_tensor(codes_csc.data[indptr[a] : indptr[b]], device=device)
        counts = torch.as_tensor(np.diff(indptr[a : b + 1]), device=device)
        cols = torch.repeat_interleave(torch.arange(b - a, device=device), counts)
        wide = data.to(torch.float64)
        zeros = torch.zeros(b - a, dtype=torch.float64, device=device)
        values = (
            torch.bincount(cols[data > 0], minlength=b - a),
            torch.bincount(cols[data != 0], minlength=b - a),
            zeros.clone().index_add_(0, cols, wide),
            zeros.scatter_reduce(0, cols, wide, "amax", include_self=False).clamp_min(0.0),
        )
        for target, value in zip(out, values):
            target[a:b] = to_numpy(value)

    by_columns(
        n_cols,
        n_cols,
        run,
        "feature statistics (features)",
        lambda a, b: f"one feature of {indptr[a + 1] - indptr[a]:,} values",
    )
    return tuple(out)
