"""Metagene profiles: a feature's mean activation at each base around start codons, stops, splice sites.

Offsets run 5'→3' on the anchor's strand, and only windows READ on that strand contribute, so a CDS
feature (sense) and a CDS_antisense feature give different curves. A read-order window runs in the
sense direction of its strand, so offset d sits at read offset (anchor's read offset + d) in both
cases; the window holding the anchor nearest its centre is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnalens.formats.coordinates import read_offsets
from dnalens.report.feature_reader import as_reader
from dnalens.report.tokens import TokenMap


def anchor_rows(anchors: pd.DataFrame, tokens: TokenMap, flank: int) -> np.ndarray:
    """Buffer row for each anchor × offset (−flank..flank), −1 where no same-strand window has it."""
    offsets = np.arange(-flank, flank + 1)
    out = np.full((len(anchors), len(offsets)), -1, dtype=np.int64)
    win = tokens.windows
    wlen = (win["end"] - win["start"]).to_numpy(np.int64)
    read0 = win["read_offset"].to_numpy(np.int64) if "read_offset" in win else np.zeros(len(win), np.int64)
    ntok = (win["token_end"] - win["token_start"]).to_numpy(np.int64)
    for (contig, strand), group in anchors.groupby(["contig", "strand"], sort=False):
        length = tokens.contig_lengths.get(contig)
        cand = np.flatnonzero((win["contig"].to_numpy() == contig) & (win["strand"].to_numpy() == strand))
        if length is None or len(cand) == 0:
            continue
        wstart, wend = win["start"].to_numpy(np.int64)[cand], win["end"].to_numpy(np.int64)[cand]
        for i, pos in zip(group.index, group["position"].to_numpy(np.int64)):
            base = read_offsets(pos, wstart, wend, strand == "-", length)
            inside = base < wlen[cand]
            if not inside.any():
                continue
            centrality = np.abs(base - wlen[cand] / 2)
            best = np.flatnonzero(inside)[np.argmin(centrality[inside])]
            w = cand[best]
            token_offset = base[best] + offsets - read0[w]
            ok = (token_offset >= 0) & (token_offset < ntok[w])
            row = anchors.index.get_loc(i)
            out[row, ok] = win["token_start"].to_numpy(np.int64)[w] + token_offset[ok]
    return out


def metagene_profiles(
    codes,
    features: list[int],
    tokens: TokenMap,
    anchors: pd.DataFrame,
    *,
    flank: int,
    max_anchors: int,
) -> dict[int, dict[str, tuple[np.ndarray, np.ndarray, int]]]:
    """{feature: {kind: (offsets, mean activation per offset (NaN where no data), anchors used)}}.

    At most `max_anchors` per kind, evenly spaced through the annotation (deterministic).
    """
    offsets = np.arange(-flank, flank + 1)
    result: dict[int, dict[str, tuple[np.ndarray, np.ndarray, int]]] = {f: {} for f in features}
    if not features:
        return result
    reader = as_reader(codes)
    kinds = []  # (kind, buffer rows of valid (anchor, offset) cells, their offset index, counts, anchors used)
    for kind, group in anchors.groupby("kind", sort=False):
        if len(group) > max_anchors:
            group = group.iloc[np.linspace(0, len(group) - 1, max_anchors).astype(int)]
        rows = anchor_rows(group.reset_index(drop=True), tokens, flank)
        valid = rows >= 0
        kinds.append((str(kind), rows[valid], np.nonzero(valid)[1], valid.sum(axis=0), int(valid.any(axis=1).sum())))
    for f in features:  # one column read per feature, every kind from it
        f_rows, f_values = reader.column(f)
        for kind, cells, offset_index, counts, used in kinds:
            at = np.minimum(np.searchsorted(f_rows, cells), max(len(f_rows) - 1, 0))
            found = f_rows[at] == cells if len(f_rows) else np.zeros(len(cells), bool)
            values = np.where(found, f_values[at] if len(f_rows) else 0.0, 0.0).astype(np.float64)
            sums = np.bincount(offset_index, weights=values, minlength=len(offsets))
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            result[f][kind] = (offsets, means, used)
    return result
