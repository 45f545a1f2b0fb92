"""One inline SVG per explained sequence: a lane per shown latent, the log-likelihood lane, the annotation.

Positions run left to right along the sequence (the read strand: + for a genome region); each lane pools
its values to one per pixel column (the max for activations, so a one-base peak stays visible; the mean for
the log-likelihood). Text is escaped here; the page passes the SVG through as markup.
"""

from __future__ import annotations

from html import escape
from typing import Sequence

import numpy as np
import pandas as pd

WIDTH, LEFT, RIGHT = 1100, 230, 12
LANE_H, GAP, FEATURE_H = 34, 6, 16
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#332288")
FEATURE_COLOURS = {"gene": "#5f6b73", "CDS": "#0072B2", "exon": "#56B4E9", "tRNA": "#009E73", "rRNA": "#CC79A7"}


def pooled(values: np.ndarray, bins: int, how: str = "max") -> np.ndarray:
    """`values` reduced to `bins` columns (max or NaN-ignoring mean); shorter inputs are kept as they are."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= bins:
        return values
    edges = np.linspace(0, values.size, bins + 1).astype(int)
    out = np.full(bins, np.nan)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        chunk = values[a : max(b, a + 1)]
        finite = chunk[np.isfinite(chunk)]
        if finite.size:
            out[i] = finite.max() if how == "max" else finite.mean()
    return out


def _f(x: float) -> str:
    return f"{x:.1f}"


def _lane(values: np.ndarray, top: float, lo: float, hi: float, colour: str, how: str) -> str:
    """A filled profile of `values` between y = top and top + LANE_H, scaled lo..hi."""
    plot_w = WIDTH - LEFT - RIGHT
    vals = pooled(values, plot_w, how)
    if not vals.size:
        return ""
    xs = LEFT + (np.arange(vals.size) + 0.5) * plot_w / vals.size
    span = (hi - lo) or 1.0
    scaled = np.clip((np.nan_to_num(vals, nan=lo) - lo) / span, 0, 1)
    ys = top + LANE_H - scaled * LANE_H
    base = top + LANE_H
    points = " ".join(f"{_f(x)},{_f(y)}" for x, y in zip(xs, ys))
    return (
        f'<polygon points="{_f(xs[0])},{_f(base)} {points} {_f(xs[-1])},{_f(base)}" fill="{colour}" '
        f'fill-opacity="0.35" stroke="{colour}" stroke-width="0.8"/>'
    )


def _label(text: str, y: float, detail: str) -> str:
    return (
        f'<text x="{LEFT - 8}" y="{_f(y + LANE_H / 2)}" text-anchor="end">{escape(text)}</text>'
        f'<text x="{LEFT - 8}" y="{_f(y + LANE_H / 2 + 11)}" text-anchor="end" fill="#5f6b73" '
        f'font-size="9">{escape(detail)}</text>'
    )


def _features_svg(features: pd.DataFrame, offset: int, n: int, top: float) -> tuple[str, float]:
    """Annotation features (contig, type, start, end, strand, name; genome 0-based) as boxes in lanes by type."""
    plot_w = WIDTH - LEFT - RIGHT
    out, y = [], top
    for kind, rows in features.groupby("lane", sort=False):
        out.append(f'<text x="{LEFT - 8}" y="{_f(y + FEATURE_H - 4)}" text-anchor="end">{escape(str(kind))}</text>')
        for f in rows.itertuples():
            a, b = max(f.start - offset, 0), min(f.end - offset, n)
            x0, x1 = LEFT + a * plot_w / n, LEFT + b * plot_w / n
            colour = FEATURE_COLOURS.get(f.type, "#8C564B")
            arrow = "\u25b6" if f.strand == "+" else ("\u25c0" if f.strand == "-" else "")
            out.append(
                f'<rect x="{_f(x0)}" y="{_f(y)}" width="{_f(max(x1 - x0, 1))}" height="{FEATURE_H - 4}" '
                f'fill="{colour}" fill-opacity="0.6"><title>{escape(f"{f.type} {f.name} {f.start + 1}-{f.end} ({f.strand})")}'
                "</title></rect>"
            )
            if x1 - x0 > 40:
                out.append(
                    f'<text x="{_f(x0 + 2)}" y="{_f(y + FEATURE_H - 6)}" font-size="9" fill="#fff">'
                    f"{escape(f'{arrow} {f.name}'[: int((x1 - x0) / 6)])}</text>"
                )
        y += FEATURE_H
    return "".join(out), y


def sequence_svg(
    title: str,
    length: int,
    offset: int,
    lanes: Sequence[dict],
    log_likelihood: np.ndarray,
    features: pd.DataFrame | None,
) -> str:
    """The figure of one sequence. `lanes`: dicts with `name`, `detail`, `values` [length], `colour`;
    `offset`: the genome coordinate (0-based) of the first base, for the axis and the features."""
    plot_w = WIDTH - LEFT - RIGHT
    parts, y = [], 8.0
    for lane in lanes:
        hi = float(np.nanmax(lane["values"])) if np.size(lane["values"]) else 0.0
        parts.append(
            f'<rect x="{LEFT}" y="{_f(y)}" width="{plot_w}" height="{LANE_H}" fill="#fafafa" stroke="#e3e6e8"/>'
        )
        parts.append(_lane(lane["values"], y, 0.0, max(hi, 1e-6), lane["colour"], "max"))
        parts.append(_label(lane["name"], y, f"{lane['detail']}  max {hi:.3g}"))
        y += LANE_H + GAP
    ll = np.asarray(log_likelihood, dtype=np.float64)
    finite = ll[np.isfinite(ll)]
    shown = pooled(ll, plot_w, "mean")  # scaled to what is drawn: per-base extremes would flatten the mean
    shown = shown[np.isfinite(shown)]
    lo, hi = (float(shown.min()), float(shown.max())) if shown.size else (-2.0, 0.0)
    parts.append(f'<rect x="{LEFT}" y="{_f(y)}" width="{plot_w}" height="{LANE_H}" fill="#fafafa" stroke="#e3e6e8"/>')
    parts.append(_lane(ll, y, lo, hi if hi > lo else lo + 1.0, "#333333", "mean"))
    mean = float(finite.mean()) if finite.size else float("nan")
    parts.append(_label("log-likelihood", y, f"ln P, mean {mean:.3f} ({lo:.2g}..{hi:.2g})"))
    y += LANE_H + GAP
    if features is not None and not features.empty:
        svg, y = _features_svg(features, offset, length, y + 2)
        parts.append(svg)
    y += 6
    for t in np.linspace(0, length, 6).astype(int):
        x = LEFT + t * plot_w / max(length, 1)
        anchor = "start" if t == 0 else ("end" if t == length else "middle")
        parts.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y - 4)}" y2="{_f(y)}" stroke="#888"/>'
            f'<text x="{_f(x)}" y="{_f(y + 11)}" text-anchor="{anchor}">{offset + max(t, 1):,}</text>'
        )
    height = y + 18
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_f(height)}" width="{WIDTH}" '
        f'height="{_f(height)}" role="img" font-family="sans-serif" font-size="10"><title>{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def lanes_for(latents: pd.DataFrame, values: np.ndarray) -> list[dict]:
    """Figure lanes from the shown-latent table and their values [length, shown] for one sequence."""
    lanes = []
    for i, row in enumerate(latents.itertuples()):
        name = f"{row.label or 'latent'} · {row.feature}" if row.annotated else f"latent {row.feature}"
        detail = ("annotated" if row.annotated else "top") + ("" if row.view == "single" else f", {row.view} strand")
        lanes.append({"name": name, "detail": detail, "values": values[:, i], "colour": PALETTE[i % len(PALETTE)]})
    return lanes
