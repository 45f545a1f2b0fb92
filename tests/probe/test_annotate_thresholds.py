"""The annotation rule: held-out AUROC >= min_auroc AND margin over the train-chosen baseline >= min_margin AND
q <= max_q, for an evaluated concept. F1 never annotates on its own (`f1_supported` is evidence only)."""

import numpy as np

from dnalens.probe.annotate import (
    ScoreMatrices,
    annotated_mask,
    f1_supported,
    feature_concept_table,
    features_table,
)
from dnalens.probe.baselines import BaselineScores
from dnalens.probe.metric_formulas import DomainF1
from dnalens.probe.settings import ProbeSettings


def _scores(auroc_test, baselines=None, n_instances_test=(40, 40), f1=1.0, precision=1.0):
    # features x 2 concepts ("gene", "CDS"), held-out coverage 100 / 1000 = 0.1 each
    auroc_test = np.atleast_2d(np.asarray(auroc_test, float))
    shape = auroc_test.shape
    d = DomainF1(np.full(shape, f1), np.full(shape, precision), np.ones(shape), np.zeros(shape), np.zeros(shape, int))
    return ScoreMatrices(
        concepts=["gene", "CDS"],
        auroc_train=auroc_test.copy(),
        auroc_test=auroc_test,
        f1_train=d,
        f1_test=d,
        p=np.full(shape, 1e-4),
        q=np.full(shape, 1e-3),
        n_instances=np.array([40, 40]),
        n_positive=np.array([500, 500]),
        n_positive_train=np.array([400, 400]),
        n_positive_test=np.array([100, 100]),
        n_tokens=5000,
        frequency=np.full(shape[0], 0.1),
        max_activation=np.ones(shape[0]),
        mean_active=np.full(shape[0], 0.5),
        n_instances_test=np.asarray(n_instances_test),
        n_test_tokens=1000,
        baselines=baselines,
    )


def test_f1_alone_never_annotates():
    s = _scores([[0.6, 0.9]])  # perfect F1 on both concepts
    rule = ProbeSettings(min_auroc=0.75, min_f1=0.5, min_precision_lift=2.0)
    assert annotated_mask(s, rule).tolist() == [[False, True]]
    assert f1_supported(s, rule).tolist() == [[True, True]]


def test_margin_over_the_train_chosen_baseline():
    # baselines: kmer3 wins on train for gene (0.9 > 0.7) although kmer1 is better held out: kmer3's 0.85 counts
    b = BaselineScores(
        ["kmer1", "kmer3"],
        auroc_train=np.array([[0.7, 0.6], [0.9, 0.5]]),
        auroc_test=np.array([[0.95, 0.6], [0.85, 0.5]]),
    )
    s = _scores([[0.89, 0.9], [0.91, 0.64]], baselines=b)
    t = ProbeSettings(min_auroc=0.6, min_margin=0.05)
    # gene: 0.89 - 0.85 = 0.04 < 0.05 (not), 0.91 - 0.85 = 0.06 (yes); CDS: baseline kmer1 0.6 -> 0.9 yes, 0.64 no
    assert annotated_mask(s, t).tolist() == [[False, True], [True, False]]
    fc = feature_concept_table(s, t)
    np.testing.assert_allclose(fc["baseline_auroc_test"], [0.85, 0.6, 0.85, 0.6], atol=1e-6)
    np.testing.assert_allclose(fc["margin"], [0.04, 0.3, 0.06, 0.04], atol=1e-6)
    feats = features_table(s, t)
    # label = largest TRAIN margin (train AUROC - cross-fitted train baseline): f0 CDS (0.9 - 0.6), f1 gene (0.01 vs 0.04)
    assert feats["label"].tolist() == ["CDS", "CDS"]
    assert feats["annotated"].tolist() == [True, False]
    np.testing.assert_allclose(feats["label_margin"], [0.3, 0.04], atol=1e-6)


def test_q_and_min_auroc_still_apply():
    s = _scores([[0.95, 0.7]])
    t = ProbeSettings(min_auroc=0.75)
    assert annotated_mask(s, t).tolist() == [[True, False]]
    s.q[:] = 0.2
    assert not annotated_mask(s, t).any()


def test_f1_supported_needs_precision_lift_and_held_out_instances():
    """Base rate 0.1: precision 0.19 < 2 x 0.1 is no support; 0.21 is; too few held-out instances never."""
    t = ProbeSettings(min_precision_lift=2.0, min_test_instances=5)
    assert not f1_supported(_scores([[0.9, 0.9]], precision=0.19), t).any()
    assert f1_supported(_scores([[0.9, 0.9]], precision=0.21), t).all()
    assert f1_supported(_scores([[0.9, 0.9]], n_instances_test=(4, 5)), t).tolist() == [[False, True]]
    assert not f1_supported(_scores([[0.9, 0.9]], f1=0.49), t).any()
