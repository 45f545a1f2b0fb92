"""AUROC of every feature for every concept: `auroc_matrix(codes, labels) -> [F, L]`.

Mann–Whitney with average ranks (what sklearn's roc_auc_score computes, ties included): for label l
with n⁺ positives and n⁻ negatives, AUROC = (Σ_{positives} rank − n⁺(n⁺+1)/2) / (n⁺·n⁻). The rank
sums are Rᵀ @ labels with R from `ranks.rank_block` (nonzeros only), computed by expanding each
nonzero into the concepts of its token (`token_concepts`), so the cost is O(nnz + nnz·concepts per
token) instead of sorting dense [N, F] columns full of tied zeros.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dnalens.probing.chunks import DEFAULT_CHUNK_ENTRIES, FeatureChunker
from dnalens.probing.ranks import RankedBlock, rank_block
from dnalens.probing.token_concepts import TokenConcepts


def auroc_from_ranks(ranked: RankedBlock, labels: TokenConcepts) -> np.ndarray:
    """[n_cols, L] AUROC of a ranked block; degenerate labels (no positives or negatives) give 0.5."""
    if labels.n != ranked.n_rows:
        raise ValueError(f"labels have {labels.n} rows, codes {ranked.n_rows}")
    n_cols = ranked.f1 - ranked.f0
    seg = np.repeat(np.arange(n_cols), np.diff(ranked.indptr))
    pos_rank_sum = labels.counts(seg, ranked.rows, n_cols, weights=ranked.values)
    pos_rank_sum += np.outer(ranked.zero_rank, labels.n_pos)
    n_pos = labels.n_pos.astype(np.float64)
    n_neg = labels.n - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[:, (n_pos == 0) | (n_neg == 0)] = 0.5
    return auc


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


def auroc_matrix(
    codes,
    labels,
    *,
    rows: np.ndarray | None = None,
    device: str | None = None,
    max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> np.ndarray:
    """AUROC [F, L] of each feature (column of `codes`) for each label (column of `labels`).

    codes: scipy.sparse [N, F] (any format), a list of row shards, or a dense ndarray (negatives fine).
    labels: bool [N, L], or TokenConcepts of the `rows` only. rows: optional token subset (a split). device: None/"cpu"
    (numpy + scipy.sparse) or a torch device ("cuda", "cuda:1", "cpu-torch" for the torch path on CPU).
    """
    if device not in (None, "cpu"):
        from dnalens.probing.auroc_torch import auroc_matrix_torch

        torch_device = "cpu" if device == "cpu-torch" else device
        return auroc_matrix_torch(codes, labels, rows=rows, device=torch_device, max_chunk_entries=max_chunk_entries)
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
