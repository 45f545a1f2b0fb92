"""Is the SAE a learned sparse dictionary? Decoder movement from its initialisation, agreement with a
replicate trained from another seed, and pass/fail health checks.

Why: reconstruction alone cannot tell a dictionary from a random basis. With k close to d_in, a random
unit-norm decoder reconstructs well (any k-subset spans most of the space), so FVU and L0 look fine while
training has hardly moved the rows: the 2026-12-04 demo SAE (k = 64 of d_in = 128) kept a median
decoder-row cosine of 0.96-0.98 to its seeded initialisation and shared no latent (cosine >= 0.8) with a
replicate from another seed. A learned dictionary leaves its initialisation and is partly reproducible
across seeds (Paulo & Belrose 2025 measure ~30-70 % shared latents for LLM SAEs).

Decoder rows are compared by direction only (cosine), so the input scale folded into a trained SAE's
decoder does not matter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

MATCH_COSINE = 0.8  # a latent "reappears" in the other SAE when some decoder row is this close


def _unit_rows(w: torch.Tensor) -> torch.Tensor:
    """On the CPU: the trained decoder may sit on the GPU while the saved init/replicate decoders are loaded
    on the CPU (`make gpu-check` failed sae_quality on an H200 with a device mismatch)."""
    w = w.detach().to("cpu", torch.float32)
    return w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)


def row_cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine of row i of `a` with row i of `b` ([d_sae, d_in] each): how far each latent moved."""
    if a.shape != b.shape:
        raise ValueError(f"decoders differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return (_unit_rows(a) * _unit_rows(b)).sum(dim=1)


def best_match_cosines(a: torch.Tensor, b: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """For each row of `a`, the largest cosine with any row of `b` (chunked: [chunk, d_sae_b] at a time)."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"decoders differ in width: {a.shape[1]} vs {b.shape[1]}")
    ua, ub = _unit_rows(a), _unit_rows(b)
    return torch.cat([(ua[i : i + chunk] @ ub.T).max(dim=1).values for i in range(0, ua.shape[0], chunk)])


def init_cosine(w_dec: torch.Tensor, w_init: torch.Tensor) -> dict:
    """Median (and 90th percentile) row cosine between a decoder and its initialisation (1 = unmoved)."""
    cos = row_cosines(w_dec, w_init)
    return {"median": float(cos.quantile(0.5)), "q90": float(cos.quantile(0.9))}


def seed_agreement(w_dec: torch.Tensor, w_replicate: torch.Tensor, bar: float = MATCH_COSINE) -> dict:
    """Share of latents whose best match among the replicate's decoder rows has cosine >= `bar`."""
    best = best_match_cosines(w_dec, w_replicate)
    return {"share": float((best >= bar).float().mean()), "bar": bar, "median_best_cosine": float(best.quantile(0.5))}


@dataclass(frozen=True)
class HealthTargets:
    """What a usable sparse dictionary looks like; each bar is reported next to its number."""

    l0_per_d_in: float = 0.1  # L0 <= 0.1 x d_in: a code, not a dense re-encoding
    dead_fraction: float = 0.10  # latents that never fire on held-out tokens
    dense_fraction: float = 0.05  # latents that fire on > 10 % of held-out tokens
    init_cosine_median: float = 0.5  # training must have moved the median decoder row well away from its init


def health(
    l0_per_d_in: float,
    dead_fraction: float,
    dense_fraction: float,
    init_cosine_median: float | None,
    targets: HealthTargets = HealthTargets(),
) -> dict:
    """Pass/fail per target ({value, bar, pass}); `pass` overall is true only when every check ran and passed
    (an SAE without a saved initialisation, e.g. a loaded one, gets pass null for that check)."""
    bars = asdict(targets)
    values = {
        "l0_per_d_in": l0_per_d_in,
        "dead_fraction": dead_fraction,
        "dense_fraction": dense_fraction,
        "init_cosine_median": init_cosine_median,
    }
    checks = {}
    for name, value in values.items():
        strict = name == "init_cosine_median"
        if value is None or not math.isfinite(value):
            ok = None
        else:
            ok = bool(value < bars[name]) if strict else bool(value <= bars[name])
        checks[name] = {"value": value, "bar": bars[name], "rule": "<" if strict else "<=", "pass": ok}
    verdicts = [c["pass"] for c in checks.values()]
    overall = False if False in verdicts else (None if None in verdicts else True)
    return {"pass": overall, "checks": checks}


def decoder(sae) -> torch.Tensor:
    """The dictionary's decoder rows: the per-strand SAE's for a strand-shared SAE (both feature halves
    are the same latents)."""
    inner = getattr(sae, "strand_sae", sae)
    return inner.W_dec.detach()


def dictionary_report(
    metrics: dict,
    d_in: int,
    w_dec: torch.Tensor,
    reference: dict[str, torch.Tensor],
    *,
    unit: str,
    targets: HealthTargets = HealthTargets(),
) -> dict:
    """sae_quality.json's `dictionary` block: held-out metrics per dictionary input (`unit`: a strand state
    of width d_in for a strand-shared SAE, else a row), movement from the init, seed agreement, health."""
    moved = init_cosine(w_dec, reference["W_dec_init"]) if "W_dec_init" in reference else None
    agree = seed_agreement(w_dec, reference["W_dec_replicate"]) if "W_dec_replicate" in reference else None
    l0_ratio = metrics["l0"] / d_in
    out = {
        "unit": unit,
        "d_in": d_in,
        "d_sae": metrics["d_sae"],
        "n_tokens": metrics["n_tokens"],
        "l0": metrics["l0"],
        "l0_per_d_in": l0_ratio,
        "dead_fraction": metrics["dead_fraction"],
        "dense_fraction": metrics["dense_fraction"],
        "dense_threshold": metrics["dense_threshold"],
        "fvu": metrics["fvu"],
        "init_cosine_median": None if moved is None else moved["median"],
        "init_cosine_q90": None if moved is None else moved["q90"],
        "seed_agreement": None if agree is None else agree["share"],
        "seed_agreement_cosine": MATCH_COSINE,
        "seed_best_cosine_median": None if agree is None else agree["median_best_cosine"],
    }
    if moved is None or agree is None:
        out["note"] = (
            "no initial decoder / replicate decoder saved next to this SAE (dnalens_dictionary."
            "safetensors; written by train-sae, with sae.replicate for the replicate)"
        )
    out["health"] = health(
        l0_ratio, metrics["dead_fraction"], metrics["dense_fraction"], out["init_cosine_median"], targets
    )
    return out
