"""k-sparse probing (SAEBench): does a concept live in a few latents together?

No single latent may carry a concept (on V. cholerae the best CDS latent reaches 0.64 held-out AUROC)
while a linear probe over all codes reads it at 0.99. k-sparse probing asks how few latents suffice:
pick the k latents whose mean activation on the concept's positives exceeds their mean on its negatives
the most (SAEBench's choice), fit a class-balanced logistic probe on those k columns only, score it.

Everything that chooses (the latents, the probe's weights, k for a concept's group) sees train rows only;
held-out rows only report. `concept_group` cross-fits: the train rows are split into folds of whole
genome blocks, each fold is scored by latents and weights chosen on the other folds, and the pooled
out-of-fold scores give a train AUROC that is not inflated by the choice itself. The probe stage uses the
folds its sequence-only baselines are cross-fitted on (block parity), so a group and the baseline it must
beat are judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from dnalens.probe.probes import fit_binary_probes

DEFAULT_KS = (1, 2, 5, 10, 20)


def mean_difference(codes, y: np.ndarray) -> np.ndarray:
    """[F] mean activation on positives minus mean on negatives (0 where a class is empty)."""
    y = np.asarray(y, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return np.zeros(codes.shape[1])
    total = np.asarray(codes.sum(axis=0), np.float64).ravel()
    pos = np.asarray(codes.T @ y.astype(np.float64), np.float64).ravel()  # one pass, any sparse format
    return pos / n_pos - (total - pos) / n_neg


def top_latents(codes, y: np.ndarray, k: int) -> np.ndarray:
    """The k latents with the largest mean difference, largest first (ties: the lower index first)."""
    diff = mean_difference(codes, y)
    order = np.lexsort((np.arange(diff.size), -diff))
    return order[: min(int(k), diff.size)].astype(np.int64)


def _columns(codes, latents: np.ndarray) -> np.ndarray:
    """The k chosen columns as a dense float32 [n, k] array: a few columns are small, and the probe's dense path
    (standardised inputs) fits them about 3x faster than the sparse one."""
    part = codes[:, latents]
    return np.asarray(part.toarray() if sp.issparse(part) else part, np.float32)


def fit_probe(codes_train, y_train, latents: np.ndarray, *, l2: float):
    """A class-balanced logistic probe on `latents` of the train rows."""
    return fit_binary_probes(_columns(codes_train, latents), np.asarray(y_train, bool)[:, None], l2=l2)


def probe_scores(codes_train, y_train, codes_eval, latents: np.ndarray, *, l2: float) -> np.ndarray:
    """Logits on `codes_eval` of a class-balanced logistic probe fitted on `latents` of the train rows."""
    return fit_probe(codes_train, y_train, latents, l2=l2).logits(_columns(codes_eval, latents))[:, 0]


def auroc(scores: np.ndarray, y: np.ndarray) -> float:
    """Tie-aware AUROC of one score vector (the project's Mann-Whitney kernel); 0.5 when a class is empty."""
    from dnalens.probe.auroc import auroc_matrix

    return float(auroc_matrix(np.asarray(scores, np.float64)[:, None], np.asarray(y, bool)[:, None])[0, 0])


@dataclass(frozen=True)
class KSparseResult:
    k: int
    latents: tuple[int, ...]  # chosen on train rows, largest mean difference first
    auroc_train: float  # in-sample: the rows that chose them
    auroc_test: float


def k_sparse_probing(
    codes_train, y_train, codes_test, y_test, ks: Sequence[int] = DEFAULT_KS, *, l2: float = 1e-3
) -> list[KSparseResult]:
    """For each k: top-k latents by mean difference on train rows, a logistic probe on them (train rows),
    AUROC on train and on test rows. k past the dictionary width is skipped."""
    out = []
    ranked = top_latents(codes_train, y_train, max(ks))
    for k in sorted(set(int(k) for k in ks)):
        if k > codes_train.shape[1]:
            continue
        latents = ranked[:k]
        probe = fit_probe(codes_train, y_train, latents, l2=l2)
        fitted = probe.logits(_columns(codes_train, latents))[:, 0]
        tested = probe.logits(_columns(codes_test, latents))[:, 0]
        out.append(KSparseResult(k, tuple(int(i) for i in latents), auroc(fitted, y_train), auroc(tested, y_test)))
    return out


def cross_fitted_auroc(codes, y: np.ndarray, folds: np.ndarray, k: int, *, l2: float) -> float:
    """Train-only AUROC of the k-sparse probe: each fold scored by latents and weights chosen on the others.
    `folds`: one id per row (whole genome blocks per fold)."""
    y = np.asarray(y, bool)
    scores = np.empty(y.size, np.float64)
    for fold in np.unique(folds):
        out = folds == fold
        fit = ~out
        if not (y[fit].any() and (~y[fit]).any()):
            return float("nan")
        latents = top_latents(codes[fit], y[fit], k)
        scores[out] = probe_scores(codes[fit], y[fit], codes[out], latents, l2=l2)
    return auroc(scores, y)


@dataclass(frozen=True)
class ConceptGroup:
    """The smallest latent set (k <= max_k) whose cross-fitted train AUROC beats the bar, or none."""

    k: int | None
    latents: tuple[int, ...]
    auroc_train_cv: float  # cross-fitted, at k (or at max_k when no k passes)
    auroc_test: float  # the group's probe (fitted on all train rows) on held-out rows; NaN without a group


def concept_group(
    codes_train,
    y_train,
    folds: np.ndarray,
    codes_test,
    y_test,
    *,
    bar: float,
    max_k: int = 5,
    l2: float = 1e-3,
) -> ConceptGroup:
    """Per concept: the first k in 1..max_k whose cross-fitted train AUROC exceeds `bar` (the best
    sequence-only baseline's train AUROC plus the strict rule's margin). Its latents and weights are then
    chosen on all train rows, and only its held-out AUROC is read from the test rows."""
    cv = float("nan")
    for k in range(1, max_k + 1):
        if k > codes_train.shape[1]:
            break
        cv = cross_fitted_auroc(codes_train, y_train, folds, k, l2=l2)
        if cv > bar:
            latents = top_latents(codes_train, y_train, k)
            tested = probe_scores(codes_train, y_train, codes_test, latents, l2=l2)
            return ConceptGroup(k, tuple(int(i) for i in latents), cv, auroc(tested, y_test))
    return ConceptGroup(None, (), cv, float("nan"))
