"""Per carded / detailed latent: its strongest peak positions → logo counts and share inside genes, and
every latent's one-line description (describe.py) for features.tsv and the cards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnalens.report.describe import LatentFacts, describe
from dnalens.report.discovery import gene_spans, inside_share
from dnalens.report.logo import LOGO_FLANK, LOGO_PEAKS, base_counts, peak_sequences, top_peaks
from dnalens.report.regions import Regions


@dataclass(frozen=True)
class Portrait:
    counts: np.ndarray  # [2 × flank + 1, 4] A C G T around the peaks, read order
    n_peaks: int
    inside_genes: float | None


def portraits(
    reader,
    latents: list[int],
    tokens,
    sequence_of,
    lengths: dict[str, int],
    regions: Regions,
    n: int = LOGO_PEAKS,
    flank: int = LOGO_FLANK,
) -> dict[int, Portrait]:
    out = {}
    spans = gene_spans(regions) if not regions.table.empty else None
    for f in latents:
        peaks = top_peaks(reader, f, tokens, n)
        seqs = peak_sequences(peaks, sequence_of, lengths, flank)
        share = inside_share(peaks["contig"], peaks["position"], spans) if spans is not None and len(peaks) else None
        out[int(f)] = Portrait(base_counts(seqs), len(seqs), share)
    return out


def descriptions(table: pd.DataFrame, found: dict[int, Portrait], min_margin: float) -> pd.Series:
    """`description` per row of features.tsv (same index)."""
    texts = []
    for r in table.itertuples():
        p = found.get(int(r.latent))
        middle = p.counts[len(p.counts) // 2] if p is not None and len(p.counts) else None
        texts.append(
            describe(
                LatentFacts(
                    label=r.label if isinstance(r.label, str) else None,
                    view=str(r.view),
                    auroc_test=float(r.auroc_test),
                    margin=float(r.margin),
                    annotated=bool(r.annotated),
                    min_margin=min_margin,
                    fires=bool(r.max_activation > 0),
                    peak_counts=tuple(int(x) for x in middle) if middle is not None else None,
                    n_peaks=p.n_peaks if p is not None else 0,
                    inside_genes=p.inside_genes if p is not None else None,
                )
            )
        )
    return pd.Series(texts, index=table.index, dtype=object)
