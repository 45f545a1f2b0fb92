"""Hand-written inline SVG for report.html: activation along a window with the annotation beneath,
and metagene profiles.

Why not matplotlib: these are two plot kinds made of lines and boxes; plain SVG keeps the report
small (a few kB per card instead of base64 PNGs), sharp at any zoom, with selectable text and hover
titles, and needs no extra 40 MB dependency or font cache on a cluster node.
"""

from __future__ import annotations

from html import escape
from typing import Mapping

import numpy as np
import pandas as pd

WIDTH = 960
LANE = 14
KIND_TITLES = {
    "start_codon": "start codon",
    "stop_codon": "stop codon",
    "splice_donor": "splice donor (exon|intron)",
    "splice_acceptor": "splice acceptor (intron|exon)",
}
_PART_STYLE = {  # type → (lane, height, fill)
    "gene": (0, 4, "#555555"),
    "pseudogene": (0, 4, "#999999"),
    "exon": (1, 8, "#9ecae1"),
    "tRNA": (1, 8, "#a1d99b"),
    "rRNA": (1, 8, "#a1d99b"),
    "ncRNA": (1, 8, "#a1d99b"),
    "CDS": (1, 12, "#3182bd"),
    "repeat_region": (2, 6, "#fdae6b"),
    "mobile_genetic_element": (2, 6, "#e6550d"),
}


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def pooled_max(values: np.ndarray, bins: int) -> np.ndarray:
    """Max-pool to at most `bins` points so a peak one base wide still shows at 600 px."""
    if len(values) <= bins:
        return values
    edges = np.linspace(0, len(values), bins + 1).astype(int)
    return np.maximum.reduceat(values, edges[:-1])


def _polyline(xs: np.ndarray, ys: np.ndarray, colour: str, fill: bool, base: float) -> str:
    points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in zip(xs, ys))
    if fill:
        area = f"{_fmt(xs[0])},{_fmt(base)} {points} {_fmt(xs[-1])},{_fmt(base)}"
        return (
            f'<polygon points="{area}" fill="{colour}" fill-opacity="0.35" stroke="none"/>'
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.2"/>'
        )
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>'


def _ticks(n: int, count: int = 5) -> list[int]:
    """About `count` round tick positions in [0, n]."""
    if n <= 0:
        return [0]
    raw = n / max(count - 1, 1)
    step = min((m * 10**e for e in range(0, 9) for m in (1, 2, 5)), key=lambda v: (v < raw, abs(v - raw)))
    return list(range(0, n + 1, int(step)))


def activation_track_svg(
    profile: np.ndarray,
    *,
    contig: str,
    start: int,
    end: int,
    strand: str,
    parts: pd.DataFrame,
    colour: str,
    on_level: float,
    ymax: float,
    contig_length: int,
    title: str,
    read_span: tuple[int, int] | None = None,
) -> str:
    """Activation along one window in READ order (5'→3' of the read, left to right), annotation below.

    `parts`: contig, type, start, end, strand, name in unwrapped genome coordinates (may pass
    `contig_length` on circular contigs); drawn in the read's direction, arrows for their strand.
    `read_span`: read-order offsets [a, b) the model reported; bases outside it (model.trim) are shaded
    so a flat zero there is not read as "off".
    """
    n = len(profile)
    left, plot_w, top, plot_h = 58, WIDTH - 68, 18, 90
    lanes_top = top + plot_h + 36
    height = lanes_top + 3 * LANE + 43
    ymax = ymax if ymax > 0 else 1.0
    pooled = pooled_max(profile, plot_w)
    xs = left + (np.arange(len(pooled)) + 0.5) * plot_w / max(len(pooled), 1)
    ys = top + plot_h - np.clip(pooled / ymax, 0, 1) * plot_h

    def x_of(genome_pos: float) -> float:  # genome coordinate → pixel, in read direction
        offset = (end - genome_pos) if strand == "-" else (genome_pos - start)
        return left + np.clip(offset, 0, n) * plot_w / max(n, 1)

    def x_read(offset: float) -> float:
        return left + offset * plot_w / max(n, 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" font-family="sans-serif" font-size="10">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    trimmed = False
    if read_span is not None:
        for a, b in ((0, read_span[0]), (read_span[1], n)):
            if b > a:
                trimmed = True
                out.append(
                    f'<rect x="{_fmt(x_read(a))}" y="{top}" width="{_fmt(x_read(b) - x_read(a))}" '
                    f'height="{plot_h}" fill="#d9d9d9" fill-opacity="0.7"><title>bases {a + 1}-{b} of the '
                    f"window: trimmed (model.trim), no activation reported</title></rect>"
                )
    if 0 < on_level < ymax:
        y_on = top + plot_h - on_level / ymax * plot_h
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{_fmt(y_on)}" y2="{_fmt(y_on)}" '
            f'stroke="#888" stroke-dasharray="3,3"><title>"on" level {on_level:.3g}</title></line>'
        )
    out.append(_polyline(xs, ys, colour, fill=True, base=top + plot_h))
    out.append(
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{ymax:.3g}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<text transform="translate(14,{top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
        f'fill="#333">activation</text>'
    )
    for t in _ticks(n):
        anchor = "start" if t == 0 else ("end" if t == n else "middle")
        out.append(
            f'<line x1="{_fmt(x_read(t))}" x2="{_fmt(x_read(t))}" y1="{top + plot_h}" y2="{top + plot_h + 3}" '
            f'stroke="#999"/><text x="{_fmt(x_read(t))}" y="{top + plot_h + 12}" '
            f'text-anchor="{anchor}">{t}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 25}" text-anchor="middle" fill="#333">'
        f"position in window (nt, read direction)</text>"
    )
    first = (end - 1 if strand == "-" else start) % contig_length + 1
    last = (start if strand == "-" else end - 1) % contig_length + 1
    out.append(
        f'<text x="{left}" y="{top - 5}">{escape(contig)}:{first:,} ({strand} strand, read →)</text>'
        f'<text x="{left + plot_w}" y="{top - 5}" text-anchor="end">{last:,}</text>'
    )
    for p in parts.itertuples(index=False):
        lane, h, fill = _PART_STYLE.get(p.type, (2, 6, "#bbbbbb"))
        x1, x2 = sorted((x_of(p.start), x_of(p.end)))
        if x2 - x1 < 0.5:
            continue
        y = lanes_top + lane * LANE + (LANE - h) / 2
        product = getattr(p, "product", "")
        label = (
            f"{p.type} {p.name or ''} {p.start % contig_length + 1}-{(p.end - 1) % contig_length + 1} ({p.strand})"
            + (f" {product}" if isinstance(product, str) and product else "")
        )
        out.append(
            f'<rect x="{_fmt(x1)}" y="{_fmt(y)}" width="{_fmt(x2 - x1)}" height="{h}" fill="{fill}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if p.strand in "+-" and x2 - x1 > 12:
            pointing_right = p.strand == strand
            tip, back = (x2, x2 - 5) if pointing_right else (x1, x1 + 5)
            cy = y + h / 2
            out.append(
                f'<polygon points="{_fmt(tip)},{_fmt(cy)} {_fmt(back)},{_fmt(y - 2)} {_fmt(back)},'
                f'{_fmt(y + h + 2)}" fill="{fill}"/>'
            )
        if p.type in ("gene", "pseudogene") and p.name and x2 - x1 > 30:
            out.append(
                f'<text x="{_fmt((x1 + x2) / 2)}" y="{_fmt(y - 2)}" text-anchor="middle">{escape(str(p.name))}</text>'
            )
    legend_y = lanes_top + 3 * LANE + 14
    x = left
    for label, fill in (
        ("gene", "#555555"),
        ("exon / RNA", "#9ecae1"),
        ("CDS", "#3182bd"),
        ("repeat / mobile element", "#fdae6b"),
    ):
        out.append(
            f'<rect x="{x}" y="{legend_y - 8}" width="10" height="8" fill="{fill}"/>'
            f'<text x="{x + 13}" y="{legend_y}" fill="#555">{label}</text>'
        )
        x += 20 + 6 * len(label)
    if trimmed:
        out.append(
            f'<rect x="{x}" y="{legend_y - 8}" width="10" height="8" fill="#d9d9d9"/>'
            f'<text x="{x + 13}" y="{legend_y}" fill="#555">trimmed edge (model.trim): no activation</text>'
        )
        x += 20 + 6 * len("trimmed edge (model.trim): no activation")
    out.append(
        f'<text x="{left}" y="{legend_y + 13}" fill="#555">arrows: the annotated feature\'s strand '
        f'relative to the read; dashed line: the latent\'s "on" level</text></svg>'
    )
    return "".join(out)


def metagene_svg(profiles: Mapping[str, tuple[np.ndarray, np.ndarray, int]], colour: str, title: str) -> str:
    """One panel per anchor kind (two per row, 480 × 220 px plot areas, shared y scale): mean activation
    at offsets around the anchor, in the anchor's sense.

    `profiles[kind] = (offsets, mean activation, number of anchors)`.
    """
    kinds = [k for k in KIND_TITLES if k in profiles]
    plot_w, plot_h, left, top, bottom, right = 480, 220, 56, 24, 40, 14
    panel_w, panel_h = left + plot_w + right, top + plot_h + bottom
    columns = min(max(len(kinds), 1), 2)
    rows = max(-(-len(kinds) // 2), 1)
    width, height = columns * panel_w, rows * panel_h + 18
    peak = max((float(np.nanmax(m)) for _, m, n in profiles.values() if n and np.isfinite(m).any()), default=0.0)
    ymax = peak if peak > 0 else 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" font-family="sans-serif" font-size="11"><title>{escape(title)}</title>'
    ]
    for i, kind in enumerate(kinds):
        offsets, mean, count = profiles[kind]
        x0 = (i % 2) * panel_w + left
        y0 = (i // 2) * panel_h + top
        base = y0 + plot_h
        out.append(
            f'<text x="{x0 + plot_w / 2}" y="{y0 - 8}" text-anchor="middle" font-size="12" font-weight="600">'
            f"{escape(KIND_TITLES[kind])} (n={count:,})</text>"
            f'<rect x="{x0}" y="{y0}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>'
        )
        for frac in (0, 0.5, 1):
            y = base - frac * plot_h
            out.append(
                f'<line x1="{x0 - 3}" x2="{x0}" y1="{_fmt(y)}" y2="{_fmt(y)}" stroke="#999"/>'
                f'<text x="{x0 - 5}" y="{_fmt(y + 4)}" text-anchor="end">{frac * ymax:.3g}</text>'
            )
        out.append(
            f'<text transform="translate({x0 - 42},{y0 + plot_h / 2}) rotate(-90)" text-anchor="middle" '
            f'fill="#333">mean activation</text>'
        )
        lo, hi = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 1)
        span = max(hi - lo, 1)

        def x_of(d: float) -> float:
            return x0 + (d - lo) * plot_w / span

        for d in sorted({lo, lo // 2, 0, hi // 2, hi}):
            out.append(
                f'<line x1="{_fmt(x_of(d))}" x2="{_fmt(x_of(d))}" y1="{base}" y2="{base + 3}" stroke="#999"/>'
                f'<text x="{_fmt(x_of(d))}" y="{base + 14}" text-anchor="middle">{d:+d}</text>'.replace(">+0<", ">0<")
            )
        out.append(
            f'<line x1="{_fmt(x_of(0))}" x2="{_fmt(x_of(0))}" y1="{y0}" y2="{base}" stroke="#bbb" '
            f'stroke-dasharray="4,3"/>'
            f'<text x="{x0 + plot_w / 2}" y="{base + 30}" text-anchor="middle" fill="#333">position relative to '
            f"the anchor (nt, 5'→3' on its strand)</text>"
        )
        if count and np.isfinite(mean).any():
            xs = x0 + (offsets - lo) * plot_w / span
            ys = base - np.clip(np.nan_to_num(mean) / ymax, 0, 1) * plot_h
            out.append(_polyline(xs, ys, colour, fill=False, base=base))
        else:
            out.append(
                f'<text x="{x0 + plot_w / 2}" y="{y0 + plot_h / 2}" text-anchor="middle" fill="#999">no anchors</text>'
            )
    out.append(
        f'<text x="10" y="{height - 4}" fill="#555">{escape(title)}: mean activation over the anchors '
        f"(windows read on the anchor's strand); same y scale in every panel</text></svg>"
    )
    return "".join(out)
