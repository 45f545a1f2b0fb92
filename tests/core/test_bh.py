"""Benjamini–Hochberg q-values (scipy.stats.false_discovery_control behind probe.nulls.bh_qvalues)."""

from __future__ import annotations

import numpy as np

from dnalens.probe.nulls import bh_qvalues


def _previous_bh(p: np.ndarray) -> np.ndarray:
    """The hand-written implementation this replaced (m = the non-NaN entries)."""
    flat = p.ravel()
    ok = np.flatnonzero(~np.isnan(flat))
    q = np.full(flat.shape, np.nan)
    if ok.size:
        order = ok[np.argsort(flat[ok], kind="stable")]
        ranked = flat[order] * ok.size / np.arange(1, ok.size + 1)
        q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q.reshape(p.shape)


def test_hand_computed_with_nan_not_counted():
    # m = 4 tested pairs; sorted 0.005, 0.01, 0.03, 0.04 -> 0.02, 0.02, 0.04, 0.04 (NaN = not tested)
    q = bh_qvalues(np.array([[0.01, 0.04, np.nan], [0.03, 0.005, np.nan]]))
    np.testing.assert_allclose(q, [[0.02, 0.04, np.nan], [0.04, 0.02, np.nan]], atol=1e-12)


def test_hand_computed_step_down_and_cap():
    # raw m p / rank = 0.03, 0.03, 0.021 -> running minimum from the top: all 0.021
    np.testing.assert_allclose(bh_qvalues(np.array([0.01, 0.02, 0.021])), [0.021] * 3, atol=1e-12)
    np.testing.assert_allclose(bh_qvalues(np.array([0.9, 0.95])), [0.95, 0.95], atol=1e-12)
    np.testing.assert_allclose(bh_qvalues(np.array([1.0, 1.0, 0.5])), [1.0, 1.0, 1.0], atol=1e-12)


def test_equals_the_previous_implementation_with_ties_and_nan():
    rng = np.random.default_rng(3)
    p = rng.random((40, 7)) ** 4
    p[3, 2] = p[5, 1]
    p[:, 6] = np.nan
    p[0, 0] = np.nan
    np.testing.assert_allclose(bh_qvalues(p), _previous_bh(p), atol=1e-12, equal_nan=True)
    assert np.isnan(bh_qvalues(p)[:, 6]).all()


def test_all_nan_stays_nan():
    q = bh_qvalues(np.full((2, 3), np.nan))
    assert q.shape == (2, 3) and np.isnan(q).all()
