"""Binary concepts per token as a compact CSR, and the segment × concept sum kernels on it.

Sums of a per-token value over each concept's positives, per segment (a feature column, a
(threshold, feature) row), are the core of AUROC rank sums and F1 counts. Each token lists only
the concepts it carries; a concept on more than half of the tokens is stored as its complement and
recovered as segment total − complement sum, which bounds the work by half the label matrix.
The sums go through the few distinct label rows (`label_patterns`: one bincount over the entries) where
segments hold many entries each, else each entry is expanded into its token's stored concepts and
bincounted; both give the same numbers (half-integer ranks and counts are exact in float64 in any order).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from dnalens.probe.label_patterns import LabelPatterns


def expand(tokens: np.ndarray, indptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(count per token, positions into a CSR's entries) listing every entry of every token's row."""
    cnt = indptr[tokens + 1] - indptr[tokens]
    total = int(cnt.sum())
    offset = np.cumsum(cnt) - cnt
    pos = np.repeat(indptr[tokens] - offset, cnt) + np.arange(total, dtype=np.int64)
    return cnt, pos


def pointers(counts: np.ndarray) -> np.ndarray:
    """CSR row pointers of `counts`, int32 when the total fits: [N + 1] arrays over a whole genome."""
    total = int(np.sum(counts, dtype=np.int64))
    out = np.zeros(len(counts) + 1, np.int32 if total < np.iinfo(np.int32).max else np.int64)
    np.cumsum(counts, out=out[1:])
    return out


FROM_LABELS_ROWS = 1 << 20
COUNT_SLICE_TOKENS = 1 << 16  # tokens per slice of the expansion route of `TokenConcepts.counts`


@dataclass(frozen=True)
class TokenConcepts:
    """Token → stored concepts (positives, or the complement for concepts denser than 1/2)."""

    indptr: np.ndarray
    concept: np.ndarray
    flipped: np.ndarray
    n_pos: np.ndarray

    @classmethod
    def from_labels(cls, labels, rows: np.ndarray | None = None) -> "TokenConcepts":
        """From [N, L] labels (bool array-like), for tokens `rows`; read a chunk of rows at a time
        (twice: positives first, to know which concepts to store as complements)."""
        labels = labels.toarray() if sp.issparse(labels) else labels
        if labels.ndim == 1:
            labels = np.asarray(labels)[:, None]
        n_all, n_l = labels.shape
        if rows is not None:
            rows = np.arange(n_all)[rows]
        n = n_all if rows is None else len(rows)

        def chunks():
            for a in range(0, n, FROM_LABELS_ROWS):  # row chunks: np.nonzero's int64 pairs stay small
                part = labels[a : a + FROM_LABELS_ROWS] if rows is None else labels[rows[a : a + FROM_LABELS_ROWS]]
                yield a, np.asarray(part).astype(bool, copy=False)

        n_pos = np.zeros(n_l, np.int64)
        for _, chunk in chunks():
            n_pos += chunk.sum(axis=0)
        flipped = n_pos * 2 > n
        counts = np.zeros(n, np.int64)
        concept_type = np.int16 if n_l < 1 << 15 else np.int32
        concepts = []
        for a, chunk in chunks():
            stored = chunk ^ flipped[None, :] if flipped.any() else chunk
            counts[a : a + len(chunk)] = stored.sum(axis=1)
            concepts.append(np.nonzero(stored)[1].astype(concept_type))  # row-major: grouped by token
        indptr = pointers(counts)
        concept = np.concatenate(concepts) if concepts else np.zeros(0, concept_type)
        return cls(indptr, concept, flipped, n_pos)

    def take(self, rows: np.ndarray) -> "TokenConcepts":
        """The tokens `rows` (any order, repeats allowed) as a new set; flips are kept."""
        cnt, pos = expand(np.asarray(rows, np.int64), self.indptr)
        indptr = pointers(cnt)
        concept = self.concept[pos]
        stored = np.bincount(concept, minlength=self.n_labels)
        n_pos = np.where(self.flipped, cnt.size - stored, stored).astype(np.int64)
        out = TokenConcepts(indptr, concept, self.flipped, n_pos)
        if "patterns" in self.__dict__:  # already built: the subset's pattern ids are a gather
            out.__dict__["patterns"] = LabelPatterns(self.patterns.of_token[rows], self.patterns.table)
        return out

    @property
    def n(self) -> int:
        return self.indptr.size - 1

    @property
    def n_labels(self) -> int:
        return self.flipped.size

    @cached_property
    def patterns(self) -> LabelPatterns:
        """Tokens grouped by their whole label row (`label_patterns`), built once per label set."""
        return LabelPatterns.from_csr(self.indptr, self.concept, self.flipped)

    def use_patterns(self, n_seg: int, n_entries: int) -> bool:
        """Pattern sums cost a bincount over the entries plus [n_seg, P] bins and their [P, L] product; the
        expansion a few operations per (entry, stored concept). Rough element-operation counts decide: many
        columns with few entries each (a 32k dictionary's rare latents) are expanded."""
        n_l = self.flipped.size
        by_pattern = 3 * n_entries + n_seg * self.patterns.n_patterns * (1 + n_l / 4)
        by_expansion = n_entries * (4 + 4 * self.concept.size / max(self.n, 1))
        return by_pattern <= by_expansion

    def counts(self, seg: np.ndarray, tokens: np.ndarray, n_seg: int, weights: np.ndarray | None = None) -> np.ndarray:
        """[n_seg, L]: per segment, the tokens (or the sum of their weights) inside each concept.

        Pattern sums (`label_patterns`) or the expansion of each token into its stored concepts (a slice
        of tokens at a time), whichever `use_patterns` finds cheaper. Weighted sums stay exact for the
        AUROC's half-integer ranks."""
        n_l = self.flipped.size
        tokens = np.asarray(tokens)
        if self.use_patterns(n_seg, tokens.size):
            out = self.patterns.sums(seg, self.patterns.of_token[tokens], n_seg, weights)
            return np.rint(out).astype(np.int64) if weights is None else out
        out = np.zeros(n_seg * n_l, np.int64 if weights is None else np.float64)
        for a in range(0, len(tokens), COUNT_SLICE_TOKENS):  # expand each token to its stored concepts
            b = a + COUNT_SLICE_TOKENS
            cnt, pos = expand(tokens[a:b], self.indptr)
            key = np.repeat(np.asarray(seg[a:b], np.int64) * n_l, cnt) + self.concept[pos]
            w = None if weights is None else np.repeat(weights[a:b], cnt)
            out += np.bincount(key, weights=w, minlength=n_seg * n_l).astype(out.dtype, copy=False)
        out = out.reshape(n_seg, n_l)
        if self.flipped.any():
            seg_total = np.bincount(seg, weights=weights, minlength=n_seg)
            out[:, self.flipped] = seg_total[:, None] - out[:, self.flipped]
        return out

    def stored_dense(self) -> np.ndarray:
        """bool [n, L] of the stored entries (positives, complements for flipped concepts)."""
        out = np.zeros((self.n, self.n_labels), bool)
        out[np.repeat(np.arange(self.n), np.diff(self.indptr)), self.concept] = True
        return out
