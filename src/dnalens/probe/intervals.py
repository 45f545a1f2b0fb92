"""Bootstrap intervals of held-out AUROCs, resampling instances and genome segments, never single tokens.

Neighbouring tokens are not independent draws (a gene is hundreds of positive tokens; both strands of a
stretch are held out together), so a token bootstrap would give intervals far too narrow. The resampling
unit ("cluster") of a held-out token is:
- a positive with an instance id (a gene, an intron, a σ70 site): that instance;
- any other token (negatives, and positives of per-base concepts without ids): its genome segment,
  `segment` nt of one contig (both strands of a position share it).
The bootstrap is stratified by class, as pROC's: each replicate draws the positive clusters and the
negative clusters with replacement, each as many as there are. A cluster drawn c times weighs c, so the
replicate's AUROC is the weighted Mann–Whitney statistic (ties count ½): exactly sklearn's roc_auc_score
on the resampled tokens (tests/probe/test_intervals.py). Every AUROC of one concept uses the same draws
(seeded by `seed` and the concept's column), so intervals of a latent and of its baseline are paired.
Where a score set has strata (matched controls) only same-stratum pairs count, as
`baselines.stratified_auroc`. The interval is the 2.5 and 97.5 percentiles of the replicates.

Cost: one sort per score vector, then per replicate a bincount over score groups. Runs of score groups
holding only positives (or only negatives) merge into one group without changing any sum, so a good
classifier costs far less than its token count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

LEVEL = 0.95
MAX_CELLS = 4_000_000  # replicates × score groups held dense at once


@dataclass(frozen=True)
class Clusters:
    """Resampling units of one concept's held-out tokens: `key` per token (int64; instances and segments
    never collide), and the distinct positive and negative keys the replicates draw from."""

    positive_keys: np.ndarray  # sorted distinct keys of positive tokens
    negative_keys: np.ndarray  # sorted distinct keys of negative tokens


def cluster_keys(
    positive: np.ndarray,
    instance: np.ndarray | None,
    contig: np.ndarray,
    position: np.ndarray,
    segment: int,
) -> np.ndarray:
    """int64 key per token (module doc): instance id ≥ 0 → −(id + 1); else contig · 2³² + position // segment."""
    seg = np.asarray(contig, np.int64) * (1 << 32) + np.asarray(position, np.int64) // max(int(segment), 1)
    if instance is None:
        return seg
    inst = np.asarray(instance, np.int64)
    use = np.asarray(positive, bool) & (inst >= 0)
    return np.where(use, -(inst + 1), seg)


def heldout_instances(
    positive: np.ndarray,
    instance: np.ndarray | None,
    contig: np.ndarray | None = None,
    minus: np.ndarray | None = None,
    position: np.ndarray | None = None,
) -> int:
    """Distinct instances among held-out positives: their instance ids, plus, for positives without an id,
    runs of consecutive positive bases on one contig and strand (a 6-nt σ70 box is one site, a codon
    position stays one base per instance); without coordinates each such positive counts once."""
    positive = np.asarray(positive, bool)
    ids = np.full(positive.size, -1, np.int64) if instance is None else np.asarray(instance, np.int64)
    with_id = np.unique(ids[positive & (ids >= 0)]).size
    loose = positive & (ids < 0)
    if contig is None or minus is None or position is None or not loose.any():
        return int(with_id + loose.sum())
    sites = np.unique(
        np.stack([np.asarray(contig)[loose], np.asarray(minus)[loose], np.asarray(position)[loose]], axis=1).astype(
            np.int64
        ),
        axis=0,
    )  # sorted by contig, strand, position; both strands' tokens of a base counted once per strand
    new_run = np.ones(len(sites), bool)
    new_run[1:] = (np.diff(sites[:, 0]) != 0) | (np.diff(sites[:, 1]) != 0) | (np.diff(sites[:, 2]) != 1)
    return int(with_id + new_run.sum())


def draw_weights(n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """[n_boot, n_clusters] how often each cluster is drawn (n_clusters draws with replacement)."""
    if n_clusters == 0:
        return np.zeros((n_boot, 0))
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot).astype(np.float64)


@dataclass(frozen=True)
class Replicates:
    """One concept's bootstrap draws: a weight per distinct positive key and per distinct negative key."""

    clusters: Clusters
    positive: np.ndarray  # [B, n positive keys]
    negative: np.ndarray  # [B, n negative keys]

    @classmethod
    def draw(cls, clusters: Clusters, n_boot: int, seed: int, column: int = 0) -> Replicates:
        rng = np.random.default_rng([int(seed), int(column)])
        return cls(
            clusters,
            draw_weights(clusters.positive_keys.size, n_boot, rng),
            draw_weights(clusters.negative_keys.size, n_boot, rng),
        )

    @property
    def n_boot(self) -> int:
        return self.positive.shape[0]


def concept_clusters(keys: np.ndarray, positive: np.ndarray) -> Clusters:
    positive = np.asarray(positive, bool)
    return Clusters(np.unique(keys[positive]), np.unique(keys[~positive]))


def _merged_groups(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, int]:
    """Per token its score group in ascending order, with runs of one-class groups merged (module doc)."""
    _, group = np.unique(scores, return_inverse=True)
    n = int(group.max()) + 1 if group.size else 0
    has_pos = np.bincount(group[positive], minlength=n) > 0
    has_neg = np.bincount(group[~positive], minlength=n) > 0
    kind = np.where(has_pos & has_neg, 2, has_pos.astype(np.int8))
    start = np.ones(n, bool)
    start[1:] = (kind[1:] != kind[:-1]) | (kind[1:] == 2)
    merged = np.cumsum(start) - 1
    return merged[group], int(merged[-1]) + 1 if n else 0


def _incidence(index: np.ndarray, group: np.ndarray, n_rows: int, n_groups: int) -> sp.csr_matrix:
    """[n_rows, n_groups] token counts per (cluster, group)."""
    return sp.csr_matrix((np.ones(index.size), (index, group)), shape=(n_rows, n_groups))


def bootstrap_auroc(
    scores: np.ndarray,
    positive: np.ndarray,
    keys: np.ndarray,
    reps: Replicates,
    stratum: np.ndarray | None = None,
) -> np.ndarray:
    """[B] the AUROC of `scores` for `positive` in each replicate (weighted Mann–Whitney, ties ½; only
    same-stratum pairs with `stratum`); 0.5 where a replicate has no pair."""
    scores = np.asarray(scores, np.float64)
    positive = np.asarray(positive, bool)
    stratum = np.zeros(scores.size, np.int64) if stratum is None else np.asarray(stratum, np.int64)
    pos_index = np.searchsorted(reps.clusters.positive_keys, keys)
    neg_index = np.searchsorted(reps.clusters.negative_keys, keys)
    wins = np.zeros(reps.n_boot)
    pairs = np.zeros(reps.n_boot)
    for s in np.unique(stratum):
        here = stratum == s
        group, n_groups = _merged_groups(scores[here], positive[here])
        pos, neg = positive[here], ~positive[here]
        inc_pos = _incidence(pos_index[here][pos], group[pos], reps.clusters.positive_keys.size, n_groups)
        inc_neg = _incidence(neg_index[here][neg], group[neg], reps.clusters.negative_keys.size, n_groups)
        step = max(1, MAX_CELLS // max(n_groups, 1))
        for b0 in range(0, reps.n_boot, step):
            b1 = min(b0 + step, reps.n_boot)
            p = np.asarray((inc_pos.T @ reps.positive[b0:b1].T).T)  # [b, groups] positive weight
            n = np.asarray((inc_neg.T @ reps.negative[b0:b1].T).T)
            below = np.cumsum(n, axis=1) - n
            wins[b0:b1] += np.sum(p * (below + 0.5 * n), axis=1)
            pairs[b0:b1] += p.sum(axis=1) * n.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), 0.5)


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """(lo, hi): the (1 − level)/2 and (1 + level)/2 percentiles (numpy's linear interpolation)."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(np.asarray(replicates, np.float64), [tail, 100 - tail])
    return float(lo), float(hi)


def too_few_note(n_instances: int) -> str:
    """The words shown instead of a number (report and concept_summary.tsv `_note` columns)."""
    return f"too few held-out instances ({int(n_instances)})"
