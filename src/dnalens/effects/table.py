"""Tallies -> effects.tsv rows: means per intervention, the controls' spread, z, p and the verdict."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from dnalens.effects.ablation import Tally
from dnalens.formats.effects import EFFECTS_COLUMNS

#: labels whose annotation says which nucleotide comes next (the Δ log P of that nucleotide is reported)
POSITION_SPECIFIC = ("codon_pos", "start_codon", "stop_codon", "splice_", "exon_first_base", "exon_last_base")


def position_specific(label: str | None) -> bool:
    return bool(label) and any(key in str(label) for key in POSITION_SPECIFIC)


def codon_labels(label: str | None, available: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """CDS_codon_pos1..3 of the label's strand family (antisense labels read the _antisense columns)."""
    suffix = "_antisense" if str(label or "").endswith("_antisense") else ""
    names = [f"CDS_codon_pos{k}{suffix}" for k in (1, 2, 3)]
    return tuple(n if n in available else None for n in names)  # type: ignore[return-value]


def z_and_p(value: float, controls: Sequence[float]) -> tuple[float, float, float, float]:
    """(control mean, control sd (ddof 1), z, two-sided normal p); NaN when fewer than 2 finite controls.
    A zero spread gives z = ±inf (0 when the value equals the mean)."""
    c = np.asarray([x for x in controls if np.isfinite(x)], np.float64)
    if c.size < 2 or not np.isfinite(value):
        mean = float(c.mean()) if c.size else float("nan")
        return mean, float("nan"), float("nan"), float("nan")
    mean, sd = float(c.mean()), float(c.std(ddof=1))
    diff = value - mean
    z = diff / sd if sd > 0 else (0.0 if diff == 0 else math.copysign(math.inf, diff))
    return mean, sd, z, float(2 * norm.sf(abs(z)))


def verdict(z: float, n_fire: int, threshold: float) -> str:
    """The report's sentence for a tested latent (formats.effects, `effect_verdict`)."""
    if n_fire == 0:
        return "not measured"
    if np.isnan(z):
        return "too few controls"
    if abs(z) < threshold:
        return "no measurable effect"
    return "larger than controls" if z > 0 else "smaller than controls"


def effects_table(
    tallies: Mapping[str, Tally],
    rows: Sequence[dict],
    controls: Mapping[int, list[int]],
    *,
    z_threshold: float,
) -> pd.DataFrame:
    """One row per intervention. `rows`: per intervention its key and fixed columns (latent, role, label,
    passes, frequency, write_norm); controls: tested latent -> its control latents."""
    out = []
    for fixed in rows:
        t = tallies[fixed["key"]]
        label = fixed.get("label") or ""
        out.append(
            {
                **{k: v for k, v in fixed.items() if k != "key"},
                "label": label,
                "n_windows": t.windows,
                "n_positions": t.positions,
                "n_fire_positions": t.counts.get("fire", 0),
                "n_label_positions": t.counts.get("label", 0),
                "bits_fire": t.mean("clean_fire"),
                "delta_bits_fire": t.mean("fire"),
                "delta_bits_label": t.mean("label") if label else float("nan"),
                "delta_bits_elsewhere": t.mean("elsewhere"),
                "delta_logp_next_annotated": t.mean("label_logp") if position_specific(label) else float("nan"),
                **{f"delta_logp_next_codon_pos{k}": t.mean(f"codon_pos{k}") for k in (1, 2, 3)},
            }
        )
    if not out:
        return pd.DataFrame(columns=list(EFFECTS_COLUMNS))
    table = pd.DataFrame(out)
    fire = {(r["role"], r["latent"]): r["delta_bits_fire"] for r in out}
    served: dict[int, list[int]] = {}
    for tested, picked in controls.items():
        for c in picked:
            served.setdefault(c, []).append(tested)
    extra = {c: [] for c in ("control_delta_bits_mean", "control_delta_bits_sd", "random_delta_bits")}
    extra.update({"z_vs_controls": [], "p_vs_controls": [], "effect_verdict": [], "controls": []})
    for r in out:
        if r["role"] != "annotated":
            for c in ("control_delta_bits_mean", "control_delta_bits_sd", "random_delta_bits", "z_vs_controls"):
                extra[c].append(float("nan"))
            extra["p_vs_controls"].append(float("nan"))
            extra["effect_verdict"].append("")
            mine = served.get(r["latent"], []) if r["role"] == "matched_control" else []
            extra["controls"].append("+".join(map(str, sorted(mine))))
            continue
        picked = controls.get(r["latent"], [])
        mean, sd, z, p = z_and_p(r["delta_bits_fire"], [fire.get(("matched_control", c), np.nan) for c in picked])
        extra["control_delta_bits_mean"].append(mean)
        extra["control_delta_bits_sd"].append(sd)
        extra["random_delta_bits"].append(fire.get(("random_direction", r["latent"]), float("nan")))
        extra["z_vs_controls"].append(z)
        extra["p_vs_controls"].append(p)
        extra["effect_verdict"].append(verdict(z, r["n_fire_positions"], z_threshold))
        extra["controls"].append("+".join(map(str, picked)))
    for name, values in extra.items():
        table[name] = values
    return table
