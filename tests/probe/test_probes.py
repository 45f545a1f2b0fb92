"""Linear probes against sklearn's LogisticRegression on the same held-out data."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from dnalens.probe.probes import balanced_accuracy, fit_binary_probes, fit_softmax_probe


def test_binary_probes_match_sklearn_held_out_auroc():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 12)) * rng.uniform(0.1, 10, 12)  # unscaled columns: standardisation matters
    y = (x / x.std(axis=0)) @ rng.normal(size=(12, 3)) + rng.normal(size=(3000, 3)) > np.array([0.0, 1.5, 3.0])
    probe = fit_binary_probes(x[:2000], y[:2000], l2=1e-4, max_iter=300)
    z = probe.logits(x[2000:])
    for j in range(3):
        ref = LogisticRegression(class_weight="balanced", C=1e4, max_iter=5000).fit(x[:2000], y[:2000, j])
        ours, theirs = roc_auc_score(y[2000:, j], z[:, j]), roc_auc_score(y[2000:, j], ref.decision_function(x[2000:]))
        assert abs(ours - theirs) < 0.005 and ours > 0.8


def test_sparse_and_softmax_probes():
    rng = np.random.default_rng(1)
    classes = rng.integers(0, 3, 3000)
    dense = np.zeros((3000, 30))
    dense[np.arange(3000), classes * 10 + rng.integers(0, 10, 3000)] = rng.exponential(size=3000) + 0.1
    dense[rng.random(dense.shape) < 0.05] = 0.7  # noise
    x = sp.csr_matrix(dense)
    probe = fit_softmax_probe(x[:2000], classes[:2000], 3, max_iter=200)
    pred = probe.logits(x[2000:]).argmax(axis=1)
    ref = LogisticRegression(C=1e3, max_iter=5000).fit(x[:2000], classes[:2000]).predict(x[2000:])
    ours, theirs = balanced_accuracy(classes[2000:], pred, 3), balanced_accuracy(classes[2000:], ref, 3)
    assert ours > 0.6 and ours >= theirs - 0.02
    binary = fit_binary_probes(x[:2000], np.stack([classes[:2000] == 0], axis=1))
    ref = LogisticRegression(class_weight="balanced", C=1e3, max_iter=5000).fit(x[:2000], classes[:2000] == 0)
    ours = roc_auc_score(classes[2000:] == 0, binary.logits(x[2000:])[:, 0])
    assert ours > 0.8 and ours >= roc_auc_score(classes[2000:] == 0, ref.decision_function(x[2000:])) - 0.01
