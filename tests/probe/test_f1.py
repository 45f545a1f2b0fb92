"""domain_f1 against a brute-force oracle written straight from InterPLM's definition."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dnalens.probe import domain_f1
from dnalens.probe.f1 import column_max, domain_f1_curves

THRESHOLDS = (0.0, 0.15, 0.5, 0.6, 0.8)


def oracle(dense, labels, instances, thresholds=THRESHOLDS, fmax=None):
    """Per (feature, concept): loop over thresholds, sets of instance ids, nucleotides."""
    n, f = dense.shape
    fmax = dense.max(axis=0) if fmax is None else fmax
    best = np.zeros((f, labels.shape[1]))
    best_t = np.full((f, labels.shape[1]), thresholds[0])
    for i in range(f):
        for j in range(labels.shape[1]):
            ids, lab = instances[:, j], labels[:, j]
            singles = np.flatnonzero(lab & (ids < 0))
            n_inst = len(set(ids[ids >= 0].tolist())) + singles.size
            for t in thresholds:
                on = dense[:, i] > t * fmax[i] if fmax[i] > 0 else np.zeros(n, bool)
                p = (on & lab).sum() / on.sum() if on.any() else 0.0
                hit = len(set(ids[on & (ids >= 0)].tolist())) + on[singles].sum()
                r = hit / n_inst if n_inst else 0.0
                f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
                if f1 > best[i, j] + 1e-15:
                    best[i, j], best_t[i, j] = f1, t
    return best, best_t


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(2)
    n, f, n_l = 1500, 16, 5
    x = sp.random(n, f, density=0.08, random_state=3, format="csr")
    x.data = np.round(x.data * 5) / 5 + 0.1  # ties at threshold boundaries
    labels = np.zeros((n, n_l), bool)
    inst = np.full((n, n_l), -1)
    for j in (0, 1, 3):  # region concepts (3 also has positives without an id: their own instance)
        for k, s in enumerate(rng.choice(n - 50, 12, replace=False)):
            e = s + rng.integers(5, 40)
            labels[s:e, j] = True
            inst[s:e, j] = 1000 * j + 7 * k  # sparse, arbitrary ids
    labels[100:120, 0] = labels[900:930, 0] = True  # one instance in two runs (a spliced gene)
    inst[100:120, 0] = inst[900:930, 0] = 5555
    labels[:, 2] = rng.random(n) < 0.1  # point concept
    labels[rng.choice(n, 25), 3] = True
    inst[:, 3] = np.where(labels[:, 3], inst[:, 3], -1)
    # column 4: no positives at all
    return x, labels, inst


@pytest.mark.parametrize("chunk", [40, 1 << 17])
def test_matches_oracle(case, chunk):
    x, labels, inst = case
    want, want_t = oracle(x.toarray(), labels, inst)
    got = domain_f1(x, labels, inst, max_chunk_entries=chunk)
    np.testing.assert_allclose(got.f1, want, atol=1e-12)
    np.testing.assert_array_equal(got.threshold[want > 0], want_t[want > 0])
    assert np.all(got.f1[:, 4] == 0)
    assert got.f1.max() > 0.3  # the case is not trivially all-zero


def test_dense_input_given_fmax_rows_and_no_instances(case):
    x, labels, inst = case
    d = x.toarray()
    fmax = d.max(axis=0) * 1.5
    np.testing.assert_allclose(
        domain_f1(d, labels, inst, fmax=fmax).f1, oracle(d, labels, inst, fmax=fmax)[0], atol=1e-12
    )
    rows = np.arange(0, x.shape[0], 2)
    np.testing.assert_allclose(
        domain_f1(x, labels, inst, rows=rows).f1, oracle(d[rows], labels[rows], inst[rows])[0], atol=1e-12
    )
    none = np.full_like(inst, -1)
    np.testing.assert_allclose(domain_f1(x, labels).f1, oracle(d, labels, none)[0], atol=1e-12)


def test_curves_are_counts(case):
    x, labels, inst = case
    c = domain_f1_curves(x, labels, inst)
    d = x.toarray()
    fmax = column_max(x)
    np.testing.assert_allclose(fmax, d.max(axis=0))
    on = d[:, 5] > 0.5 * fmax[5]
    assert c.on[2, 5] == on.sum()
    assert c.true_pos[2, 5, 2] == (on & labels[:, 2]).sum()
    assert np.all(np.diff(c.on, axis=0) <= 0)  # higher thresholds switch fewer tokens on


def test_rejects_negative_thresholds(case):
    x, labels, inst = case
    with pytest.raises(ValueError):
        domain_f1(x, labels, inst, thresholds=(-0.1, 0.5))


@pytest.mark.parametrize("max_tokens", [1, 7, 100])
def test_instance_hits_in_slices_equal_one_pass(case, max_tokens):
    from dnalens.probe.f1_counts import InstanceRuns

    x, labels, inst = case
    runs = InstanceRuns.from_arrays(labels, inst)
    csc = sp.csc_matrix(x)
    csc.sort_indices()
    seg = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))  # one segment per feature
    whole = runs.hits(seg, csc.indices.astype(np.int64), csc.shape[1], max_tokens=10**9)
    assert whole[:, 0].sum() > 0
    np.testing.assert_array_equal(
        runs.hits(seg, csc.indices.astype(np.int64), csc.shape[1], max_tokens=max_tokens), whole
    )
