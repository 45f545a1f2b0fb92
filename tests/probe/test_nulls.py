"""Circular-shift nulls, pooled p-values and Benjamini–Hochberg q-values."""

from __future__ import annotations

import numpy as np

from dnalens.probe.nulls import GenomeShift, bh_qvalues, genome_order, pooled_pvalues, shift_fractions, shift_rows


def bh_reference(p: np.ndarray) -> np.ndarray:
    """Textbook BH: with p sorted ascending, q_(i) = min_{j >= i} m p_(j) / j."""
    flat = p.ravel()
    m = flat.size
    order = sorted(range(m), key=lambda i: flat[i])
    q = np.empty(m)
    for r, i in enumerate(order):
        q[i] = min(flat[order[j]] * m / (j + 1) for j in range(r, m))
    return np.minimum(q, 1).reshape(p.shape)


def test_bh_matches_textbook_and_skips_nan():
    rng = np.random.default_rng(0)
    p = rng.random((6, 5)) ** 3
    p[0, 0] = p[1, 1]  # a tie
    np.testing.assert_allclose(bh_qvalues(p), bh_reference(p), atol=1e-12)
    with_nan = p.copy()
    with_nan[:, 4] = np.nan
    q = bh_qvalues(with_nan)
    assert np.isnan(q[:, 4]).all()
    np.testing.assert_allclose(q[:, :4], bh_reference(p[:, :4]), atol=1e-12)


def test_shift_moves_labels_along_genome_order_per_strand():
    rng = np.random.default_rng(4)
    position = np.concatenate([rng.permutation(100), rng.permutation(60)])  # + tokens, then − tokens
    minus = np.arange(160) >= 100
    contig = np.zeros(160, int)
    shifter = GenomeShift(contig, position, minus)
    rows = np.arange(160)
    src = shifter.sources(rows, 0.1)
    assert np.all(minus[src] == minus)  # a strand takes labels from its own strand
    assert sorted(src.tolist()) == list(range(160))  # a permutation
    plus = ~minus
    np.testing.assert_array_equal(position[src][plus], (position[plus] + 10) % 100)
    np.testing.assert_array_equal(position[src][minus], (position[minus] + 6) % 60)
    order = genome_order(contig, position, minus)
    values = np.arange(160)
    np.testing.assert_array_equal(shift_rows(values, order, 3)[order[:5]], values[order[3:8]])
    fr = shift_fractions(50, seed=1)
    assert fr.min() >= 0.05 and fr.max() <= 0.95


def test_pooled_pvalues_calibrated_under_null_and_small_for_signal():
    rng = np.random.default_rng(1)
    n_shift, n_f, n_l = 30, 400, 3
    spread = rng.uniform(0.01, 0.1, (n_f, n_l))  # features differ in null spread
    null = 0.5 + rng.normal(size=(n_shift, n_f, n_l)) * spread
    observed = 0.5 + rng.normal(size=(n_f, n_l)) * spread
    observed[:5, 0] = 0.5 + 8 * spread[:5, 0]
    p = pooled_pvalues(observed, null)
    null_p = p[5:]
    assert 0.02 < np.mean(null_p <= 0.05) < 0.09
    assert np.all(p[:5, 0] < 1e-3)
    q = bh_qvalues(p)
    assert np.all(q[:5, 0] <= 0.05) and np.sum(q[5:] <= 0.05) <= 2
    flat = np.full((n_shift, 2, 1), 0.5)
    assert np.all(pooled_pvalues(np.array([[0.5], [0.5]]), flat) == 1)
