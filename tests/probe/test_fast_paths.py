"""The label-pattern kernels and pattern shift nulls give the numbers of the expand-and-bincount path.

Oracles: a dense brute force (np.add.at over an explicit label matrix), sklearn's roc_auc_score on
explicitly shifted labels, and the whole probe stage run with the previous kernels patched back in
(the expansion kernel below, and one AUROC per explicitly built shifted label set)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import roc_auc_score

from dnalens.probe import label_patterns
from dnalens.probe.auroc import RankedCodes, auroc_matrix
from dnalens.probe.nulls import GenomeShift, shift_fractions
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import run_probe
from dnalens.probe.token_concepts import TokenConcepts, expand

from .synthetic import planted_inputs


def expansion_counts(self, seg, tokens, n_seg, weights=None):
    """The previous kernel of TokenConcepts.counts: expand every entry into its token's concepts."""
    n_l = self.flipped.size
    cnt, pos = expand(np.asarray(tokens, np.int64), self.indptr)
    key = np.repeat(np.asarray(seg, np.int64) * n_l, cnt) + self.concept[pos]
    w = None if weights is None else np.repeat(weights, cnt)
    out = np.bincount(key, weights=w, minlength=n_seg * n_l).reshape(n_seg, n_l)
    out = out.astype(np.int64) if weights is None else out
    if self.flipped.any():
        seg_total = np.bincount(seg, weights=weights, minlength=n_seg)
        out[:, self.flipped] = (seg_total[:, None] - out[:, self.flipped]).astype(out.dtype)
    return out


def brute_shifted_auroc(self, labels, sources, source_ids, n_pos):
    """One AUROC per explicitly built shifted label set (the previous null loop)."""
    return np.stack([self.auroc(labels.take(src)) for src in sources])


def _labels(rng, n, n_l):
    dense = rng.random((n, n_l)) < rng.uniform(0.01, 0.9, n_l)  # some concepts denser than 1/2: stored flipped
    dense[:, 0] = False  # no positives
    return dense


@pytest.mark.parametrize("max_bins", [1 << 23, 7])  # 7: segments summed a few at a time
def test_counts_match_brute_force(monkeypatch, max_bins):
    monkeypatch.setattr(label_patterns, "MAX_BINS", max_bins)
    rng = np.random.default_rng(3)
    n, n_l, n_seg = 3000, 9, 13
    dense = _labels(rng, n, n_l)
    tc = TokenConcepts.from_labels(dense)
    assert tc.flipped.any() and tc.patterns.n_patterns < n
    tokens = rng.integers(0, n, 5000)
    seg = rng.integers(0, n_seg, tokens.size)
    weights = rng.integers(-40, 40, tokens.size) / 2.0
    assert tc.use_patterns(n_seg, tokens.size)  # the label-pattern route first
    for w in (None, weights):
        ref = np.zeros((n_seg, n_l))
        np.add.at(ref, seg, dense[tokens] * (1.0 if w is None else w[:, None]))
        got = tc.counts(seg, tokens, n_seg, w)
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(got, expansion_counts(tc, seg, tokens, n_seg, w))
        assert got.dtype == (np.int64 if w is None else np.float64)
    # the expansion route (taken when label patterns × segments outweigh the entries) gives the same numbers
    monkeypatch.setattr(TokenConcepts, "use_patterns", lambda self, n_seg, n_entries: False)
    np.testing.assert_array_equal(
        tc.counts(seg, tokens, n_seg, weights), expansion_counts(tc, seg, tokens, n_seg, weights)
    )


def test_patterns_beyond_64_concepts():
    rng = np.random.default_rng(4)
    dense = rng.random((500, 70)) < 0.05
    dense[::7, 65] = True
    tc = TokenConcepts.from_labels(dense)
    np.testing.assert_array_equal(tc.patterns.table[tc.patterns.of_token] > 0, dense)
    np.testing.assert_array_equal(tc.patterns.positives(np.arange(500)), dense.sum(axis=0))


def test_shifted_auroc_matches_sklearn_on_shifted_labels(monkeypatch):
    rng = np.random.default_rng(5)
    n, n_f, n_l = 4000, 12, 5
    dense = _labels(rng, n, n_l)
    values = np.where(rng.random((n, n_f)) < 0.1, np.round(rng.exponential(1.0, (n, n_f)), 1), 0.0)
    values[:, 3] = -values[:, 3]  # negative values rank below the zeros
    codes = sp.csr_matrix(values)
    contig = np.zeros(n, np.int64)
    minus = np.arange(n) >= n // 2  # two read strands, each shifted on its own
    position = np.where(minus, n - 1 - np.arange(n), np.arange(n))
    test = np.sort(rng.choice(n, 900, replace=False))
    shifter = GenomeShift(contig, position, minus)
    sources = np.stack([shifter.sources(test, f) for f in shift_fractions(4, seed=2)])
    tc = TokenConcepts.from_labels(dense)
    ids = np.ascontiguousarray(tc.patterns.of_token[sources].T)
    n_pos = np.stack([tc.patterns.positives(src) for src in sources])
    ranked = RankedCodes(codes, rows=test, max_chunk_entries=50)
    got = ranked.shifted_auroc(tc, sources, ids, n_pos)
    with monkeypatch.context() as m:  # every chunk through the expansion route (many label patterns)
        m.setattr(TokenConcepts, "use_patterns", lambda self, n_seg, n_entries: False)
        np.testing.assert_array_equal(ranked.shifted_auroc(tc, sources, ids, n_pos), got)
    pytest.importorskip("torch")
    from dnalens.probe import torch_shared
    from dnalens.probe.auroc_torch import RankedCodesTorch

    with monkeypatch.context() as m:  # several column pieces and shift groups on the device
        m.setattr(torch_shared, "PATTERN_BINS", 4 * tc.patterns.n_patterns)
        on_torch = RankedCodesTorch(codes, rows=test, device="cpu", max_chunk_entries=50)
        assert len(on_torch.pieces) == 1  # device chunks: the whole matrix, then 4-column pieces for the sums
        np.testing.assert_array_equal(on_torch.shifted_auroc(tc, sources, ids, n_pos), got)
        tc_test = TokenConcepts.from_labels(dense, test)
        np.testing.assert_array_equal(on_torch.auroc(tc_test), ranked.auroc(tc_test))
    for s, src in enumerate(sources):
        shifted = dense[src]
        np.testing.assert_array_equal(n_pos[s], shifted.sum(axis=0))
        np.testing.assert_allclose(got[s], auroc_matrix(codes[test], shifted), atol=1e-12)
        for f, lab in [(0, 1), (3, 2), (7, 4), (11, 3)]:
            y = shifted[:, lab]
            ref = roc_auc_score(y, values[test, f]) if 0 < y.sum() < y.size else 0.5
            assert got[s, f, lab] == pytest.approx(ref, abs=1e-12)
        assert (got[s, :, 0] == 0.5).all()  # a concept without positives


def test_probe_stage_tables_identical_to_previous_kernels(monkeypatch):
    """Whole stage on the planted buffer: new kernels vs the expansion kernel + one AUROC per shifted label set."""
    inputs, _, _ = planted_inputs(seed=1, n=20_000)
    settings = ProbeSettings(
        n_null=40, min_null_draws=0, probes=False, block_size=2000, test_fraction=0.3, feature_block_entries=30_000
    )
    new = run_probe(inputs, settings)
    monkeypatch.setattr(TokenConcepts, "counts", expansion_counts)
    monkeypatch.setattr(RankedCodes, "shifted_auroc", brute_shifted_auroc)
    old = run_probe(inputs, settings)
    assert new.summary["n_annotated_pairs"] > 0
    for name in ("feature_concept", "features", "concepts"):
        pd.testing.assert_frame_equal(getattr(new, name), getattr(old, name), check_exact=True)


def test_instance_hits_bitmap_and_sorted_dedup_agree(monkeypatch):
    """Multi-run instances (two intervals sharing an id) deduplicated by bitmap or by np.unique."""
    from dnalens.probe import f1_counts
    from dnalens.probe.f1 import domain_f1_curves

    inputs, _, _ = planted_inputs(seed=3, n=20_000)
    inputs.instances = np.where(inputs.instances >= 0, inputs.instances // 2, -1)  # pairs of intervals: 2 runs
    rows = np.flatnonzero((np.arange(inputs.n_tokens) // 700) % 3 != 1)
    bitmap = domain_f1_curves(inputs.codes, inputs.labels, inputs.instances, rows=rows)
    monkeypatch.setattr(f1_counts, "BITMAP_PER_TOKEN", 0)
    monkeypatch.setattr(f1_counts, "BITMAP_MIN", 0)
    runs = f1_counts.InstanceRuns.from_arrays(inputs.labels, inputs.instances, rows)
    assert (runs.run_multi >= 0).any()
    unique = domain_f1_curves(inputs.codes, inputs.labels, inputs.instances, rows=rows)
    np.testing.assert_array_equal(bitmap.hit_instances, unique.hit_instances)
    assert bitmap.hit_instances.sum() > 0
