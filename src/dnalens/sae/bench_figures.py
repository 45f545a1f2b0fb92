"""The SAE sweep's three figures as hand-written inline SVG (like the report's plots: no plotting stack, sharp
when zoomed, hover titles): L0 against FVU, L0 against concepts found, and k-sparse probe AUROC against k with
the dense probe as a line. The chosen variant is drawn with a ring and named in bold."""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

import numpy as np

WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 130, 28, 44
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _range(values: Sequence[float], pad: float = 0.08) -> tuple[float, float]:
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo or max(abs(hi), 1.0) * 0.1
    return lo - pad * span, hi + pad * span


class _Axes:
    """Maps data to pixels and draws the frame, ticks and labels."""

    def __init__(
        self, xs: Sequence[float], ys: Sequence[float], xlabel: str, ylabel: str, title: str, log_x=False, counts=False
    ):
        self.log_x, self.counts = log_x, counts
        tx = [np.log10(x) for x in xs if x > 0] if log_x else list(xs)
        self.x0, self.x1 = _range(tx)
        self.y0, self.y1 = _range(ys)
        if counts:  # whole numbers from 0: a count axis
            finite = [y for y in ys if np.isfinite(y)]
            self.y0, self.y1 = -0.5, max(max(finite, default=0) + 0.5, 2.5)
        self.xlabel, self.ylabel, self.title = xlabel, ylabel, title
        self.w, self.h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(self, x: float) -> float:
        t = np.log10(x) if self.log_x else x
        return LEFT + (t - self.x0) / (self.x1 - self.x0) * self.w

    def py(self, y: float) -> float:
        return TOP + (1 - (y - self.y0) / (self.y1 - self.y0)) * self.h

    def frame(self, xticks: Sequence[float] | None = None) -> list[str]:
        parts = [
            f'<rect x="{LEFT}" y="{TOP}" width="{self.w}" height="{self.h}" fill="none" stroke="#999"/>',
            f'<text x="{LEFT + self.w / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(self.xlabel)}</text>',
            f'<text x="14" y="{TOP + self.h / 2}" text-anchor="middle" '
            f'transform="rotate(-90 14 {TOP + self.h / 2})">{escape(self.ylabel)}</text>',
            f'<text x="{LEFT}" y="16" font-weight="bold">{escape(self.title)}</text>',
        ]
        if xticks is None:
            xticks = (
                [10**t for t in np.linspace(self.x0, self.x1, 4)] if self.log_x else np.linspace(self.x0, self.x1, 4)
            )
        for x in xticks:
            parts.append(f'<text x="{self.px(x):.1f}" y="{TOP + self.h + 14}" text-anchor="middle">{_fmt(x)}</text>')
        yticks = (
            range(0, int(self.y1) + 1, max(1, int(self.y1) // 4)) if self.counts else np.linspace(self.y0, self.y1, 4)
        )
        for y in yticks:
            parts.append(f'<text x="{LEFT - 4}" y="{self.py(y) + 4:.1f}" text-anchor="end">{_fmt(y)}</text>')
        return parts


def _svg(parts: list[str], label: str) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{escape(label)}">\n{body}\n</svg>'
    )


def scatter_svg(
    names: Sequence[str],
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    chosen: str | None,
    xlabel: str,
    ylabel: str,
    title: str,
    counts: bool = False,
) -> str:
    """One labelled point per variant; the chosen one ringed and named in bold (`counts`: a whole-number y axis)."""
    axes = _Axes(xs, ys, xlabel, ylabel, title, counts=counts)
    parts = axes.frame()
    for i, (name, x, y) in enumerate(zip(names, xs, ys)):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        cx, cy = axes.px(x), axes.py(y)
        tip = f"{name}: {xlabel} {_fmt(x)}, {ylabel} {_fmt(y)}" + (" (chosen)" if name == chosen else "")
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour(i)}"><title>{escape(tip)}</title></circle>'
        )
        if name == chosen:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="9" fill="none" stroke="#000" stroke-width="2"/>')
        weight = ' font-weight="bold"' if name == chosen else ""
        parts.append(f'<text x="{cx + 8:.1f}" y="{cy - 6:.1f}"{weight}>{escape(name)}</text>')
    return _svg(parts, title)


def lines_svg(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    references: Mapping[str, float],
    *,
    chosen: str | None,
    xlabel: str,
    ylabel: str,
    title: str,
) -> str:
    """One line per variant over k (log axis), references (the dense probe, the baseline) as dashed lines;
    the legend names each line, the chosen variant's thick and bold."""
    xs = [x for x, _ in series.values() for x in x]
    ys = [y for _, y in series.values() for y in y] + list(references.values())
    axes = _Axes(xs or [1, 2], ys or [0.5, 1.0], xlabel, ylabel, title, log_x=True)
    parts = axes.frame(sorted(set(xs)) or None)
    legend_y = TOP + 4
    for j, (label, value) in enumerate(references.items()):
        if not np.isfinite(value):
            continue
        y = axes.py(value)
        dash = ("6 3", "2 3", "9 3 2 3", "1 4")[j % 4]
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + axes.w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#444" stroke-dasharray="{dash}">'
            f"<title>{escape(label)} {_fmt(value)}</title></line>"
        )
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 8}" x2="{WIDTH - RIGHT + 26}" y1="{legend_y}" y2="{legend_y}" stroke="#444" '
            f'stroke-dasharray="{dash}"/><text x="{WIDTH - RIGHT + 30}" y="{legend_y + 4}">{escape(label)}</text>'
        )
        legend_y += 15
    for i, (name, (kx, ky)) in enumerate(series.items()):
        pts = [(axes.px(x), axes.py(y)) for x, y in zip(kx, ky) if x > 0 and np.isfinite(y)]
        if not pts:
            continue
        width = 3 if name == chosen else 1.5
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        tip = f"{name}: " + ", ".join(f"k {x:g} {_fmt(y)}" for x, y in zip(kx, ky))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour(i)}" stroke-width="{width}">'
            f"<title>{escape(tip)}</title></polyline>"
        )
        weight = ' font-weight="bold"' if name == chosen else ""
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 8}" x2="{WIDTH - RIGHT + 26}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{colour(i)}" stroke-width="{width}"/>'
            f'<text x="{WIDTH - RIGHT + 30}" y="{legend_y + 4}"{weight}>{escape(name)}</text>'
        )
        legend_y += 15
    return _svg(parts, title)
