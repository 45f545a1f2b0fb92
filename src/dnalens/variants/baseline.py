"""Sequence-only expectations for a change, to tell what a model adds beyond counting.

Two scores per SNV, both from the genome alone, both "how ordinary is the new sequence compared to the old":
- `kmer5_score`: log2 of (genome count of the 5-mer centred on the variant with the alt base + 1) over (the
  same with the reference base + 1), both strands counted. A change into a rare context scores low.
- `codon_usage_score` (coding SNVs/MNVs with a codon change): log2 of the alt codon's frequency over the
  reference codon's among all codons of the annotated CDSs (+1 each). Stop codons occur once per gene, so a
  stop_gained change scores very low: a strong, model-free separation of nonsense from synonymous changes
  that the model's Δ log-likelihood must beat to show it knows more than codon statistics.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from dnalens.concepts.genome_data import encode

K = 5


def kmer_counts(sequences: Mapping[str, str], k: int = K) -> np.ndarray:
    """Counts [4^k] of every k-mer without N on both strands of all contigs (index: base-4 digits, A0 C1 G2 T3)."""
    counts = np.zeros(4**k, dtype=np.int64)
    for seq in sequences.values():
        codes = encode(seq).astype(np.int64)
        if len(codes) < k:
            continue
        for strand in (codes, _revcomp_codes(codes)):
            windows = np.lib.stride_tricks.sliding_window_view(strand, k)
            ok = (windows < 4).all(axis=1)
            index = (windows[ok] * (4 ** np.arange(k - 1, -1, -1))).sum(axis=1)
            counts += np.bincount(index, minlength=4**k)
    return counts


def _revcomp_codes(codes: np.ndarray) -> np.ndarray:
    out = np.where(codes < 4, 3 - codes, 4)
    return out[::-1]


def kmer_index(kmer: str) -> int | None:
    codes = encode(kmer)
    if len(codes) != K or (codes > 3).any():
        return None
    return int((codes.astype(np.int64) * (4 ** np.arange(K - 1, -1, -1))).sum())


def kmer5_score(counts: np.ndarray, seq: str, start: int, ref: str, alt: str) -> float:
    """The module's `kmer5_score` for an SNV at 0-based `start` of contig sequence `seq` (NaN otherwise)."""
    if len(ref) != 1 or len(alt) != 1 or start < 2 or start + 3 > len(seq):
        return float("nan")
    context = seq[start - 2 : start + 3]
    a, b = kmer_index(context), kmer_index(context[:2] + alt + context[3:])
    if a is None or b is None:
        return float("nan")
    return float(np.log2((counts[b] + 1) / (counts[a] + 1)))


def codon_counts(model) -> dict[str, int]:
    """Codon -> count over the CDSs of a ConsequenceModel (its coding transcripts, in frame)."""
    counts: dict[str, int] = {}
    comp = str.maketrans("ACGT", "TGCA")
    for units in model.by_contig.values():
        for unit in units:
            if not len(unit.cds_pos):
                continue
            seq = model.sequences[unit.contig]
            cds = "".join(seq[p] for p in unit.cds_pos)
            if unit.strand == "-":
                cds = cds.translate(comp)
            for i in range(unit.phase, len(cds) - 2, 3):
                codon = cds[i : i + 3]
                counts[codon] = counts.get(codon, 0) + 1
    return counts


def codon_usage_score(counts: Mapping[str, int], codon_change: str) -> float:
    """The module's `codon_usage_score` for a `REF>ALT` codon change ('' or a multi-codon change: NaN)."""
    if ">" not in codon_change:
        return float("nan")
    ref, alt = codon_change.split(">")
    if len(ref) != 3 or len(alt) != 3:
        return float("nan")
    return float(np.log2((counts.get(alt, 0) + 1) / (counts.get(ref, 0) + 1)))
