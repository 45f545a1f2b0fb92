"""feature_statistics against a dense brute force: empty columns, explicit zeros, negative values."""

import numpy as np
import scipy.sparse as sp

from dnalens.probe.backend import feature_statistics


def test_feature_statistics_equal_dense_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n, f = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        m = sp.random(n, f, density=rng.uniform(0, 0.5), random_state=trial, format="csc").astype(np.float32)
        m.data -= 0.3 * rng.random(m.data.size).astype(np.float32)  # some negative codes
        if trial % 3 == 0:
            m.data[::4] = 0  # explicitly stored zeros
        dense = m.toarray()
        freq, fmax, mean = feature_statistics(m)
        stored = np.diff(m.indptr)
        np.testing.assert_allclose(freq, (dense > 0).sum(0) / n)
        top = [m.data[m.indptr[j] : m.indptr[j + 1]].max() if stored[j] else 0.0 for j in range(f)]
        np.testing.assert_allclose(fmax, np.maximum(top, 0.0))
        nonzero = (dense != 0).sum(0)
        np.testing.assert_allclose(
            mean, np.where(nonzero > 0, dense.sum(0, dtype=np.float64) / np.maximum(nonzero, 1), 0), atol=1e-6
        )
