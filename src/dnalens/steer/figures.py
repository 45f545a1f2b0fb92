"""One figure per steered latent: each readout against strength, steered beside the random-direction control
and the unsteered sequences (a grey band: their mean ± one standard deviation).

Hand-written inline SVG, as the report draws its figures (report/plots.py: small, sharp, hover titles, no
plotting stack; matplotlib is not a dependency): a 3 × 3 grid of small panels, one per readout, each
sequence a dot, the mean per strength a line.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_path

PANELS = (
    ("latent_activation", "latent activation (re-encoded)"),
    ("gc", "GC"),
    ("gc_frame_skew", "GC frame skew (high − low phase)"),
    ("period3_power", "period-3 power (÷ mean)"),
    ("genes_per_kb", "pyrodigal genes per kb"),
    ("mean_orf_length", "mean gene length (nt)"),
    ("kmer4_jsd", "4-mer JSD to genome (bits)"),
    ("homopolymer_fraction", "homopolymer fraction (runs ≥ 5)"),
    ("loglik_unsteered", "log2-likelihood / base, plain model"),
)
PW, PH, PAD_L, PAD_B, PAD_T = 230, 150, 46, 26, 22
COLS = 3
STEERED, RANDOM, BAND = "#d62728", "#7f7f7f", "#dddddd"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _panel(frame: pd.DataFrame, column: str, title: str, ox: float, oy: float, strengths: np.ndarray) -> list[str]:
    values = frame[column].astype(float)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = hi - lo or max(abs(hi), 1.0) * 0.1
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    x0, x1 = float(strengths.min()), float(strengths.max())
    xspan = (x1 - x0) or 1.0
    w, h = PW - PAD_L - 8, PH - PAD_B - PAD_T

    def px(x: float) -> float:
        return ox + PAD_L + (x - x0 + 0.05 * xspan) / (1.1 * xspan) * w

    def py(y: float) -> float:
        return oy + PAD_T + (1 - (y - lo) / (hi - lo)) * h

    parts = [
        f'<rect x="{ox + PAD_L}" y="{oy + PAD_T}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
        f'<text x="{ox + PAD_L}" y="{oy + PAD_T - 6}" font-weight="bold">{escape(title)}</text>',
        f'<text x="{ox + PAD_L - 4}" y="{py(hi) + 10}" text-anchor="end">{_fmt(hi)}</text>',
        f'<text x="{ox + PAD_L - 4}" y="{py(lo)}" text-anchor="end">{_fmt(lo)}</text>',
    ]
    for s in strengths:
        parts.append(f'<text x="{px(s)}" y="{oy + PH - 10}" text-anchor="middle">{_fmt(s)}</text>')
    base = frame.loc[frame["control"] == "unsteered", column].astype(float)
    base = base[np.isfinite(base)]
    if len(base):
        m, sd = float(base.mean()), float(base.std(ddof=0))
        top, bottom = py(min(m + sd, hi)), py(max(m - sd, lo))
        parts.append(
            f'<rect x="{ox + PAD_L}" y="{top}" width="{w}" height="{max(bottom - top, 1)}" fill="{BAND}">'
            f"<title>unsteered: mean {_fmt(m)} ± {_fmt(sd)} (n = {len(base)})</title></rect>"
        )
    for control, colour, dash in (("random", RANDOM, ' stroke-dasharray="4 3"'), ("none", STEERED, "")):
        own = frame[frame["control"] == control]
        for s, v in zip(own["strength"].astype(float), own[column].astype(float)):
            if np.isfinite(v):
                parts.append(f'<circle cx="{px(s)}" cy="{py(v)}" r="1.8" fill="{colour}" fill-opacity="0.45"/>')
        # both lines pass through the unsteered mean at strength 0
        rows = pd.concat([own, frame[frame["control"] == "unsteered"].assign(strength=0.0)])
        means = rows.groupby("strength")[column].mean().dropna()
        if len(means) > 1:
            pts = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in means.items())
            name = "steered" if control == "none" else "random direction"
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}>'
                f"<title>{name}: mean per strength</title></polyline>"
            )
    return parts


def latent_figure_svg(table: pd.DataFrame, latent: int) -> str:
    """The figure of one latent (its rows of steer.tsv, the unsteered rows included)."""
    frame = table[table["latent"] == latent]
    strengths = np.unique(np.concatenate([frame["strength"].astype(float).to_numpy(), [0.0]]))
    rows = (len(PANELS) + COLS - 1) // COLS
    width, height = COLS * PW, rows * PH + 40
    label = next((str(v) for v in frame["label"] if isinstance(v, str) and v), "")
    mode = next((str(m) for m, c in zip(frame["mode"], frame["control"]) if c == "none"), "add")
    head = f"latent {latent}" + (f" ({label})" if label else "") + f": readouts vs strength, mode {mode}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
        f'<text x="8" y="16" font-size="12" font-weight="bold">{escape(head)}</text>',
        f'<text x="8" y="32"><tspan fill="{STEERED}">● steered</tspan>  <tspan fill="{RANDOM}">● random direction, '
        "same norm</tspan>  grey band: unsteered mean ± sd; x: strength (× the latent's mean activation)</text>",
    ]
    for k, (column, title) in enumerate(PANELS):
        ox, oy = (k % COLS) * PW, 40 + (k // COLS) * PH
        parts += _panel(frame, column, title, ox, oy, strengths)
    parts.append("</svg>")
    return "\n".join(parts)


def write_figures(table: pd.DataFrame, directory: str | Path) -> list[Path]:
    """directory/f<latent>.svg for every steered latent (each written atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for latent in sorted(set(int(j) for j in table["latent"])):
        path = directory / f"f{latent}.svg"
        with atomic_path(path) as tmp:
            Path(tmp).write_text(latent_figure_svg(table, latent))
        out.append(path)
    return out
