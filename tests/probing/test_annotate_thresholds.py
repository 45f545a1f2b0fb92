"""The held-out F1 route needs enough held-out instances, AUROC above 0.5 and an F1 above a feature that fires
everywhere; the AUROC route needs none of these."""

import numpy as np

from dnalens.probing.annotate import ScoreMatrices, Thresholds, annotated_mask
from dnalens.probing.f1 import DomainF1


def _scores(n_instances_test):
    # one feature, two concepts: perfect held-out F1 on both, AUROC 0.6 on the first, 0.9 on the second
    one = np.ones((1, 2))
    f1 = DomainF1(one, one, one, np.zeros((1, 2)), np.zeros((1, 2), int))
    return ScoreMatrices(
        concepts=["gene", "CDS"], auroc_train=np.array([[0.6, 0.9]]), auroc_test=np.array([[0.6, 0.9]]),
        f1_train=f1, f1_test=f1, p=np.full((1, 2), 1e-4), q=np.full((1, 2), 1e-3),
        n_instances=np.array([40, 40]), n_positive=np.array([100, 100]), n_positive_train=np.array([80, 80]),
        n_positive_test=np.array([20, 20]), n_tokens=1000, frequency=np.array([0.1]),
        max_activation=np.array([1.0]), mean_active=np.array([0.5]), n_instances_test=n_instances_test,
    )


def test_f1_route_needs_held_out_instances():
    t = Thresholds(min_test_instances=5)
    assert annotated_mask(_scores(np.array([1, 1])), t).tolist() == [[False, True]]
    assert annotated_mask(_scores(np.array([5, 1])), t).tolist() == [[True, True]]


def test_f1_route_needs_more_than_firing_everywhere():
    """Hand-computed: held-out coverage 0.8 → an always-on feature scores F1 = 1.6 / 1.8 = 0.889."""
    from dnalens.probing.annotate import always_on_f1

    assert np.allclose(always_on_f1(np.array([800, 420, 0]), 1000), [1.6 / 1.8, 0.84 / 1.42, 0.0])
    t = Thresholds(min_test_instances=1)
    s = _scores(np.array([5, 5]))
    for value, expected in ((0.88, [[False, True]]), (0.9, [[True, True]])):
        f1 = DomainF1(np.full((1, 2), value), np.ones((1, 2)), np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2), int))
        s.f1_test, s.n_positive_test, s.n_test_tokens = f1, np.array([800, 100]), 1000
        assert annotated_mask(s, t).tolist() == expected
    s.auroc_test = np.array([[0.5, 0.9]])  # F1 alone never annotates a feature no more active inside than out
    assert annotated_mask(s, t).tolist() == [[False, True]]
