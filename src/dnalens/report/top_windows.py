"""Top windows: for each feature, the model windows where it fires hardest, with sequence and genes.

The sequence column shows bases around the peak in read order (reverse complement on −) and uses the
soft-mask convention biologists know: UPPERCASE where the feature is on, lowercase where it is off.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.report.tokens import TokenMap, display_locus

SequenceOf = Callable[[str, int, int, str], str]  # (contig, start, end, strand) → read-order bases
GenesOf = Callable[[str, int, int], list[str]]  # (contig, start, end) → gene names
TOP_WINDOW_COLUMNS = (
    "feature_id",
    "rank",
    "window",
    "locus",
    "contig",
    "start",
    "end",
    "strand",
    "peak",
    "activation",
    "mean_activation",
    "genes",
    "context_start",
    "context_end",
    "sequence",
)


def column(codes, feature: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and values of one feature: from a FeatureReader, or a CSC with sorted indices (`sort_indices()`)."""
    if not sp.issparse(codes):
        return codes.column(feature)
    lo, hi = codes.indptr[feature], codes.indptr[feature + 1]
    return codes.indices[lo:hi], codes.data[lo:hi]


def window_profile(codes, feature: int, tokens: TokenMap, window: int) -> np.ndarray:
    """Activation of `feature` at each read-order base of `window` (0 where no token)."""
    w = tokens.windows.iloc[window]
    profile = np.zeros(int(w["end"] - w["start"]), dtype=np.float64)
    rows, values = column(codes, feature)
    lo, hi = np.searchsorted(rows, [w["token_start"], w["token_end"]])
    profile[tokens.offset[rows[lo:hi]]] = values[lo:hi]
    return profile


def read_span_to_genome(w: pd.Series, a: int, b: int) -> tuple[int, int]:
    """Read-order offsets [a, b) of window `w` → unwrapped genome interval [start, end)."""
    if w["strand"] == "-":
        return int(w["end"] - b), int(w["end"] - a)
    return int(w["start"] + a), int(w["start"] + b)


def soft_mask(bases: str, on: np.ndarray) -> str:
    return "".join(b.upper() if flag else b.lower() for b, flag in zip(bases, on))


def best_windows(codes, feature: int, tokens: TokenMap, k: int) -> list[tuple[int, int, float]]:
    """Up to `k` (window, peak row, activation), strongest first; one per (contig, strand, peak base)."""
    rows, values = column(codes, feature)
    keep = values > 0
    rows, values = rows[keep], values[keep]
    if len(rows) == 0:
        return []
    windows = tokens.window[rows]
    order = np.lexsort((rows, -values))  # strongest first, then genome order for ties
    chosen: list[tuple[int, int, float]] = []
    seen_windows: set[int] = set()
    seen_peaks: set[tuple] = set()
    for i in order:
        w = int(windows[i])
        if w in seen_windows:
            continue
        seen_windows.add(w)
        peak = (tokens.contig_of(rows[i : i + 1])[0], bool(tokens.minus[rows[i]]), int(tokens.position[rows[i]]))
        if peak in seen_peaks:  # overlapping tiles see the same peak: show it once
            continue
        seen_peaks.add(peak)
        chosen.append((w, int(rows[i]), float(values[i])))
        if len(chosen) == k:
            break
    return chosen


def top_windows(
    codes,  # FeatureReader, or CSC with sorted indices
    features: list[int],
    tokens: TokenMap,
    *,
    k: int,
    on_level: dict[int, float],
    flank: int,
    sequence_of: SequenceOf,
    genes_of: GenesOf,
) -> pd.DataFrame:
    """top_windows.tsv rows. Coordinates 1-based inclusive (display); `on_level` = absolute "on" cut."""
    out = []
    for feature in features:
        for rank, (w, peak_row, value) in enumerate(best_windows(codes, feature, tokens, k), 1):
            win = tokens.windows.iloc[w]
            length = tokens.contig_lengths[win["contig"]]
            profile = window_profile(codes, feature, tokens, w)
            peak_offset = int(tokens.offset[peak_row])
            a, b = max(0, peak_offset - flank), min(len(profile), peak_offset + flank + 1)
            ctx_start, ctx_end = read_span_to_genome(win, a, b)
            bases = sequence_of(win["contig"], ctx_start, ctx_end, win["strand"])
            covered = profile[profile > 0]
            out.append(
                {
                    "feature_id": feature,
                    "rank": rank,
                    "window": w,
                    "locus": display_locus(win["contig"], int(win["start"]), int(win["end"]), length),
                    "contig": win["contig"],
                    "start": int(win["start"]) % length + 1,
                    "end": (int(win["end"]) - 1) % length + 1,
                    "strand": win["strand"],
                    "peak": int(tokens.position[peak_row]) + 1,
                    "activation": value,
                    "mean_activation": float(covered.mean()) if len(covered) else 0.0,
                    "genes": "; ".join(genes_of(win["contig"], int(win["start"]), int(win["end"]))),
                    "context_start": ctx_start % length + 1,
                    "context_end": (ctx_end - 1) % length + 1,
                    "sequence": soft_mask(bases, profile[a:b] > on_level.get(feature, 0.0)),
                }
            )
    return pd.DataFrame(out, columns=list(TOP_WINDOW_COLUMNS))
