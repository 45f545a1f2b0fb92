"""concept_summary.tsv folds to one row per finding with an outcome; features.tsv labels only what passes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnalens.report.findings import finding_labels, fold_findings


def _rows() -> pd.DataFrame:
    r = [
        # concept, evaluated, passes, margin, finding, members, twin, kind, too_few
        (
            "CDS_codon_pos3",
            True,
            False,
            0.30,
            "CDS_codon_pos3",
            "CDS_codon_pos3",
            "CDS_codon_pos3_antisense",
            "biological",
            False,
        ),
        (
            "CDS_codon_pos3_antisense",
            True,
            True,
            0.31,
            "CDS_codon_pos3",
            "CDS_codon_pos3",
            "CDS_codon_pos3",
            "biological",
            False,
        ),
        ("CDS", True, False, 0.02, "CDS", "CDS, exon, gene", "CDS_antisense", "biological", False),
        ("CDS_antisense", True, False, 0.02, "CDS", "CDS, exon, gene", "CDS", "biological", False),
        ("exon", True, False, 0.03, "CDS", "CDS, exon, gene", "", "biological", False),
        ("gene", True, False, 0.01, "CDS", "CDS, exon, gene", "", "biological", False),
        (
            "sigma70_minus_10_box",
            True,
            False,
            -0.3,
            "sigma70_minus_10_box",
            "sigma70_minus_10_box",
            "",
            "biological",
            True,
        ),
        ("rRNA", False, False, np.nan, "rRNA", "rRNA", "", "biological", False),
        ("base_A", True, False, -0.4, "base_A", "base_A", "", "control", False),
    ]
    cols = [
        "concept",
        "evaluated",
        "passes",
        "best_margin",
        "finding",
        "members",
        "twin",
        "concept_kind",
        "too_few_heldout",
    ]
    t = pd.DataFrame(r, columns=cols)
    t["baseline"] = "kmer5"
    t["best_auroc_test"] = 0.7
    t["best_q"] = 0.01
    t["instances"] = [np.nan, np.nan, 90, 90, 90, 95, 6, 7, np.nan]
    t["n_heldout_instances"] = [900, 900, 20, 20, 20, 21, 2, 0, 5000]
    return t


def test_one_row_per_finding_with_outcome_strand_and_members():
    out = fold_findings(_rows(), margin_cut=0.05).set_index("concept")
    assert list(out.index) == ["CDS_codon_pos3_antisense", "CDS", "base_A", "sigma70_minus_10_box", "rRNA"]
    assert out["finding"].is_unique
    # the passing reading represents the finding; the strand is said and the twin named with its outcome
    pos3 = out.loc["CDS_codon_pos3_antisense"]
    assert (pos3["outcome"], pos3["strand"], pos3["twin"], pos3["twin_outcome"]) == (
        "passes",
        "antisense",
        "CDS_codon_pos3",
        "fails",
    )
    cds = out.loc["CDS"]
    assert cds["members"] == "CDS, exon, gene" and cds["n_folded"] == 4 and cds["strand"] == "sense"
    assert cds["outcome"] == "fails" and "kmer5 baseline by 0.05 (margin +0.020)" in cds["outcome_reason"]
    assert out.loc["sigma70_minus_10_box", "outcome_reason"] == "too few held-out instances (2)"
    assert (
        out.loc["rRNA", "outcome"] == "untestable"
        and out.loc["rRNA", "outcome_reason"] == "too few instances to test (7)"
    )
    assert out.loc["base_A", "concept_kind"] == "control" and out.loc["base_A", "strand"] == "unstranded"
    # headline count: findings, not rows
    assert (out["outcome"] == "passes").sum() == 1


def test_older_probe_directories_fold_twins_by_name():
    t = _rows().drop(columns=["finding", "members", "twin", "concept_kind", "too_few_heldout"])
    t["family"] = ["codons"] * 2 + ["genes"] * 4 + ["regulatory", "rna", "sequence"]
    out = fold_findings(t, margin_cut=0.05).set_index("concept")
    assert set(out.index) == {
        "CDS_codon_pos3_antisense",
        "CDS",
        "exon",
        "gene",
        "sigma70_minus_10_box",
        "rRNA",
        "base_A",
    }
    assert out.loc["base_A", "concept_kind"] == "control" and out.loc["CDS", "twin"] == "CDS_antisense"


def test_a_latent_label_only_where_it_passes():
    table = pd.DataFrame(
        {
            "latent": [0, 1, 2],
            "label": ["CDS_codon_pos3", "sigma70_minus_10_box", None],
            "annotated": [True, False, False],
            "auroc_test": [0.96, 0.386, np.nan],
            "margin": [0.29, -0.42, np.nan],
        }
    )
    out = finding_labels(table)
    assert list(out.columns[:4]) == ["latent", "label", "best_candidate", "best_candidate_status"]
    assert out["label"].tolist()[0] == "CDS_codon_pos3" and out["label"].isna().tolist()[1:] == [True, True]
    assert out.loc[1, "best_candidate"] == "sigma70_minus_10_box"
    assert out.loc[1, "best_candidate_status"] == "fails: held-out AUROC 0.386, margin -0.420 over its baseline"
    assert out.loc[0, "best_candidate_status"] == "passes" and pd.isna(out.loc[0, "best_candidate"])
    assert out.loc[2, "best_candidate_status"] == ""
