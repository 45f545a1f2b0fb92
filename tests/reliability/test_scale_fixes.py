"""The scale fixes give the results of the code they replaced: block-wise report statistics and hits
against whole-matrix oracles, on overlapping, origin-wrapping windows of both strands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dnalens.report.hits import all_hits, hit_summary, selected_hits, strongest_hits
from dnalens.report.tables import feature_stats
from dnalens.report.tokens import build_token_map

CONTIGS = {"c1": 500, "c2": 260}


def _windows() -> pd.DataFrame:
    rows, token = [], 0
    for contig, size in CONTIGS.items():
        for start in range(0, size, 60):  # 100-nt windows every 60: overlaps, and the last ones wrap
            for strand in "+-":
                rows.append((contig, start, start + 100, strand, token, token + 100))
                token += 100
    return pd.DataFrame(rows, columns=["contig", "start", "end", "strand", "token_start", "token_end"])


def _codes(n_tokens: int, n_features: int = 40, seed: int = 3) -> sp.csc_matrix:
    rng = np.random.default_rng(seed)
    dense = np.zeros((n_tokens, n_features), np.float32)
    for f in range(n_features - 3):  # the last three features never fire
        rate = rng.uniform(0.005, 0.2)
        on = rng.random(n_tokens) < rate
        on |= np.roll(on, 1) & (rng.random(n_tokens) < 0.6)  # runs of consecutive tokens
        dense[on, f] = np.round(rng.gamma(2.0, 1.0, on.sum()), 1)  # rounded: ties between tokens
    dense[rng.random(dense.shape) < 0.002] = -0.5  # a few negative values (the stats count > 0 only)
    csc = sp.csc_matrix(dense)
    csc.sort_indices()
    return csc


@pytest.fixture(scope="module")
def data():
    windows = _windows()
    n = int(windows["token_end"].iloc[-1])
    csc = _codes(n)
    tokens = build_token_map(windows, CONTIGS, n)
    stats = feature_stats(csc, max_nnz=10**9)
    relative = np.linspace(0.0, 0.6, csc.shape[1])
    return csc, tokens, relative, stats["max_activation"].to_numpy()


@pytest.mark.parametrize("max_nnz", [1, 37, 500, 10**9])
def test_feature_stats_in_blocks_match_dense_numpy(data, max_nnz):
    csc = data[0]
    dense = csc.toarray().astype(np.float64)
    stats = feature_stats(csc, max_nnz=max_nnz)
    positive = dense > 0
    n_active = positive.sum(axis=0)
    assert stats["n_active_tokens"].tolist() == n_active.tolist()
    np.testing.assert_array_equal(stats["max_activation"], np.maximum(dense.max(axis=0), 0.0))
    mean = np.where(n_active > 0, (dense * positive).sum(axis=0) / np.maximum(n_active, 1), 0.0)
    np.testing.assert_allclose(stats["mean_active_activation"], mean, rtol=1e-12)
    assert stats["activation_frequency"].tolist() == (n_active / dense.shape[0]).tolist()


@pytest.mark.parametrize("max_nnz", [1, 211, 10**9])
def test_hit_summary_equals_strongest_of_all_hits(data, max_nnz):
    csc, tokens, relative, maxima = data
    whole = all_hits(csc, tokens, relative, maxima, max_nnz=10**9)
    assert len(whole) > 500 and whole["feature"].nunique() > 20
    expected = strongest_hits(whole)
    got = hit_summary(csc, tokens, relative, maxima, max_nnz=max_nnz)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(all_hits(csc, tokens, relative, maxima, max_nnz=max_nnz), whole, check_exact=True)


@pytest.mark.parametrize("max_nnz", [1, 97, 10**9])
@pytest.mark.parametrize("max_hits", [1, 3, 10**6])
def test_selected_hits_equal_the_filtered_full_table(data, max_hits, max_nnz):
    csc, tokens, relative, maxima = data
    whole = all_hits(csc, tokens, relative, maxima)
    chosen = [31, 2, 17, 39, 5]  # any order; feature 39 never fires
    expected = whole[whole["feature"].isin(chosen) & (whole["hit"] <= max_hits)].reset_index(drop=True)
    got = selected_hits(csc, chosen, tokens, relative, maxima, max_hits, max_nnz=max_nnz)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=True)
    assert set(got["feature"]) == {31, 2, 17, 5}
