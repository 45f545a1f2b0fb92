"""The held-out F1 route needs enough held-out instances; the AUROC route does not."""

import numpy as np

from dnalens.probing.annotate import ScoreMatrices, Thresholds, annotated_mask
from dnalens.probing.f1 import DomainF1


def _scores(n_instances_test):
    # one feature, two concepts: perfect held-out F1 on both, AUROC 0.5 on the first, 0.9 on the second
    one = np.ones((1, 2))
    f1 = DomainF1(one, one, one, np.zeros((1, 2)), np.zeros((1, 2), int))
    return ScoreMatrices(
        concepts=["gene", "CDS"], auroc_train=np.array([[0.5, 0.9]]), auroc_test=np.array([[0.5, 0.9]]),
        f1_train=f1, f1_test=f1, p=np.full((1, 2), 1e-4), q=np.full((1, 2), 1e-3),
        n_instances=np.array([40, 40]), n_positive=np.array([100, 100]), n_positive_train=np.array([80, 80]),
        n_positive_test=np.array([20, 20]), n_tokens=1000, frequency=np.array([0.1]),
        max_activation=np.array([1.0]), mean_active=np.array([0.5]), n_instances_test=n_instances_test,
    )


def test_f1_route_needs_held_out_instances():
    t = Thresholds(min_test_instances=5)
    assert annotated_mask(_scores(np.array([1, 1])), t).tolist() == [[False, True]]
    assert annotated_mask(_scores(np.array([5, 1])), t).tolist() == [[True, True]]
