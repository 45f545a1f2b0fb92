"""Sequence logo of a latent's strongest positions: the bases ±`flank` around its top peaks, read in the
direction the window was read, drawn as a small inline SVG (no plotting dependency; see plots.py).

Height of a column = its information content, 2 − H bits (H: Shannon entropy of the base counts, no
small-sample correction: with ~200 peaks it is ~0.01 bit); each letter's height = its share × that.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from dnalens.report.top_windows import SequenceOf, column

BASES = "ACGT"
COLOURS = {"A": "#2ca02c", "C": "#1f77b4", "G": "#ff7f0e", "T": "#d62728"}
LOGO_PEAKS = 200  # peak positions per logo
LOGO_FLANK = 5  # bases either side of each peak
CAP_HEIGHT = 0.72  # capital-letter height / font size (sans-serif): the scale that makes a letter `h` px tall


def top_peaks(codes, feature: int, tokens, n: int = LOGO_PEAKS) -> pd.DataFrame:
    """The `n` strongest distinct (contig, strand, position) tokens of `feature`: contig, position (0-based),
    strand, activation; overlapping tiles report the same base twice and it counts once."""
    rows, values = column(codes, feature)
    keep = values > 0
    rows, values = np.asarray(rows)[keep], np.asarray(values)[keep]
    if len(rows) == 0:
        return pd.DataFrame(columns=["contig", "position", "strand", "activation"])
    if len(rows) > 8 * n:  # busy latents hold millions of values: sort only the strongest few
        part = np.argpartition(-values, 8 * n)[: 8 * n]
        rows, values = rows[part], values[part]
    order = np.lexsort((rows, -values))
    rows, values = rows[order], values[order]
    table = pd.DataFrame(
        {
            "contig": tokens.contig_of(rows),
            "position": tokens.position[rows].astype(np.int64),
            "strand": np.where(tokens.minus[rows], "-", "+"),
            "activation": values.astype(float),
        }
    )
    return table.drop_duplicates(["contig", "strand", "position"]).head(n).reset_index(drop=True)


def peak_sequences(
    peaks: pd.DataFrame, sequence_of: SequenceOf, lengths: dict[str, int], flank: int = LOGO_FLANK
) -> list[str]:
    """Read-order bases [peak − flank, peak + flank] per peak (the peak is the middle letter); peaks
    closer than `flank` to a contig end are left out."""
    out = []
    for contig, pos, strand in zip(peaks["contig"], peaks["position"], peaks["strand"]):
        if pos - flank < 0 or pos + flank + 1 > lengths[contig]:
            continue
        out.append(sequence_of(contig, int(pos) - flank, int(pos) + flank + 1, strand).upper())
    return out


def base_counts(sequences: list[str]) -> np.ndarray:
    """[positions, 4] counts of A, C, G, T (other letters ignored); sequences of one length."""
    if not sequences:
        return np.zeros((0, 4), dtype=np.int64)
    arr = np.frombuffer("".join(sequences).encode(), dtype="S1").reshape(len(sequences), -1)
    return np.stack([(arr == b.encode()).sum(axis=0) for b in BASES], axis=1).astype(np.int64)


def information(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bits per position, letter heights [positions, 4] in bits): 2 − H and share × (2 − H)."""
    totals = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros(counts.shape, float), where=totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    bits = np.where(totals[:, 0] > 0, 2.0 - h, 0.0)
    return bits, p * bits[:, None]


def logo_svg(counts: np.ndarray, title: str = "", *, column_width: int = 22, height: int = 80) -> str:
    """Inline SVG logo of `counts` ([positions, 4]); x labels are offsets from the middle (peak) base."""
    bits, heights = information(counts)
    n = len(bits)
    left, bottom, top = 30, 16, 6
    plot_h = height - bottom - top
    width = left + n * column_width + 6
    y0 = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="logo" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y0}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 8}" font-size="9" text-anchor="end">2</text>',
        f'<text x="{left - 4}" y="{y0}" font-size="9" text-anchor="end">0</text>',
        f'<text x="8" y="{top + plot_h / 2:.1f}" font-size="9" text-anchor="middle" '
        f'transform="rotate(-90 8 {top + plot_h / 2:.1f})">bits</text>',
    ]
    middle = n // 2
    font = 20.0
    for i in range(n):
        x = left + i * column_width
        y = float(y0)
        for b in np.argsort(heights[i], kind="stable"):  # smallest at the bottom, largest on top
            h = heights[i, b] / 2.0 * plot_h
            if h < 0.5:
                continue
            sy = h / (CAP_HEIGHT * font)
            sx = column_width / (0.68 * font)
            letter = BASES[b]
            parts.append(
                f'<text transform="translate({x:.1f},{y:.2f}) scale({sx:.3f},{sy:.3f})" '
                f'font-size="{font:g}" font-family="Arial,Helvetica,sans-serif" font-weight="bold" '
                f'fill="{COLOURS[letter]}">{letter}<title>{letter}: {heights[i, b]:.2f} bits</title></text>'
            )
            y -= h
        parts.append(
            f'<text x="{x + column_width / 2:.1f}" y="{height - 3}" font-size="9" text-anchor="middle">'
            f"{i - middle:+d}</text>"
            if i != middle
            else f'<text x="{x + column_width / 2:.1f}" y="{height - 3}" font-size="9" text-anchor="middle" '
            f'font-weight="bold">0</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
