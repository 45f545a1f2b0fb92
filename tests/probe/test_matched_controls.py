"""Motif controls against brute-force oracles: the matched negatives are exactly the known positions (internal
in-frame start-like codons, out-of-frame stop triplets, the same k-mer elsewhere, the same hexamer outside
promoters), the same-stratum AUROC equals counting pairs, and a matched set below the minimum is untestable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dnalens.concepts.genome_data import encode
from dnalens.probe.baseline_columns import with_control_columns
from dnalens.probe.controls import plan_controls
from dnalens.probe.matched_controls import stratified_u
from dnalens.probe.sequence_context import ReadSequence

CDS_SPANS = [(300, 900), (1500, 2100)]
SD = "AGGAGG"


def _genome(seed: int = 1, n: int = 3000):
    """+ strand genes with ATG starts and TAA stops, Shine–Dalgarno 8 nt upstream, and planted decoys."""
    rng = np.random.default_rng(seed)
    seq = list(rng.choice(list("ACGT"), n))

    def put(at: int, text: str) -> None:
        seq[at : at + len(text)] = list(text)

    for s, e in CDS_SPANS:
        put(s, "ATG")
        put(e - 3, "TAA")
        put(s - 14, SD)
        put(s + 30, "GTG")  # internal, in frame, but no start uses GTG here: no stratum to pair it with
        put(s + 45, "ATG")  # internal, in frame
        put(s + 61, "ATG")  # internal, out of frame
        put(s + 91, "TAA")  # out of frame stop
    put(2500, SD)  # the same k-mer elsewhere (held-out side), and on the train side
    put(1200, SD)
    put(2600, "TATAAT")  # a hexamer inside a "promoter" ...
    put(2700, "TATAAT")  # ... and outside it (held-out side), and on the train side
    put(1000, "TATAAT")
    put(200, "TATAAT")  # the boxes (positive), inside promoters
    put(1450, "TATAAT")
    return "".join(seq)


def _labels(seq: str):
    n = len(seq)
    cds, start, stop, sd = (np.zeros(n, bool) for _ in range(4))
    codon = np.full(n, -1)
    for s, e in CDS_SPANS:
        cds[s:e] = True
        codon[s:e] = (np.arange(s, e) - s) % 3
        start[s : s + 3] = stop[e - 3 : e] = sd[s - 14 : s - 8] = True
    box, promoter = np.zeros(n, bool), np.zeros(n, bool)
    box[200:206] = box[1450:1456] = True
    promoter[150:260] = promoter[1420:1480] = promoter[2580:2640] = True
    names = [
        "CDS",
        "CDS_codon_pos1",
        "CDS_codon_pos2",
        "CDS_codon_pos3",
        "start_codon",
        "stop_codon",
        "Shine_Dalgarno_sequence",
        "sigma70_minus_10_box",
        "promoter",
    ]
    labels = np.stack([cds, codon == 0, codon == 1, codon == 2, start, stop, sd, box, promoter], axis=1)
    return names, labels, codon


def _plan(seq: str, min_negatives: int = 1):
    names, labels, _ = _labels(seq)
    n = len(seq)
    reader = ReadSequence({"c": encode(seq)}, ["c"], np.zeros(n, np.int32), np.arange(n), np.zeros(n, bool))
    test = np.r_[1400:2200, 2450:2750]
    sides = {"train": np.setdiff1d(np.arange(n), test), "test": test}
    evaluated = np.ones(len(names), bool)
    return plan_controls(names, labels, {}, None, sides, evaluated, 10_000, 0, reader, min_negatives)


def _negatives(control) -> set[int]:
    return {int(r) for side in control.rows.values() for _, neg in side for r in neg}


def _oracle(seq: str, motifs: set[str], keep, positives: np.ndarray) -> set[int]:
    """Tokens covered by an occurrence of a motif whose start `keep(start)` allows, positives left out."""
    out = set()
    k = len(next(iter(motifs)))
    for a in range(len(seq) - k + 1):
        if seq[a : a + k] in motifs and keep(a):
            out |= {p for p in range(a, a + k) if not positives[p]}
    return out


def test_matched_negatives_are_the_known_positions():
    seq = _genome()
    names, labels, codon = _labels(seq)
    applied, untestable = _plan(seq)
    by_name = {c.name: c for c in applied}
    assert not untestable
    in_cds = lambda a, frame: any(s <= a < e and ((a - s) % 3 == 0) == frame for s, e in CDS_SPANS)  # noqa: E731
    start = by_name["start_codon"]
    assert start.negatives == "internal_in_frame_ATG_GTG_TTG" and start.label.startswith("start_codon|vs_")
    # every start here is ATG: its negatives are the in-frame ATGs inside genes (a GTG has no ATG to pair with)
    assert _negatives(start) == _oracle(seq, {"ATG"}, lambda a: in_cds(a, True), labels[:, 4])
    assert {345, 346, 347, 1545} <= _negatives(start) and not {330, 361} & _negatives(start)
    stop = by_name["stop_codon"]
    # out of frame: the triplet's start is a CDS base off the frame; each of its bases must be a CDS base too
    oracle = _oracle(seq, {"TAA"}, lambda a: True, labels[:, 5])  # every stop here is TAA
    oracle = {p for p in oracle if codon[p] >= 0 and _off_frame_stop_covers(seq, p, codon)}
    assert _negatives(stop) == oracle and {391, 392, 393} <= oracle
    sd = by_name["Shine_Dalgarno_sequence"]
    assert sd.negatives == "same_kmer_elsewhere"
    assert _negatives(sd) == _oracle(seq, {SD}, lambda a: True, labels[:, 6]) and 2500 in _negatives(sd)
    box = by_name["sigma70_minus_10_box"]
    promoter = labels[:, 8]
    outside = _oracle(seq, {"TATAAT"}, lambda a: True, labels[:, 7])
    assert _negatives(box) == {p for p in outside if not promoter[p]} and 2700 in _negatives(box)
    assert 2600 not in _negatives(box)
    # strata: a negative at position m of a k-mer is paired only with positives at position m of that k-mer
    for c in (start, stop, sd, box):
        for side in c.rows.values():
            for pos, neg in side:
                kmers = {(_run_kmer(seq, p, c, labels)) for p in pos}
                assert len(kmers) == 1


def _off_frame_stop_covers(seq: str, p: int, codon: np.ndarray) -> bool:
    """Token p lies at position m of a stop triplet that starts off its CDS's frame (codon index != m)."""
    return any(seq[p - m : p - m + 3] == "TAA" and codon[p] != m for m in range(3) if p - m >= 0)


def _run_kmer(seq: str, p: int, control, labels) -> tuple[str, int]:
    """(k-mer, position in it) of positive p: its run of consecutive positives."""
    y = labels[:, control.column]
    a = p
    while a > 0 and y[a - 1]:
        a -= 1
    b = p
    while b + 1 < len(seq) and y[b + 1]:
        b += 1
    return seq[a : b + 1], p - a


def test_untestable_when_the_matched_set_is_small():
    seq = _genome()
    applied, untestable = _plan(seq, min_negatives=40)
    names = {c.name: c for c in untestable}
    # one SD decoy (6 bases + chance copies) and two TATAAT decoys fall short of 40 on some side
    assert {"Shine_Dalgarno_sequence", "sigma70_minus_10_box"} <= set(names)
    status = names["sigma70_minus_10_box"].status
    assert status.startswith("untestable:") and "minimum 40" in status
    matched = names["sigma70_minus_10_box"].n_matched  # the n stated: every side that falls short, by count
    short = [side for side, n in matched.items() if n < 40]
    assert short and all(f"{matched[side]} matched negatives" in status for side in short)
    assert all(c.name != "sigma70_minus_10_box" for c in applied)  # not applied: the concept keeps its fallback
    kinds = {c.name: c.kind for c in applied}
    assert kinds.get("start_codon") in ("sequence-matched", "frame-matched")


def test_untestable_start_codon_falls_back_to_frame_matched():
    seq = _genome()
    applied, untestable = _plan(seq, min_negatives=10**6)
    assert {"start_codon", "stop_codon"} <= {c.name for c in untestable}
    kinds = {c.name: (c.kind, c.negatives) for c in applied}
    assert kinds["start_codon"] == ("frame-matched", "")
    names, _, _ = _labels(seq)
    table = with_control_columns(pd.DataFrame({"concept": names}), applied, untestable).set_index("concept")
    status = table.loc["start_codon", "control_status"]
    assert table.loc["start_codon", "control_name"] == "start_codon|vs_frame-matched"
    assert status.startswith("tested; start_codon|vs_internal_in_frame_ATG_GTG_TTG untestable:")
    assert table.loc["Shine_Dalgarno_sequence", "control_status"].startswith("untestable:")
    assert table.loc["CDS", "control_name"] == ""


@pytest.mark.parametrize("seed", [0, 1])
def test_stratified_u_counts_same_stratum_pairs(seed):
    rng = np.random.default_rng(seed)
    n, c = 400, 6
    dense = np.where(rng.random((n, c)) < 0.4, rng.integers(-3, 4, (n, c)).astype(float), 0.0)
    y = rng.random(n) < 0.3
    group = rng.integers(0, 7, n)
    u, pairs = stratified_u(sp.csr_matrix(dense), y, group)
    want_u, want_pairs = np.zeros(c), 0
    for g in range(7):
        p, q = dense[y & (group == g)], dense[~y & (group == g)]
        want_pairs += len(p) * len(q)
        want_u += ((p[:, None, :] > q[None, :, :]) + 0.5 * (p[:, None, :] == q[None, :, :])).sum(axis=(0, 1))
    assert pairs == want_pairs
    np.testing.assert_allclose(u, want_u)
