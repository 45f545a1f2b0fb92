"""Sequence-only baselines on hand-built cases: k-mer codes in read orientation, GC bins, window-edge distance,
P(concept | code) tables, and their AUROC against sklearn's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from dnalens.concepts.genome_data import encode
from dnalens.probe.baselines import (
    auroc_from_counts,
    baseline_scores,
    code_counts,
    crossfit_auroc,
    fit_table,
    stratified_auroc,
)
from dnalens.probe.inputs import token_edge_distance
from dnalens.probe.sequence_context import edge_codes, gc_codes, kmer_codes
from dnalens.probe.token_concepts import TokenConcepts


def _code(kmer: str) -> int:
    return int("".join(str("ACGT".index(b)) for b in kmer), 4)


def test_kmer_codes_by_hand():
    seq = {"c": encode("ACGTTNAC")}
    pos = np.array([0, 1, 2, 3, 1, 2, 3, 4, 7, 1])
    minus = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0], bool)
    contig = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1])  # last token: a contig without sequence
    k3 = kmer_codes(seq, ["c", "d"], contig, pos, minus, 3)
    other = 64
    # + reads ACG at 1, CGT at 2, GTT at 3; − reads the reverse complement: ACG -> CGT, CGT -> ACG, GTT -> AAC
    assert k3.tolist() == [
        other,
        _code("ACG"),
        _code("CGT"),
        _code("GTT"),
        _code("CGT"),
        _code("ACG"),
        _code("AAC"),
        other,
        other,
        other,
    ]  # 4: TTN has an N; 7: past the contig end
    k1 = kmer_codes(seq, ["c", "d"], contig, pos, minus, 1)
    assert k1.tolist() == [0, 1, 2, 3, 2, 1, 0, 0, 1, 4]  # − strand complements: C -> G, G -> C, T -> A
    assert kmer_codes(seq, ["c"], np.zeros(1, int), np.array([2]), np.zeros(1, bool), 5)[0] == _code("ACGTT")


def test_gc_bins_by_hand():
    seq = {"c": encode("GGGGAAAANN")}
    pos = np.array([1, 4, 6, 9])
    # window 4 centred: [pos-2, pos+2) clipped: 0:3 -> GGG (1.0), 2:6 -> GGAA (0.5), 4:8 -> AAAA (0), 7:10 -> ANN (0)
    got = gc_codes(seq, ["c"], np.zeros(4, int), pos, window=4, n_bins=4)
    assert got.tolist() == [3, 2, 0, 0]
    assert gc_codes({"c": encode("NNNN")}, ["c"], np.zeros(1, int), np.array([1]), 4, 4).tolist() == [4]  # other


def test_edge_distance_by_hand():
    # a 10-nt window read from position 3 on (trimmed start), 4 rows; and an untrimmed 6-nt window
    windows = pd.DataFrame(
        {"start": [100, 0], "end": [110, 6], "token_start": [0, 4], "token_end": [4, 10], "read_offset": [3, 0]}
    )
    assert token_edge_distance(windows).tolist() == [3, 4, 4, 3, 0, 1, 2, 2, 1, 0]
    assert edge_codes(np.array([0, 15, 16, 1023, 1024, 10**6])).tolist() == [0, 0, 1, 63, 64, 64]


def test_table_and_auroc_match_sklearn():
    """P(concept | code) by hand on train tokens; held-out AUROC of the looked-up scores = sklearn's."""
    train_code = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 0])
    train_y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 1], bool)
    pos, total = code_counts(train_code, TokenConcepts.from_labels(train_y[:, None]), 4)
    assert pos[:, 0].tolist() == [3, 1, 0, 0] and total.tolist() == [4, 2, 4, 0]
    table = fit_table(pos, total, pseudocount=1.0)[:, 0]
    prior = 4 / 10
    np.testing.assert_allclose(table, [(3 + prior) / 5, (1 + prior) / 3, prior / 5, prior])
    rng = np.random.default_rng(0)
    test_code = rng.integers(0, 4, 500)
    test_y = rng.random(500) < np.array([0.6, 0.3, 0.1, 0.5])[test_code]
    pos_te, tot_te = code_counts(test_code, TokenConcepts.from_labels(test_y[:, None]), 4)
    ours = auroc_from_counts(table[:, None], pos_te, tot_te)[0]
    assert abs(ours - roc_auc_score(test_y, table[test_code])) < 1e-12


def test_baseline_scores_and_crossfit_against_brute_force():
    rng = np.random.default_rng(1)
    n = 4000
    code = rng.integers(0, 16, n)
    y = np.stack([rng.random(n) < 0.05 + 0.05 * (code % 4), rng.random(n) < 0.5], axis=1)
    train, test = np.arange(3000), np.arange(3000, n)
    fold = (np.arange(3000) // 500) % 2 == 1
    got = baseline_scores(
        {"kmer": code},
        {"kmer": 16},
        train,
        test,
        TokenConcepts.from_labels(y, train),
        TokenConcepts.from_labels(y, test),
        fold,
    )
    for lab in range(2):
        p = np.bincount(code[train], weights=y[train, lab], minlength=16)
        t = np.bincount(code[train], minlength=16)
        prior = y[train, lab].mean()
        table = (p + prior) / (t + 1)
        assert abs(got.auroc_test[0, lab] - roc_auc_score(y[test, lab], table[code[test]])) < 1e-12
        scores = np.empty(3000)
        for h in (False, True):  # each half scored by the other half's table
            other = train[fold != h]
            po = np.bincount(code[other], weights=y[other, lab], minlength=16)
            to = np.bincount(code[other], minlength=16)
            scores[fold == h] = ((po + y[other, lab].mean()) / (to + 1))[code[train][fold == h]]
        assert abs(got.auroc_train[0, lab] - roc_auc_score(y[train, lab], scores)) < 1e-12
    assert got.auroc_test[0, 0] > 0.6 and abs(got.auroc_test[0, 1] - 0.5) < 0.06
    name, a_train, a_test, _ = got.best()
    assert name.tolist() == ["kmer", "kmer"] and a_test.tolist() == got.auroc_test[0].tolist()
    assert crossfit_auroc([(np.zeros((2, 1)), np.ones(2)), (np.zeros((2, 1)), np.ones(2))])[0] == 0.5


def test_stratified_auroc_is_the_same_stratum_pair_count():
    rng = np.random.default_rng(2)
    stratum = rng.integers(0, 3, 600)
    y = rng.random(600) < 0.2
    s = rng.normal(size=600) + y + stratum  # stratum shifts scores: pooled AUROC would mix strata
    pairs = wins = 0.0
    aucs, n_pos, n_neg = [], [], []
    for k in range(3):
        a, b = s[(stratum == k) & y], s[(stratum == k) & ~y]
        wins += (a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()
        pairs += a.size * b.size
        aucs.append(roc_auc_score(y[stratum == k], s[stratum == k]))
        n_pos.append(a.size)
        n_neg.append(b.size)
    assert abs(stratified_auroc(np.array(aucs), np.array(n_pos), np.array(n_neg)) - wins / pairs) < 1e-12
