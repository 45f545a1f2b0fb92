"""k-sparse probing against independent references: the latent choice by brute force, the probe against
scikit-learn's LogisticRegression on the same rows (held-out AUROC to 1e-3), and a planted 3-latent concept
that no single latent carries."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from dnalens.probe.sparse_probing import (
    concept_group,
    cross_fitted_auroc,
    k_sparse_probing,
    top_latents,
)


def _codes(n: int, f: int, seed: int):
    """Sparse non-negative codes; latents 3, 7, 11 each fire on a third of a concept's positives."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    dense = np.where(rng.random((n, f)) < 0.05, rng.exponential(1.0, (n, f)), 0.0)
    part = rng.integers(0, 3, n)
    for j, latent in enumerate((3, 7, 11)):
        on = y & (part == j)
        dense[on, latent] += 2.0 + rng.random(on.sum())
    return sp.csr_matrix(dense.astype(np.float32)), y


def test_top_latents_by_brute_force():
    codes, y = _codes(3000, 40, 0)
    dense = codes.toarray().astype(np.float64)
    diff = [dense[y, j].mean() - dense[~y, j].mean() for j in range(40)]
    expected = sorted(range(40), key=lambda j: (-diff[j], j))[:6]
    assert top_latents(codes, y, 6).tolist() == expected
    assert set(top_latents(codes, y, 3).tolist()) == {3, 7, 11}


@pytest.mark.parametrize("k", [1, 2, 5])
def test_probe_equals_scikit_learn(k):
    """Same rows, same latents, same scaling (each column standardised, as the project's probes scale dense
    inputs), same objective (class-balanced log loss + l2 ||w||^2, i.e. C = 1 / (2 l2 n)): held-out AUROC
    within 1e-3 of scikit-learn's."""
    train, y_train = _codes(4000, 30, 1)
    test, y_test = _codes(3000, 30, 2)
    l2 = 1e-3
    (result,) = k_sparse_probing(train, y_train, test, y_test, ks=[k], l2=l2)
    latents = list(result.latents)
    x_train = train[:, latents].toarray().astype(np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    reference = LogisticRegression(class_weight="balanced", C=1.0 / (2 * l2 * len(y_train)), tol=1e-10, max_iter=10_000)
    reference.fit((x_train - mean) / std, y_train)
    scores = reference.decision_function((test[:, latents].toarray() - mean) / std)
    assert result.auroc_test == pytest.approx(roc_auc_score(y_test, scores), abs=1e-3)
    assert latents == top_latents(train, y_train, k).tolist()


def test_three_latents_carry_what_one_cannot():
    train, y_train = _codes(6000, 30, 3)
    test, y_test = _codes(4000, 30, 4)
    by_k = {r.k: r for r in k_sparse_probing(train, y_train, test, y_test, ks=[1, 2, 5])}
    assert by_k[1].auroc_test < 0.75 and by_k[5].auroc_test > 0.9
    folds = (np.arange(6000) // 500) % 2  # 12 blocks of 500 rows, by parity (as the probe stage folds)
    group = concept_group(train, y_train, folds, test, y_test, bar=0.85, max_k=5)
    assert group.k == 3 and set(group.latents) == {3, 7, 11}
    assert group.auroc_train_cv > 0.85 and group.auroc_test > 0.9
    # no group when the bar is out of reach: k and latents stay empty, the best cross-fitted AUROC is kept
    none = concept_group(train, y_train, folds, test, y_test, bar=0.999, max_k=2)
    assert none.k is None and none.latents == () and np.isnan(none.auroc_test) and none.auroc_train_cv < 0.999


def test_cross_fitting_sees_no_scored_rows():
    """A label that is noise: in-sample selection over 30 latents looks better than chance, the cross-fitted
    AUROC does not."""
    rng = np.random.default_rng(5)
    codes = sp.csr_matrix(np.where(rng.random((900, 30)) < 0.3, rng.random((900, 30)), 0.0).astype(np.float32))
    y = rng.random(900) < 0.5
    folds = (np.arange(900) // 100) % 3
    (result,) = k_sparse_probing(codes, y, codes, y, ks=[5])
    assert result.auroc_train > 0.53
    assert abs(cross_fitted_auroc(codes, y, folds, 5, l2=1e-3) - 0.5) < 0.05
