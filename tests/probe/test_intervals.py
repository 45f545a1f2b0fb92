"""Bootstrap intervals: each replicate's AUROC equals sklearn's roc_auc_score on the resampled tokens (clusters
repeated as often as drawn), the interval is their percentiles, and the units are instances and segments."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dnalens.probe.intervals import (
    Replicates,
    bootstrap_auroc,
    cluster_keys,
    concept_clusters,
    heldout_instances,
    percentile_interval,
)


def _case(seed=0, n=600):
    rng = np.random.default_rng(seed)
    position = np.sort(rng.integers(0, 20_000, n))
    contig = (np.arange(n) >= n // 2).astype(np.int64)
    positive = rng.random(n) < 0.3
    instance = np.where(positive & (rng.random(n) < 0.7), rng.integers(0, 12, n), -1)
    scores = np.round(rng.normal(positive * 0.8, 1.0), 1)  # rounded: many ties, some across classes
    return scores, positive, instance, contig, position


def _brute_force(scores, positive, keys, reps: Replicates, stratum=None):
    """The replicate resampled explicitly: every token of a cluster drawn c times appears c times."""
    out = []
    for b in range(reps.n_boot):
        w_pos = dict(zip(reps.clusters.positive_keys, reps.positive[b]))
        w_neg = dict(zip(reps.clusters.negative_keys, reps.negative[b]))
        times = np.array([int(w_pos[k] if p else w_neg[k]) for k, p in zip(keys, positive)])
        idx = np.repeat(np.arange(scores.size), times)
        if stratum is None:
            out.append(roc_auc_score(positive[idx], scores[idx]))
            continue
        wins = pairs = 0.0  # same-stratum pairs only: Σ n⁺n⁻·AUROC / Σ n⁺n⁻ per stratum
        for s in np.unique(stratum):
            j = idx[stratum[idx] == s]
            n_pos, n_neg = positive[j].sum(), (~positive[j]).sum()
            if n_pos and n_neg:
                wins += n_pos * n_neg * roc_auc_score(positive[j], scores[j])
                pairs += n_pos * n_neg
        out.append(wins / pairs)
    return np.array(out)


def test_each_replicate_equals_sklearn_on_the_resampled_tokens():
    scores, positive, instance, contig, position = _case()
    keys = cluster_keys(positive, instance, contig, position, segment=1000)
    reps = Replicates.draw(concept_clusters(keys, positive), n_boot=40, seed=7, column=3)
    fast = bootstrap_auroc(scores, positive, keys, reps)
    np.testing.assert_allclose(fast, _brute_force(scores, positive, keys, reps), atol=1e-12)
    lo, hi = percentile_interval(fast)
    assert (lo, hi) == tuple(np.percentile(_brute_force(scores, positive, keys, reps), [2.5, 97.5]))
    assert lo < roc_auc_score(positive, scores) < hi


def test_strata_count_only_same_stratum_pairs():
    scores, positive, instance, contig, position = _case(seed=1)
    stratum = np.random.default_rng(3).integers(0, 3, scores.size)
    keys = cluster_keys(positive, instance, contig, position, segment=500)
    reps = Replicates.draw(concept_clusters(keys, positive), n_boot=20, seed=1)
    fast = bootstrap_auroc(scores, positive, keys, reps, stratum=stratum)
    np.testing.assert_allclose(fast, _brute_force(scores, positive, keys, reps, stratum), atol=1e-12)


def test_one_draw_of_every_cluster_is_the_plain_auroc():
    scores, positive, instance, contig, position = _case(seed=2)
    keys = cluster_keys(positive, instance, contig, position, segment=1000)
    clusters = concept_clusters(keys, positive)
    ones = Replicates(clusters, np.ones((1, clusters.positive_keys.size)), np.ones((1, clusters.negative_keys.size)))
    assert bootstrap_auroc(scores, positive, keys, ones)[0] == pytest.approx(roc_auc_score(positive, scores), abs=1e-12)


def test_units_are_instances_and_segments_not_tokens():
    positive = np.array([True, True, True, False, False, True])
    instance = np.array([4, 4, -1, -1, 9, -1])  # an id on a negative token is ignored
    contig = np.array([0, 0, 0, 0, 0, 1])
    position = np.array([10, 20, 30, 1500, 1600, 30])
    keys = cluster_keys(positive, instance, contig, position, segment=1000)
    assert keys[0] == keys[1] != keys[2]  # one gene = one unit
    assert keys[3] == keys[4]  # one segment
    assert keys[2] != keys[5]  # same position, other contig
    clusters = concept_clusters(keys, positive)
    assert clusters.positive_keys.size == 3 and clusters.negative_keys.size == 1
    assert heldout_instances(positive, instance) == 3  # gene 4 + two positives without an id


def test_a_site_without_ids_counts_once_per_strand_and_a_codon_position_per_base():
    # a 6-nt box on the + strand at 100..105 (read twice: overlapping windows), one on the - strand at 103..108,
    # and every third base of a gene (codon position 3) at 300, 303, 306
    position = np.array([100, 101, 102, 103, 104, 105, 101, 102, 103, 104, 105, 106, 107, 108, 300, 303, 306])
    minus = np.array([0] * 6 + [0] + [1] * 7 + [0, 0, 0], bool)
    contig = np.zeros(position.size, np.int64)
    positive = np.ones(position.size, bool)
    assert heldout_instances(positive, None, contig, minus, position) == 2 + 3
    assert heldout_instances(positive, None) == position.size  # without coordinates: per token


def test_draws_are_seeded_and_paired_per_concept():
    scores, positive, instance, contig, position = _case(seed=4)
    keys = cluster_keys(positive, instance, contig, position, segment=1000)
    clusters = concept_clusters(keys, positive)
    a, b = Replicates.draw(clusters, 30, seed=5, column=2), Replicates.draw(clusters, 30, seed=5, column=2)
    np.testing.assert_array_equal(a.positive, b.positive)
    assert not np.array_equal(a.positive, Replicates.draw(clusters, 30, seed=5, column=3).positive)
    assert a.positive.sum(axis=1).tolist() == [clusters.positive_keys.size] * 30
