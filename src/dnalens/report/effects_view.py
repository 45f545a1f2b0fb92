"""What the report shows of effects.tsv: features.tsv columns and a "What it does" block per tested latent.

The figure is hand-written inline SVG like report/plots.py (a strip of Δ bits: each matched control, the random
direction and the latent itself on one axis), so a card stays a few kB and needs no plotting library.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

WIDTH, HEIGHT, PAD = 420, 86, 28


def feature_columns(effects: pd.DataFrame) -> pd.DataFrame:
    """One row per tested latent: latent, ablation_delta_bits (Δ bits where it fires), ablation_vs_control
    (z against its matched controls) and ablation_verdict, for features.tsv (merge on latent)."""
    tested = effects[effects["role"] == "annotated"]
    return pd.DataFrame(
        {
            "latent": tested["latent"].astype(int).to_numpy(),
            "ablation_delta_bits": tested["delta_bits_fire"].astype(float).to_numpy(),
            "ablation_vs_control": tested["z_vs_controls"].astype(float).to_numpy(),
            "ablation_verdict": tested["effect_verdict"].astype(str).to_numpy(),
        }
    )


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:+.4f}"


def strip_svg(latent_value: float, controls: list[float], random_value: float) -> str:
    """Δ bits on one horizontal axis: grey dots = matched controls, hollow square = random direction, red
    diamond = the latent; a dashed line at 0 (no change)."""
    values = [v for v in [latent_value, random_value, *controls] if np.isfinite(v)] + [0.0]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    x = lambda v: PAD + (v - lo) / (hi - lo) * (WIDTH - 2 * PAD)  # noqa: E731
    y = HEIGHT / 2 - 6
    parts = [
        f'<line x1="{PAD}" y1="{y + 16}" x2="{WIDTH - PAD}" y2="{y + 16}" stroke="#999"/>',
        f'<line x1="{x(0):.1f}" y1="8" x2="{x(0):.1f}" y2="{y + 16}" stroke="#999" stroke-dasharray="3,3"/>',
        f'<text x="{PAD}" y="{y + 30}" font-size="10">{lo:.3g}</text>',
        f'<text x="{WIDTH - PAD}" y="{y + 30}" font-size="10" text-anchor="end">{hi:.3g}</text>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" font-size="10" text-anchor="middle">'
        "Δ bits per prediction where the latent fires (positive = model worse)</text>",
    ]
    for v in controls:
        if np.isfinite(v):
            parts.append(f'<circle cx="{x(v):.1f}" cy="{y}" r="4" fill="#999"><title>control {v:.4g}</title></circle>')
    if np.isfinite(random_value):
        parts.append(
            f'<rect x="{x(random_value) - 4:.1f}" y="{y - 4}" width="8" height="8" fill="none" stroke="#3182bd">'
            f"<title>random direction {random_value:.4g}</title></rect>"
        )
    if np.isfinite(latent_value):
        cx = x(latent_value)
        parts.append(
            f'<path d="M{cx:.1f},{y - 7} L{cx + 6:.1f},{y} L{cx:.1f},{y + 7} L{cx - 6:.1f},{y} Z" fill="#d62728">'
            f"<title>this latent {latent_value:.4g}</title></path>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" font-family="sans-serif">{"".join(parts)}</svg>'
    )


def what_it_does_html(effects: pd.DataFrame, latent: int) -> str:
    """The card block for one tested latent ('' when effects.tsv did not test it)."""
    tested = effects[(effects["role"] == "annotated") & (effects["latent"] == latent)]
    if tested.empty:
        return ""
    row = tested.iloc[0]
    controls = [int(c) for c in str(row.get("controls") or "").split("+") if c.strip().isdigit()]
    by_control = effects[effects["role"] == "matched_control"].set_index("latent")["delta_bits_fire"]
    control_values = [float(by_control.get(c, np.nan)) for c in controls]
    verdict = str(row["effect_verdict"])
    lines = [
        f"Removing its write where it fires ({int(row['n_fire_positions']):,} positions in "
        f"{int(row['n_windows'])} held-out windows) changes the next-nucleotide loss by "
        f"<b>{_fmt(float(row['delta_bits_fire']))} bits</b> per prediction; {len(controls)} matched latents: "
        f"{_fmt(float(row['control_delta_bits_mean']))} ± {float(row['control_delta_bits_sd']):.4f}, "
        f"random direction {_fmt(float(row['random_delta_bits']))} (z = {float(row['z_vs_controls']):.2f}).",
        f"Verdict: <b>{escape(verdict)}</b>.",
    ]
    if np.isfinite(float(row.get("delta_logp_next_codon_pos1", np.nan))):
        cols = [f"{_fmt(float(row[f'delta_logp_next_codon_pos{k}']))}" for k in (1, 2, 3)]
        lines.append(f"Δ log2 P of the next nucleotide at codon positions 1 / 2 / 3: {' / '.join(cols)}.")
    body = "".join(f"<p>{line}</p>" for line in lines)
    svg = strip_svg(float(row["delta_bits_fire"]), control_values, float(row["random_delta_bits"]))
    return f'<div class="effects"><h4>What it does</h4>{body}{svg}</div>'
