"""The arithmetic both backends share: AUROC from rank sums, domain F1 from counts, the best threshold.

The numpy kernels (`auroc`, `f1`) and their torch twins (`auroc_torch`, `f1_torch`) only produce sums and
counts; these formulas turn them into the tables, on the host, with one copy of the code, so the two
paths give the same numbers bit for bit. Nothing here knows which backend ran (`backend` picks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def auroc_from_sums(sums: np.ndarray, zero_rank: np.ndarray, n_pos: np.ndarray, n: int) -> np.ndarray:
    """AUROC from Σ R over each concept's positives (Mann–Whitney, `ranks`); sums [..., n_cols, L],
    n_pos [..., L] (broadcast); a label without positives or negatives gives 0.5."""
    n_pos = np.asarray(n_pos)
    pos_rank_sum = sums + zero_rank[:, None] * n_pos[..., None, :]
    n_pos = n_pos.astype(np.float64)[..., None, :]
    n_neg = n - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos == 0) | (n_neg == 0), 0.5, auc)


def ratio(num, den) -> np.ndarray:
    """num / den in float64 (broadcasting), 0 where den == 0."""
    num, den = np.asarray(num), np.asarray(den)
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class F1Curves:
    """Counts per threshold: on [T, F], true_pos and hit_instances [T, F, L]; totals per concept [L]."""

    thresholds: np.ndarray
    on: np.ndarray
    true_pos: np.ndarray
    hit_instances: np.ndarray
    n_pos: np.ndarray
    n_instances: np.ndarray
    best_index: np.ndarray | None = None  # [F, L] threshold index of the best F1 (first on ties)

    def precision(self) -> np.ndarray:
        return ratio(self.true_pos, self.on[:, :, None])

    def recall(self) -> np.ndarray:
        return ratio(self.hit_instances, self.n_instances[None, None, :])

    def f1(self) -> np.ndarray:
        p, r = self.precision(), self.recall()
        return ratio(2 * p * r, p + r)


@dataclass(frozen=True)
class DomainF1:
    """Best F1 over the thresholds and its precision, recall and threshold, each [F, L]."""

    f1: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    threshold: np.ndarray
    threshold_index: np.ndarray


def best_index(on: np.ndarray, true_pos: np.ndarray, hit: np.ndarray, n_instances: np.ndarray) -> np.ndarray:
    """argmax over thresholds of F1 = 2pr/(p+r), multiplied out: 2·tp·hit / (tp·n_inst + hit·on)."""
    tp = true_pos.astype(np.float64)
    den = tp * n_instances[None, None, :] + hit * on[:, :, None].astype(np.float64)
    return np.argmax(ratio(2 * tp * hit, den), axis=0)


def best_over_thresholds(curves: F1Curves, index: np.ndarray | None = None) -> DomainF1:
    """Best F1 per [F, L] (first threshold on ties), or the values at a given threshold index [F, L]."""
    if index is None:
        index = curves.best_index
    if index is None:
        index = best_index(curves.on, curves.true_pos, curves.hit_instances, curves.n_instances)
    take = lambda a: np.take_along_axis(a, index[None], axis=0)[0]  # noqa: E731
    on = curves.on[index, np.arange(index.shape[0])[:, None]]
    p = ratio(take(curves.true_pos), on)
    r = ratio(take(curves.hit_instances), curves.n_instances[None, :])
    return DomainF1(ratio(2 * p * r, p + r), p, r, curves.thresholds[index], index)
