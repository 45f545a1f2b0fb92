"""AUROC of every feature for every concept: `auroc_matrix(codes, labels) -> [F, L]`.

Mann–Whitney with average ranks (what sklearn's roc_auc_score computes, ties included): for label l
with n⁺ positives and n⁻ negatives, AUROC = (Σ_{positives} rank − n⁺(n⁺+1)/2) / (n⁺·n⁻). The rank
sums are Rᵀ @ labels with R from `ranks.rank_block` (nonzeros only), summed per distinct label row
(`label_patterns`) or by expanding each nonzero into its token's concepts (`token_concepts`), so the
cost is O(nnz + nnz·concepts per token) at most instead of sorting dense [N, F] columns full of tied
zeros. Shift nulls (`RankedCodes.shifted_auroc`) reuse the held-out ranks and, for dense features, look
up the label pattern of each row's shifted source token instead of building the shifted label set.
"""

from __future__ import annotations

import numpy as np

from dnalens.probe.chunks import DEFAULT_CHUNK_ENTRIES, FeatureChunker
from dnalens.probe.metric_formulas import auroc_from_sums
from dnalens.probe.ranks import RankedBlock, rank_block
from dnalens.probe.token_concepts import TokenConcepts


def auroc_from_ranks(ranked: RankedBlock, labels: TokenConcepts) -> np.ndarray:
    """[n_cols, L] AUROC of a ranked block; degenerate labels (no positives or negatives) give 0.5."""
    if labels.n != ranked.n_rows:
        raise ValueError(f"labels have {labels.n} rows, codes {ranked.n_rows}")
    n_cols = ranked.f1 - ranked.f0
    seg = np.repeat(np.arange(n_cols), np.diff(ranked.indptr))
    sums = labels.counts(seg, ranked.rows, n_cols, weights=ranked.values)
    return auroc_from_sums(sums, ranked.zero_rank, labels.n_pos, labels.n)


SHIFT_GROUP_BINS = 1 << 14  # (shift, column, pattern) bins per bincount of `shifted_auroc`: 128 kB stays in cache


class RankedCodes:
    """Ranks of every feature over a fixed row set, kept for many label sets (nulls, splits)."""

    def __init__(self, codes, *, rows: np.ndarray | None = None, max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES):
        chunker = FeatureChunker(codes, rows=rows, max_entries=max_chunk_entries)
        self.n_rows = chunker.n_rows
        self.n_features = chunker.n_features
        self.blocks = [rank_block(b) for b in chunker]

    def auroc(self, labels: TokenConcepts | np.ndarray) -> np.ndarray:
        if not isinstance(labels, TokenConcepts):
            labels = TokenConcepts.from_labels(labels)
        out = np.empty((self.n_features, labels.n_labels))
        for rb in self.blocks:
            out[rb.f0 : rb.f1] = auroc_from_ranks(rb, labels)
        return out

    def shifted_auroc(
        self, labels: TokenConcepts, sources: np.ndarray, source_ids: np.ndarray, n_pos: np.ndarray
    ) -> np.ndarray:
        """[S, F, L] AUROC when ranked row i carries the labels of token sources[s, i] of `labels`, whose
        label pattern is source_ids[i, s] (a row's shifts adjacent: several shifts per bincount): the same
        numbers as `auroc` of each shifted label set, never built for chunks whose columns hold many entries
        (`TokenConcepts.use_patterns`); the others are summed against the shifted label set, built once per
        shift (cache-friendly rows). n_pos: [S, L] positives of each shifted label set."""
        n_s = sources.shape[0]
        if sources.shape != (n_s, self.n_rows) or source_ids.shape != (self.n_rows, n_s):
            raise ValueError(f"sources must be [shifts, {self.n_rows}], source_ids [{self.n_rows}, shifts]")
        patterns = labels.patterns
        out = np.empty((n_s, self.n_features, labels.n_labels))
        by_pattern = [labels.use_patterns(rb.f1 - rb.f0, rb.values.size) for rb in self.blocks]
        expanded = [rb for rb, use in zip(self.blocks, by_pattern) if not use]
        for s in range(n_s if expanded else 0):  # as before: the shifted label set, built once per shift
            shifted = labels.take(sources[s])
            for rb in expanded:
                seg = np.repeat(np.arange(rb.f1 - rb.f0), np.diff(rb.indptr))
                sums = shifted.counts(seg, rb.rows, rb.f1 - rb.f0, rb.values)
                out[s, rb.f0 : rb.f1] = auroc_from_sums(sums, rb.zero_rank, n_pos[s], self.n_rows)
        for rb in (rb for rb, use in zip(self.blocks, by_pattern) if use):
            n_cols = rb.f1 - rb.f0
            seg = np.repeat(np.arange(n_cols), np.diff(rb.indptr))
            group = max(1, SHIFT_GROUP_BINS // max(n_cols * patterns.n_patterns, 1))
            for a in range(0, n_s, group):
                g = min(group, n_s - a)
                segs = (seg[:, None] + n_cols * np.arange(g)[None, :]).ravel()  # [entry, shift] in C order
                ids = source_ids[rb.rows, a : a + g].ravel()
                sums = patterns.sums(segs, ids, g * n_cols, np.repeat(rb.values, g)).reshape(g, n_cols, -1)
                out[a : a + g, rb.f0 : rb.f1] = auroc_from_sums(sums, rb.zero_rank, n_pos[a : a + g], self.n_rows)
        return out


def auroc_matrix(
    codes,
    labels,
    *,
    rows: np.ndarray | None = None,
    max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> np.ndarray:
    """AUROC [F, L] of each feature (column of `codes`) for each label (column of `labels`), on numpy.

    codes: scipy.sparse [N, F] (any format), a list of row shards, or a dense ndarray (negatives fine).
    labels: bool [N, L], or TokenConcepts of the `rows` only. rows: optional token subset (a split). The
    torch twin is `auroc_torch.auroc_matrix_torch`; `backend.auroc_matrix` picks one by device.
    """
    chunker = FeatureChunker(codes, rows=rows, max_entries=max_chunk_entries)
    if isinstance(labels, TokenConcepts):  # prepared once for many feature blocks: already the rows' labels
        if labels.n != chunker.n_rows:
            raise ValueError(f"labels have {labels.n} rows, the selected codes {chunker.n_rows}")
        lab = labels
    else:
        if np.shape(labels)[0] != chunker.n_total_rows:
            raise ValueError(f"labels have {np.shape(labels)[0]} rows, codes {chunker.n_total_rows}")
        lab = TokenConcepts.from_labels(labels, rows)
    out = np.empty((chunker.n_features, lab.n_labels))
    for block in chunker:
        out[block.f0 : block.f1] = auroc_from_ranks(rank_block(block), lab)
    return out
