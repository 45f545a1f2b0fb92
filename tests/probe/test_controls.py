"""Frame-matched controls: a reading-frame feature cannot pass as a stop-codon feature; a true stop detector can."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dnalens.concepts.genome_data import encode
from dnalens.probe.controls import dinucleotide_strata, find_controls
from dnalens.probe.sequence_context import kmer_codes
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import run_probe

from .synthetic import frame_inputs

SETTINGS = ProbeSettings(block_size=3000, test_fraction=0.3, n_null=40, min_null_draws=20_000, probes=False)


@pytest.fixture(scope="module")
def frame():
    inputs = frame_inputs()
    return inputs, run_probe(inputs, SETTINGS)


def test_reading_frame_feature_is_not_a_stop_codon_feature(frame):
    inputs, result = frame
    fc = result.feature_concept.set_index(["feature", "concept"])
    frame_row, stop_row = fc.loc[(0, "stop_codon")], fc.loc[(1, "stop_codon")]
    assert frame_row["auroc_test_uncontrolled"] > 0.75  # against all tokens it looks like a stop-codon feature
    assert abs(frame_row["auroc_test"] - 0.5) < 1e-6  # within each codon position it is constant
    assert not frame_row["annotated"]
    assert stop_row["auroc_test"] > 0.9 and stop_row["annotated"]
    concepts = result.concepts.set_index("concept")
    assert concepts.loc["stop_codon", "control"] == "frame-matched"
    assert concepts.loc["CDS", "control"] == ""
    assert concepts.loc["stop_codon", "best_feature_auroc"] == 1 and concepts.loc["stop_codon", "best_annotated"]
    # random sequence: no baseline predicts stop codons among in-frame bases
    assert abs(concepts.loc["stop_codon", "baseline_auroc_test"] - 0.5) < 0.15  # ~27 held-out stop bases
    assert list(result.summary["controls"]) == ["stop_codon"]
    summary = result.summary["controls"]["stop_codon"]
    assert (
        summary["kind"] == "frame-matched"
        and summary["n_positive_test"] == concepts.loc["stop_codon", "n_positive_test"]
    )


def test_controlled_auroc_by_brute_force(frame):
    """The stop detector's held-out controlled AUROC = same-codon-position pairs, from the control rows."""
    inputs, result = frame
    controls = find_controls(
        inputs.label_names,
        inputs.labels,
        {},
        None,
        {"train": result.split.train_rows, "test": result.split.test_rows},
        np.ones(5, bool),
        SETTINGS.control_negatives,
        SETTINGS.seed,
    )
    (c,) = controls
    x = inputs.codes.tocsc()[:, 1].toarray().ravel()
    wins = pairs = 0.0
    for p, n in c.rows["test"]:
        assert not inputs.labels[n, 1].any() and inputs.labels[p, 1].all()
        a, b = x[p], x[n]
        wins += (a[:, None] > b[None, :]).sum() + 0.5 * (a[:, None] == b[None, :]).sum()
        pairs += a.size * b.size
    got = result.feature_concept.set_index(["feature", "concept"]).loc[(1, "stop_codon"), "auroc_test"]
    assert abs(got - wins / pairs) < 1e-5
    test = result.split.test_rows
    unc = roc_auc_score(inputs.labels[test, 1], x[test])
    assert (
        abs(
            result.feature_concept.set_index(["feature", "concept"]).loc[(1, "stop_codon"), "auroc_test_uncontrolled"]
            - unc
        )
        < 1e-5
    )


def test_splice_dinucleotide_strata_in_read_orientation():
    seq = {"c": encode("AAGTAACTAA")}
    pos = np.arange(10)
    plus = kmer_codes(seq, ["c"], np.zeros(10, int), pos, np.zeros(10, bool), 3)
    assert dinucleotide_strata("splice_donor", plus).tolist() == [-1, -1, 0, 1, -1, -1, -1, -1, -1, -1]
    # the antisense twin: a donor on the other strand reads AC on this one
    assert dinucleotide_strata("splice_donor_antisense", plus).tolist() == [-1, -1, -1, -1, -1, 0, 1, -1, -1, -1]
    minus = kmer_codes(seq, ["c"], np.zeros(10, int), pos, np.ones(10, bool), 3)
    # read on −: genome AC (5, 6) reads G T, with G at genome 6 (read first)
    assert dinucleotide_strata("splice_donor", minus).tolist() == [-1, -1, -1, -1, -1, 1, 0, -1, -1, -1]


def test_splice_control_needs_canonical_positives():
    """Donors on GT get the sequence-matched control; donors that are not GT (group II introns) get none
    (a control that excludes its positives would score every feature 0.5)."""
    seq = "AAGTCCGTAAGTTTACAGACGTAA" * 10
    n = len(seq)
    kmer3 = kmer_codes({"c": encode(seq)}, ["c"], np.zeros(n, int), np.arange(n), np.zeros(n, bool), 3)
    gt = np.array([seq[i : i + 2] == "GT" for i in range(len(seq))])
    labels_gt = gt.copy()[:, None]  # every GT first base is a donor
    labels_ac = np.array([seq[i : i + 2] == "AC" for i in range(len(seq))])[:, None]  # donors on AC only
    rows = {"train": np.arange(len(seq))}
    evaluated = np.array([True])
    on_gt = find_controls(["splice_donor"], labels_gt, {}, kmer3, rows, evaluated, 1000, 0)
    assert [c.kind for c in on_gt] == ["sequence-matched"]
    assert find_controls(["splice_donor"], labels_ac, {}, kmer3, rows, evaluated, 1000, 0) == []
