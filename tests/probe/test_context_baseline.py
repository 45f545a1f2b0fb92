"""The matched-context baseline against independent references: its features by brute force (both read
strands), its held-out AUROC against scikit-learn's LogisticRegression on the same features and rows (1e-3),
and a hand-made concept that only the context decides: the centred k-mers score chance, the context baseline
finds it, and the probe stage picks it as the strongest baseline so every margin is over it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from dnalens.probe.context_baseline import (
    CENTRE_NT,
    ContextBaselineSettings,
    context_baseline_scores,
    context_features,
)
from dnalens.probe.inputs import ProbeInputs
from dnalens.probe.sequence_context import ReadSequence
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import run_probe

W = 40  # context nt each side (small: fast)
MOTIF = "GGGGCCCC"  # its own reverse complement is GGGGCCCC too: the same on both read strands


def _genome(n: int = 6000, seed: int = 0):
    """A random contig with MOTIF planted every ~150 nt; tokens = every position on both strands; the concept:
    the motif starts 5..W−8 nt downstream as read (so it sits inside the context, never at the centre)."""
    rng = np.random.default_rng(seed)
    seq = rng.choice(list("ACGT"), n)
    sites = np.arange(100, n - 100, 150) + rng.integers(-20, 20, (n - 200) // 150 + 1)[: len(range(100, n - 100, 150))]
    for s in sites:
        seq[s : s + len(MOTIF)] = list(MOTIF)
    text = "".join(seq)
    from dnalens.concepts.genome_data import encode

    pos = np.r_[np.arange(n), np.arange(n)]
    minus = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    reader = ReadSequence({"c": encode(text)}, ["c"], np.zeros(2 * n, np.int32), pos, minus)
    ahead = reader.bases(None, np.arange(5, W))  # read offsets 5 .. W − 1
    target = np.array([list("ACGT").index(b) for b in MOTIF])
    windows = np.lib.stride_tricks.sliding_window_view(ahead, len(MOTIF), axis=1)
    y = (windows == target).all(axis=2).any(axis=1)
    return text, reader, y


def _brute_features(text: str, p: int, minus: bool) -> np.ndarray:
    """The kmer view of one token written out base by base (context_baseline's module doc)."""
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}

    def read(j: int) -> str | None:
        at = p - j if minus else p + j
        if not 0 <= at < len(text):
            return None
        return comp[text[at]] if minus else text[at]

    v = np.zeros(2 * 3 * 64 + 4 * (2 * CENTRE_NT + 1))
    for start in list(range(-W, -2)) + list(range(1, W - 1)):
        kmer = [read(start + i) for i in range(3)]
        if None in kmer:
            continue
        code = sum("ACGT".index(b) * 4 ** (2 - i) for i, b in enumerate(kmer))
        v[((start > 0) * 3 + start % 3) * 64 + code] += 1
    for j in range(-CENTRE_NT, CENTRE_NT + 1):
        b = read(j)
        if b is not None:
            v[384 + 4 * (j + CENTRE_NT) + "ACGT".index(b)] = 1
    return v


def test_features_by_brute_force_on_both_strands():
    text, reader, _ = _genome(n=800)
    rows = np.array([0, 3, 17, 400, 799, 800, 803, 1200, 1599])  # both strands, contig ends included
    x = context_features(reader, rows, "kmer", W)
    for i, r in enumerate(rows):
        np.testing.assert_array_equal(x[i], _brute_features(text, int(reader.token_position[r]), bool(r >= 800)))
    onehot = context_features(reader, rows[:3], "onehot", 5)
    assert onehot.shape == (3, 44) and (onehot.sum(axis=1) == [6, 9, 11]).all()  # bases on the contig


def _split(reader):
    blocks = reader.token_position // 500
    test = np.flatnonzero(blocks % 4 == 3)
    train = np.flatnonzero(blocks % 4 != 3)
    return train, test, (blocks % 2).astype(bool)


def test_held_out_auroc_equals_sklearn():
    _, reader, y = _genome()
    train, test, fold = _split(reader)
    s = ContextBaselineSettings("kmer", W, max_tokens=3000, l2=1e-3, max_iter=500, seed=0)
    labels = y[:, None]
    a_train, a_test = context_baseline_scores(reader, labels, train, test, fold, s)
    fit = np.sort(np.random.default_rng(0).choice(train, 3000, replace=False))  # probes.sample_rows
    x_fit = context_features(reader, fit, "kmer", W).astype(np.float64)
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std[std == 0] = 1.0
    ref = LogisticRegression(class_weight="balanced", C=1.0 / (2 * s.l2 * fit.size), tol=1e-10, max_iter=10_000)
    ref.fit((x_fit - mean) / std, y[fit])
    scores = ref.decision_function((context_features(reader, test, "kmer", W) - mean) / std)
    assert a_test[0] == pytest.approx(roc_auc_score(y[test], scores), abs=1e-3)
    assert a_test[0] > 0.9 and a_train[0] > 0.9  # the context decides this concept


def test_context_not_the_centre_decides_and_every_claim_carries_its_margin():
    _, reader, y = _genome()
    n = y.size
    rng = np.random.default_rng(1)
    noise = np.where(rng.random((n, 4)) < 0.1, rng.exponential(1.0, (n, 4)), 0.0)
    informative = np.where(y & (rng.random(n) < 0.97), 1.0 + rng.random(n), 0.0)  # a latent that knows it
    pos = reader.token_position
    inputs = ProbeInputs(
        codes=sp.csr_matrix(np.column_stack([informative, noise]).astype(np.float32)),
        labels=y[:, None],
        label_names=["motif_ahead"],
        instances=None,
        token_contig=reader.token_contig,
        token_position=pos,
        token_minus=reader.token_minus,
        contig_names=["c"],
        contig_lengths={"c": 6000},
        sequence=reader.sequence,
        edge_distance=np.minimum(pos % 1000, 999 - pos % 1000),
    )
    settings = ProbeSettings(
        block_size=500, test_fraction=0.25, n_null=20, min_null_draws=200, probes=False, context_baseline_nt=W
    )
    row = run_probe(inputs, settings).concepts.set_index("concept").loc["motif_ahead"]
    assert max(row[f"baseline_kmer{k}_auroc_test"] for k in (1, 3, 5)) < 0.6  # the centre says nothing
    assert row["baseline_context_auroc_test"] > 0.9
    # the strongest baseline is the matched-context one, and the claim's margin over it is reported ...
    strongest = row["strongest_baseline_auroc_test"]
    assert row["strongest_baseline"] == "context" and strongest == row["baseline_context_auroc_test"]
    assert row["best_margin_strongest"] == pytest.approx(row["best_auroc_test"] - strongest, abs=1e-6)
    # ... while the strict rule's gate stays on the local sequence baselines (annotate.GATE_SKIPS)
    assert row["baseline"] != "context" and row["best_margin"] > row["best_margin_strongest"] + 0.3
    off = run_probe(inputs, dataclasses.replace(settings, context_baseline="none")).concepts.iloc[0]
    assert off["strongest_baseline"] != "context" and np.isnan(off["baseline_context_auroc_test"])
    assert off["best_margin_strongest"] > row["best_margin_strongest"] + 0.3  # without it the claim is flattered
