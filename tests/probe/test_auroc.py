"""auroc_matrix against sklearn's roc_auc_score (an independent tie-aware reference)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score

import dnalens.probe.ranks as ranks
from dnalens.probe import auroc_matrix
from dnalens.probe.auroc import RankedCodes
from dnalens.probe.token_concepts import TokenConcepts


def reference(dense: np.ndarray, labels: np.ndarray) -> np.ndarray:
    n = labels.shape[0]
    return np.array(
        [
            [
                roc_auc_score(labels[:, j], dense[:, f]) if 0 < labels[:, j].sum() < n else 0.5
                for j in range(labels.shape[1])
            ]
            for f in range(dense.shape[1])
        ]
    )


@pytest.fixture(scope="module")
def tied_codes():
    """Sparse codes with many ties among nonzeros, negative values, an empty feature; labels from 1% to 99%."""
    rng = np.random.default_rng(0)
    n, f = 1500, 24
    x = sp.random(n, f, density=0.06, random_state=1, format="csr", dtype=np.float64)
    x.data = np.round(x.data * 4) / 4 - 0.3
    x.data[x.data == 0] = 0.5
    x = x.tolil()
    x[:, 3] = 0  # never fires
    x = x.tocsr()
    x.eliminate_zeros()
    labels = rng.random((n, 7)) < np.array([0.01, 0.1, 0.5, 0.7, 0.99, 0.3, 0.0])
    return x, labels


@pytest.fixture(scope="module")
def tied_reference(tied_codes):
    x, labels = tied_codes
    return reference(x.toarray(), labels)


def test_plain_argsort_ranks_are_biased_on_these_codes(tied_codes):
    """Guard: the data must be tie-heavy enough that position-broken ranks give other numbers."""
    x, labels = tied_codes
    d = x.toarray()
    plain = d.argsort(axis=0).argsort(axis=0) + 1.0
    n_pos = labels[:, 1].sum()
    naive = (plain[:, 0][labels[:, 1]].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(d) - n_pos))
    assert abs(naive - roc_auc_score(labels[:, 1], d[:, 0])) > 1e-3


@pytest.mark.parametrize("layout", ["csr", "csc", "coo", "dense", "shards"])
@pytest.mark.parametrize("chunk", [50, 1 << 17])
def test_matches_sklearn(tied_codes, tied_reference, layout, chunk):
    x, labels = tied_codes
    codes = {
        "csr": x,
        "csc": x.tocsc(),
        "coo": x.tocoo(),
        "dense": x.toarray(),
        "shards": [x[:400], x[400:1000], x[1000:]],
    }[layout]
    got = auroc_matrix(codes, labels, max_chunk_entries=chunk)
    assert got.shape == (x.shape[1], labels.shape[1])
    np.testing.assert_allclose(got, tied_reference, atol=1e-12)
    assert np.all(got[:, 6] == 0.5) and np.all(got[3] == 0.5)  # no positives / never fires


def test_row_subset_and_dense_negative_activations(tied_codes):
    x, labels = tied_codes
    rng = np.random.default_rng(3)
    rows = np.sort(rng.choice(x.shape[0], 600, replace=False))
    np.testing.assert_allclose(
        auroc_matrix(x, labels, rows=rows), reference(x.toarray()[rows], labels[rows]), atol=1e-12
    )
    dense = rng.normal(size=(x.shape[0], 4))
    dense[:, 0] = np.round(dense[:, 0])  # ties around and at zero
    np.testing.assert_allclose(auroc_matrix(dense, labels), reference(dense, labels), atol=1e-12)
    with pytest.raises(ValueError):
        auroc_matrix(x, labels, rows=rows[::-1])


@pytest.mark.parametrize("kind", ["float16", "bfloat16"])
def test_half_precision_counting_path_needs_no_sort(tied_codes, kind, monkeypatch):
    x, labels = tied_codes
    x = x.astype(np.float32)
    if kind == "float16":
        x.data = x.data.astype(np.float16).astype(np.float32)
    else:
        x.data = (x.data.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32) + np.float32(0)
        x.data[x.data == 0] = 1.0
    monkeypatch.setattr(ranks, "_sorted_positions", lambda *a: pytest.fail("sorted instead of counting"))
    np.testing.assert_allclose(auroc_matrix(x, labels), reference(x.toarray().astype(np.float64), labels), atol=1e-12)


def test_float64_values_that_float32_cannot_hold(tied_codes):
    x, labels = tied_codes
    x = x.copy()
    x.data = x.data + 1e-12 * np.arange(x.data.size) % 3  # distinct only in float64
    np.testing.assert_allclose(auroc_matrix(x, labels), reference(x.toarray(), labels), atol=1e-12)


def test_torch_path_on_cpu_and_ranked_reuse(tied_codes, tied_reference):
    x, labels = tied_codes
    ref = tied_reference
    np.testing.assert_allclose(auroc_matrix(x, labels, device="cpu-torch", max_chunk_entries=64), ref, atol=1e-12)
    ranked = RankedCodes(x, max_chunk_entries=100)
    np.testing.assert_allclose(ranked.auroc(TokenConcepts.from_labels(labels)), ref, atol=1e-12)
    np.testing.assert_allclose(ranked.auroc(~labels), reference(x.toarray(), ~labels), atol=1e-12)


def test_bad_inputs(tied_codes):
    x, labels = tied_codes
    with pytest.raises(ValueError):
        auroc_matrix(x, labels[:-1])
    bad = x.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError):
        auroc_matrix(bad, labels)


def test_token_concepts_take_keeps_flips_and_counts(tied_codes, tied_reference):
    x, labels = tied_codes
    full = TokenConcepts.from_labels(labels)
    rows = np.array([5, 3, 3, 900, 1499, 0])
    sub = full.take(rows)
    np.testing.assert_array_equal(sub.n_pos, labels[rows].sum(axis=0))
    np.testing.assert_array_equal(sub.stored_dense() ^ full.flipped, labels[rows])
    order = np.arange(x.shape[0])[::-1]
    ranked = RankedCodes(x)
    np.testing.assert_allclose(ranked.auroc(full.take(order)), reference(x.toarray(), labels[order]), atol=1e-12)
