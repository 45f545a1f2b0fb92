"""Which kernels compute the probe stage's per-feature metrics: numpy/scipy.sparse or torch. Decided here only.

`probe.device` resolves (`auroc_backend`) to None for numpy, else to a torch device; "cpu-torch" runs the
torch kernels on the CPU (tests and benchmarks compare them with numpy without a GPU). The stage calls
the functions below with that one value; each picks the numpy kernel (`auroc`, `f1`, `feature_stats`) or its
torch twin (`auroc_torch`, `f1_torch`). Both routes share their formulas (`metric_formulas`) and give the
same tables bit for bit. The kernel modules import neither this module nor each other, and torch is
imported only on the torch path.
"""

from __future__ import annotations

import numpy as np

from dnalens.probe import auroc, f1, feature_stats
from dnalens.probe.chunks import DEFAULT_CHUNK_ENTRIES
from dnalens.probe.torch_shared import device_chunk_entries


def auroc_backend(device: str) -> str | None:
    """The backend of a `probe.device` value: None = numpy/scipy.sparse (the device resolves to the CPU),
    else the torch device (dnalens.devices semantics), or "cpu-torch" (torch on the CPU)."""
    if device == "cpu-torch":
        return device
    if str(device).strip().lower() == "cpu":  # no torch import (2 s of CPU) for the default
        return None
    from dnalens.devices import resolve_device

    resolved = resolve_device(device, what="probe.device")
    return None if resolved == "cpu" else resolved


def on_torch(device: str | None) -> bool:
    return device not in (None, "cpu")


def torch_device(device: str) -> str:
    """The torch device of a backend value ("cpu-torch": torch on the CPU)."""
    return "cpu" if device == "cpu-torch" else device


def auroc_matrix(
    codes, labels, *, rows=None, device: str | None = None, max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES
) -> np.ndarray:
    """`auroc.auroc_matrix` (the contract in docs/ARCHITECTURE.md, "probe") on `device`'s backend."""
    if not on_torch(device):
        return auroc.auroc_matrix(codes, labels, rows=rows, max_chunk_entries=max_chunk_entries)
    from dnalens.probe.auroc_torch import auroc_matrix_torch

    return auroc_matrix_torch(
        codes, labels, rows=rows, device=torch_device(device), max_chunk_entries=max_chunk_entries
    )


def ranked_codes(codes, *, rows=None, device: str | None = None, max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES):
    """`auroc.RankedCodes` of `rows`, or its torch twin `auroc_torch.RankedCodesTorch` (same methods)."""
    if not on_torch(device):
        return auroc.RankedCodes(codes, rows=rows, max_chunk_entries=max_chunk_entries)
    from dnalens.probe.auroc_torch import RankedCodesTorch

    return RankedCodesTorch(codes, rows=rows, device=torch_device(device), max_chunk_entries=max_chunk_entries)


def domain_f1_curves(
    codes, labels, instances, thresholds, fmax, *, rows, device: str | None, max_chunk_entries: int
) -> f1.F1Curves:
    """`f1.domain_f1_curves` on `device`'s backend (the torch path walks device-sized chunks)."""
    if not on_torch(device):
        return f1.domain_f1_curves(
            codes, labels, instances, thresholds, fmax, rows=rows, max_chunk_entries=max_chunk_entries
        )
    from dnalens.probe.f1_torch import domain_f1_curves_torch

    problem = f1.f1_problem(codes, labels, instances, thresholds, fmax, rows, device_chunk_entries(max_chunk_entries))
    t, chunker, prepared, fmax = problem
    return domain_f1_curves_torch(chunker, prepared, t, fmax, torch_device(device))


def feature_statistics(codes_csc, device: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency of > 0, max activation, mean where non-zero) per feature of a CSC block."""
    if not on_torch(device):
        counts = feature_stats.feature_counts(codes_csc)
    else:
        counts = feature_stats.feature_counts_torch(codes_csc, torch_device(device))
    return feature_stats.statistics_from_counts(codes_csc.shape[0], counts)
