"""Tokens grouped by their whole label row ("pattern"): the cheap kernel behind every AUROC rank sum.

A genome has few distinct label rows (gene + CDS + codon position 2 + …: hundreds, not millions),
so Σ over a segment's tokens of value × label = (Σ of the values per pattern) @ pattern table: one
bincount over the nonzeros (key = segment × P + pattern of the token) and a small dense product,
instead of expanding every nonzero into each concept of its token. The sums are the same numbers
(half-integer ranks and 0/1 labels: float64 sums are exact in any order). Shift nulls gather the
pattern of each shifted label source once per shift and reuse it for every feature block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_BINS = 1 << 23  # bincount bins per call (segments × patterns): 64 MB of float64


@dataclass(frozen=True)
class LabelPatterns:
    """of_token: int32 [n] pattern id of each token; table: float64 [P, L] its (true, unflipped) labels."""

    of_token: np.ndarray
    table: np.ndarray

    @property
    def n_patterns(self) -> int:
        return self.table.shape[0]

    @classmethod
    def from_csr(cls, indptr: np.ndarray, concept: np.ndarray, flipped: np.ndarray) -> "LabelPatterns":
        """From a token → stored-concept CSR (TokenConcepts' fields; flipped concepts stored as complements)."""
        n, n_l = indptr.size - 1, flipped.size
        n_words = max(1, -(-n_l // 64))
        counts = np.diff(indptr)
        has = counts > 0
        words = np.zeros((n, n_words), np.uint64)
        for w in range(n_words):
            in_word = (concept >= 64 * w) & (concept < 64 * (w + 1))
            bit = np.where(in_word, np.left_shift(np.uint64(1), (concept % 64).astype(np.uint64)), np.uint64(0))
            if has.any():  # distinct concepts per token: their bits' sum is their OR
                words[has, w] = np.add.reduceat(bit, indptr[:-1][has].astype(np.int64))
        if n_words == 1:
            unique, of_token = np.unique(words[:, 0], return_inverse=True)
            unique = unique[:, None]
        else:
            unique, of_token = np.unique(words, axis=0, return_inverse=True)
        bits = (unique[:, np.arange(n_l) // 64] >> (np.arange(n_l) % 64).astype(np.uint64)) & np.uint64(1)
        table = bits.astype(bool) ^ flipped[None, :]
        return cls(of_token.reshape(-1).astype(np.int32), table.astype(np.float64))

    def positives(self, tokens: np.ndarray) -> np.ndarray:
        """[L] positives among `tokens` (repeats count)."""
        per = np.bincount(self.of_token[tokens], minlength=self.n_patterns).astype(np.float64)
        return np.rint(per @ self.table).astype(np.int64)

    def sums(self, seg: np.ndarray, patterns: np.ndarray, n_seg: int, weights: np.ndarray | None = None) -> np.ndarray:
        """[n_seg, L] Σ weight (or count) per segment over each concept's positives; `patterns` = the
        pattern id of each entry's token. Segments are summed `MAX_BINS // P` at a time."""
        p = self.n_patterns
        out = np.empty((n_seg, self.table.shape[1]))
        step = max(1, MAX_BINS // max(p, 1))
        seg = np.asarray(seg, np.int64)
        if n_seg <= step:
            parts = [(0, n_seg, slice(None))]
        else:
            order = np.argsort(seg, kind="stable")
            bounds = np.searchsorted(seg[order], np.arange(0, n_seg + step, step))
            parts = [
                (a, min(a + step, n_seg), order[bounds[i] : bounds[i + 1]]) for i, a in enumerate(range(0, n_seg, step))
            ]
        for a, b, take in parts:
            key = (seg[take] - a) * p + patterns[take]
            w = None if weights is None else weights[take]
            per = np.bincount(key, weights=w, minlength=(b - a) * p).reshape(b - a, p)
            out[a:b] = per @ self.table
        return out
