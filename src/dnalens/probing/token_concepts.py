"""Binary concepts per token as a compact CSR, and the expand-and-bincount kernel on it.

Sums of a per-token value over each concept's positives, per segment (a feature column, a
(threshold, feature) row), are the core of AUROC rank sums and F1 counts. Each token lists only
the concepts it carries; a concept on more than half of the tokens is stored as its complement and
recovered as segment total − complement sum, which bounds the work by half the label matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def expand(tokens: np.ndarray, indptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count per token, positions into a CSR's entries) listing every entry of every token's row."""
    cnt = indptr[tokens + 1] - indptr[tokens]
    total = int(cnt.sum())
    offset = np.cumsum(cnt) - cnt
    pos = np.repeat(indptr[tokens] - offset, cnt) + np.arange(total, dtype=np.int64)
    return cnt, pos


FROM_LABELS_ROWS = 1 << 20


@dataclass(frozen=True)
class TokenConcepts:
    """Token → stored concepts (positives, or the complement for concepts denser than 1/2)."""

    indptr: np.ndarray
    concept: np.ndarray
    flipped: np.ndarray
    n_pos: np.ndarray

    @classmethod
    def from_labels(cls, labels, rows: np.ndarray | None = None) -> "TokenConcepts":
        labels = np.asarray(labels.toarray() if sp.issparse(labels) else labels)
        if labels.ndim == 1:
            labels = labels[:, None]
        if rows is not None:
            labels = labels[rows]
        labels = labels.astype(bool, copy=False)
        n, n_l = labels.shape
        n_pos = labels.sum(axis=0).astype(np.int64)
        flipped = n_pos * 2 > n
        counts = np.zeros(n, np.int64)
        concepts = []
        for a in range(0, n, FROM_LABELS_ROWS):  # row chunks: np.nonzero's int64 pairs stay small
            chunk = labels[a:a + FROM_LABELS_ROWS]
            stored = chunk ^ flipped[None, :] if flipped.any() else chunk
            counts[a:a + len(chunk)] = stored.sum(axis=1)
            concepts.append(np.nonzero(stored)[1].astype(np.int32))  # row-major: grouped by token
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        concept = np.concatenate(concepts) if concepts else np.zeros(0, np.int32)
        return cls(indptr, concept, flipped, n_pos)

    def take(self, rows: np.ndarray) -> "TokenConcepts":
        """The tokens `rows` (any order, repeats allowed) as a new set; flips are kept."""
        cnt, pos = expand(np.asarray(rows, np.int64), self.indptr)
        indptr = np.zeros(cnt.size + 1, np.int64)
        np.cumsum(cnt, out=indptr[1:])
        concept = self.concept[pos]
        stored = np.bincount(concept, minlength=self.n_labels)
        n_pos = np.where(self.flipped, cnt.size - stored, stored).astype(np.int64)
        return TokenConcepts(indptr, concept, self.flipped, n_pos)

    @property
    def n(self) -> int:
        return self.indptr.size - 1

    @property
    def n_labels(self) -> int:
        return self.flipped.size

    def counts(self, seg: np.ndarray, tokens: np.ndarray, n_seg: int, weights: np.ndarray | None = None) -> np.ndarray:
        """[n_seg, L]: per segment, the tokens (or the sum of their weights) inside each concept."""
        n_l = self.flipped.size
        cnt, pos = expand(tokens, self.indptr)
        key = np.repeat(seg * n_l, cnt) + self.concept[pos]
        w = None if weights is None else np.repeat(weights, cnt)
        out = np.bincount(key, weights=w, minlength=n_seg * n_l).reshape(n_seg, n_l)
        if weights is not None:
            out = out.astype(np.float64, copy=False)  # bincount of no entries is int64
        if self.flipped.any():
            seg_total = np.bincount(seg, weights=weights, minlength=n_seg)
            out[:, self.flipped] = seg_total[:, None] - out[:, self.flipped]
        return out

    def stored_dense(self) -> np.ndarray:
        """bool [n, L] of the stored entries (positives, complements for flipped concepts)."""
        out = np.zeros((self.n, self.n_labels), bool)
        out[np.repeat(np.arange(self.n), np.diff(self.indptr)), self.concept] = True
        return out
