"""Sequence-only baselines: how well does P(concept | context code) predict a concept on held-out blocks?

A feature's claim is its margin over what the sequence alone gives (docs/ARCHITECTURE.md, "probe"):
a start codon is ATG/GTG/TTG at the centre, so a 5-mer lookup reaches held-out AUROC ~0.97 and a
"start-codon feature" must beat that, not 0.5. Each baseline maps a token to one code
(`sequence_context`); its score is P(concept | code) counted on TRAIN tokens with a pseudocount
(`PSEUDOCOUNT` tokens at the concept's train base rate), read at held-out tokens.

AUROC is the same tie-aware Mann–Whitney statistic as `probe.auroc` (equal scores share their
average rank), computed from per-code counts: tokens with one code share one score, so it is a sum
over ≤ 4^5 + 1 codes instead of a sort of every token.

The baseline chosen for a concept is the one with the best TRAIN AUROC, cross-fitted: train blocks
are split by block parity, each half scored by the table of the other half, so a 1025-code 5-mer
table cannot win by memorising rare train tokens. Held-out AUROC uses the table of all train tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.probe.token_concepts import TokenConcepts

PSEUDOCOUNT = 1.0


def code_counts(code: np.ndarray, concepts: TokenConcepts, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(positives [n_codes, L], tokens [n_codes]) of the tokens of `concepts` (code aligned with them)."""
    code = np.asarray(code, np.int64)
    pos = concepts.counts(code, np.arange(code.size, dtype=np.int64), n_codes).astype(np.float64)
    return pos, np.bincount(code, minlength=n_codes).astype(np.float64)


def fit_table(pos: np.ndarray, total: np.ndarray, pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """P(concept | code) [n_codes, L] with `pseudocount` tokens at the base rate added to every code."""
    pos = np.asarray(pos, np.float64).reshape(len(total), -1)
    prior = pos.sum(axis=0) / max(float(total.sum()), 1.0)
    return (pos + pseudocount * prior[None, :]) / (total[:, None] + pseudocount)


def auroc_from_counts(scores: np.ndarray, pos: np.ndarray, total: np.ndarray) -> np.ndarray:
    """[L] tie-aware AUROC when every token of code c scores scores[c, l]; pos [n_codes, L] positives and
    total [n_codes] tokens per code. 0.5 where a concept has no positives or no negatives (as probe.auroc)."""
    scores = np.asarray(scores, np.float64).reshape(len(total), -1)
    pos = np.asarray(pos, np.float64).reshape(len(total), -1)
    neg = total[:, None] - pos
    out = np.full(scores.shape[1], 0.5)
    for lab in range(scores.shape[1]):
        n_pos, n_neg = pos[:, lab].sum(), neg[:, lab].sum()
        if n_pos == 0 or n_neg == 0:
            continue
        values, group = np.unique(scores[:, lab], return_inverse=True)
        p_g = np.bincount(group, weights=pos[:, lab], minlength=values.size)
        n_g = np.bincount(group, weights=neg[:, lab], minlength=values.size)
        below = np.cumsum(n_g) - n_g
        out[lab] = float(np.sum(p_g * (below + n_g / 2)) / (n_pos * n_neg))
    return out


def stratified_auroc(aucs: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray) -> np.ndarray:
    """Pooled AUROC over strata when only same-stratum (positive, negative) pairs count:
    Σ_k n⁺_k n⁻_k AUROC_k / Σ_k n⁺_k n⁻_k (aucs [K, ...], counts [K]); 0.5 without any pair."""
    w = np.asarray(n_pos, np.float64) * np.asarray(n_neg, np.float64)
    if w.sum() == 0:
        return np.full(np.shape(aucs)[1:], 0.5)
    return np.tensordot(w, np.asarray(aucs, np.float64), axes=1) / w.sum()


@dataclass
class BaselineScores:
    names: list[str]
    auroc_train: np.ndarray  # [B, L] cross-fitted on train blocks
    auroc_test: np.ndarray  # [B, L] table from all train tokens, scored on held-out tokens

    def best(self, skip: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per concept: (name, train AUROC, held-out AUROC) of the baseline with the best TRAIN AUROC
        (first in `names` on ties) among those not in `skip`, and its index; without any: "none", 0.5 (chance)."""
        n_l = self.auroc_train.shape[1]
        if not [n for n in self.names if n not in skip]:
            return np.full(n_l, "none", object), np.full(n_l, 0.5), np.full(n_l, 0.5), np.full(n_l, -1)
        train = np.where(np.isin(self.names, list(skip))[:, None], -np.inf, self.auroc_train)
        pick = np.argmax(train, axis=0)
        cols = np.arange(n_l)
        return (np.asarray(self.names, object)[pick], self.auroc_train[pick, cols], self.auroc_test[pick, cols], pick)


def baseline_scores(
    codes: dict[str, np.ndarray],
    n_codes: dict[str, int],
    train: np.ndarray,
    test: np.ndarray,
    train_concepts: TokenConcepts,
    test_concepts: TokenConcepts,
    train_fold: np.ndarray,
    pseudocount: float = PSEUDOCOUNT,
) -> BaselineScores:
    """Every baseline for every concept over all tokens (module doc). train_fold: bool [n_train], the
    cross-fitting half of each train token."""
    halves = [np.flatnonzero(~train_fold), np.flatnonzero(train_fold)]
    folds = [train_concepts.take(h) for h in halves]
    names = list(codes)
    n_l = train_concepts.n_labels
    a_train, a_test = np.full((len(names), n_l), 0.5), np.full((len(names), n_l), 0.5)
    for b, name in enumerate(names):
        code, k = codes[name], n_codes[name]
        pos_tr, tot_tr = code_counts(code[train], train_concepts, k)
        pos_te, tot_te = code_counts(code[test], test_concepts, k)
        a_test[b] = auroc_from_counts(fit_table(pos_tr, tot_tr, pseudocount), pos_te, tot_te)
        fold_counts = [code_counts(code[train][h], f, k) for h, f in zip(halves, folds)]
        a_train[b] = crossfit_auroc(fold_counts, pseudocount)
    return BaselineScores(names, a_train, a_test)


def crossfit_auroc(fold_counts: list[tuple[np.ndarray, np.ndarray]], pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """[L] AUROC over both halves, each scored by the other half's table: the scores of the two halves
    differ, so codes are kept apart per half (2 × n_codes score groups)."""
    (p0, t0), (p1, t1) = fold_counts
    scores = np.concatenate([fit_table(p1, t1, pseudocount), fit_table(p0, t0, pseudocount)])
    return auroc_from_counts(scores, np.concatenate([p0, p1]), np.concatenate([t0, t1]))


def block_parity(token_contig: np.ndarray, token_position: np.ndarray, block_size: int) -> np.ndarray:
    """bool [N]: odd genome block (contig-local block index + contig index), the cross-fitting halves."""
    return ((np.asarray(token_position, np.int64) // block_size + np.asarray(token_contig, np.int64)) % 2).astype(bool)
