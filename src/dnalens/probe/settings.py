"""The config's `probe:` section as typed settings, and what they mean for a run: how many circular shifts
the nulls draw. The thresholds of the annotation rule (`annotate`) are read from these settings directly."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.errors import InputError
from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("probe")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class ProbeSettings:
    """The config's `probe:` block (defaults = schema defaults; see config/README.md)."""

    block_size: int = _DEFAULTS["block_size"]
    test_fraction: float = _DEFAULTS["test_fraction"]
    gap: int = _DEFAULTS["gap"]
    seed: int = _DEFAULTS["seed"]
    duplicate_regions: tuple = _DEFAULTS["duplicate_regions"]
    detect_repeats: bool = _DEFAULTS["detect_repeats"]
    min_repeat_length: int = _DEFAULTS["min_repeat_length"]
    n_null: int = _DEFAULTS["n_null"]
    min_null_draws: int = _DEFAULTS["min_null_draws"]
    thresholds: tuple = _DEFAULTS["thresholds"]
    min_auroc: float = _DEFAULTS["min_auroc"]
    min_f1: float = _DEFAULTS["min_f1"]
    max_q: float = _DEFAULTS["max_q"]
    min_instances: int = _DEFAULTS["min_instances"]
    min_test_instances: int = _DEFAULTS["min_test_instances"]
    min_margin: float = _DEFAULTS["min_margin"]
    min_precision_lift: float = _DEFAULTS["min_precision_lift"]
    gc_window: int = _DEFAULTS["gc_window"]
    control_negatives: int = _DEFAULTS["control_negatives"]
    min_control_negatives: int = _DEFAULTS["min_control_negatives"]
    context_baseline: str = _DEFAULTS["context_baseline"]  # matched-context baseline: kmer / onehot / none
    context_baseline_nt: int = _DEFAULTS["context_baseline_nt"]
    context_baseline_max_tokens: int = _DEFAULTS["context_baseline_max_tokens"]
    top_features: int = _DEFAULTS["top_features"]
    probes: bool = _DEFAULTS["probes"]
    probe_max_tokens: int = _DEFAULTS["probe_max_tokens"]
    probe_l2: float = _DEFAULTS["probe_l2"]
    probe_max_iter: int = _DEFAULTS["probe_max_iter"]
    sparse_probe_ks: tuple = _DEFAULTS["sparse_probe_ks"]  # k-sparse probing (SAEBench), k latents per probe
    sparse_probe_max_tokens: int = _DEFAULTS["sparse_probe_max_tokens"]
    group_max_k: int = _DEFAULTS["group_max_k"]  # a concept's latent group has at most this many latents
    bootstrap_n: int = _DEFAULTS["bootstrap_n"]  # replicates behind each held-out AUROC interval (intervals.py)
    bootstrap_seed: int = _DEFAULTS["bootstrap_seed"]
    bootstrap_segment: int = _DEFAULTS["bootstrap_segment"]
    min_heldout_instances: int = _DEFAULTS["min_heldout_instances"]
    device: str = _DEFAULTS["device"]
    chunk_entries: int = _DEFAULTS["chunk_entries"]
    feature_block_entries: int = _DEFAULTS["feature_block_entries"]
    parts: int = _DEFAULTS["parts"]


def validate_settings(s: ProbeSettings) -> None:
    """Reject values the schema cannot express (it checks types and ranges already)."""
    problems = []
    if not s.thresholds or min(s.thresholds) < 0:
        problems.append(f"thresholds must be a non-empty list of values >= 0 (got {list(s.thresholds)})")
    if not 0 < s.test_fraction < 1:
        problems.append(f"test_fraction must be between 0 and 1 (got {s.test_fraction})")
    if (
        s.block_size <= 0
        or s.n_null < 0
        or s.chunk_entries <= 0
        or s.min_null_draws < 0
        or s.feature_block_entries <= 0
    ):
        problems.append(
            "block_size, chunk_entries and feature_block_entries must be > 0, n_null and min_null_draws >= 0"
        )
    if s.gc_window < 1 or s.control_negatives < 1 or s.min_precision_lift < 0:
        problems.append("gc_window and control_negatives must be >= 1, min_precision_lift >= 0")
    if s.n_null == 1:
        problems.append("n_null must be 0 (no p-values) or >= 2")
    if problems:
        raise InputError("probe settings: " + "; ".join(problems) + ".", fix="see config/README.md, section probe.")


MAX_NULL_SHIFTS = 1000


def null_shift_count(s: ProbeSettings, n_features: int) -> int:
    """n_null, raised for small dictionaries until n_shifts x features >= min_null_draws (≤ 1000 shifts):
    the pooled p-value cannot go below 1 / (1 + draws), which BH multiplies by the number of pairs."""
    if s.n_null == 0:
        return 0
    wanted = -(-s.min_null_draws // max(n_features, 1))
    return int(max(s.n_null, min(wanted, MAX_NULL_SHIFTS)))
