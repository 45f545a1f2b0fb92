import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dnalens.cli import main
from dnalens.formats.probe_dir import SCORE_COLUMNS
from dnalens.report.options import ReportSettings
from dnalens.report.tables import (
    concept_summary,
    feature_concepts,
    feature_stats,
    label_metrics,
    passes,
    rank_features,
)


def _scores(rows):
    frame = pd.DataFrame(rows)
    for c in SCORE_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    return frame[list(SCORE_COLUMNS)]


def test_feature_stats_against_dense_numpy():
    rng = np.random.default_rng(1)
    dense = rng.random((200, 7)) * (rng.random((200, 7)) < 0.2)
    dense[:, 6] = 0
    stats = feature_stats(sp.csr_matrix(dense))
    active = dense > 0
    np.testing.assert_allclose(stats["activation_frequency"], active.mean(axis=0))
    np.testing.assert_allclose(stats["max_activation"], dense.max(axis=0))
    means = [dense[active[:, j], j].mean() if active[:, j].any() else 0.0 for j in range(7)]
    np.testing.assert_allclose(stats["mean_active_activation"], means)


def test_report_overrides_only_make_the_rule_stricter():
    scores = _scores(
        [
            {
                "feature": 0,
                "concept": "CDS",
                "auroc_test": 0.9,
                "margin": 0.3,
                "q": 0.01,
                "f1_test": 0.2,
                "annotated": True,
            },
            {
                "feature": 1,
                "concept": "CDS",
                "auroc_test": 0.95,
                "margin": 0.4,
                "q": 0.001,
                "f1_test": 0.9,
                "annotated": False,
            },  # probing rejected it: no override may pass it
            {
                "feature": 2,
                "concept": "CDS",
                "auroc_test": 0.8,
                "margin": 0.06,
                "q": np.nan,
                "f1_test": 0.6,
                "annotated": True,
            },
        ]
    )
    assert passes(scores, ReportSettings()).tolist() == [True, False, True]
    assert passes(scores, ReportSettings(min_auroc=0.0, min_margin=0.0, max_q=1.0, min_f1=0.0)).tolist() == [
        True,
        False,
        True,
    ]
    assert passes(scores, ReportSettings(min_margin=0.1)).tolist() == [True, False, False]
    assert passes(scores, ReportSettings(min_f1=0.5)).tolist() == [False, False, True]
    assert passes(scores, ReportSettings(min_auroc=0.85)).tolist() == [True, False, False]
    assert passes(scores, ReportSettings(max_q=0.005)).tolist() == [False, False, True]  # no q: not blocked


def test_label_is_the_probing_primary_metric_not_f1():
    """Feature 0 has its best F1 and its best held-out AUROC on CDS, but probing labelled it codon_pos3
    (largest train margin): the report keeps the probe stage's label and reports that pair's numbers."""
    scores = _scores(
        [
            {
                "feature": 0,
                "concept": "CDS",
                "auroc_train": 0.70,
                "auroc_test": 0.75,
                "margin": 0.02,
                "f1_train": 0.9,
                "f1_test": 0.56,
                "annotated": False,
            },
            {
                "feature": 0,
                "concept": "codon_pos3",
                "auroc_train": 0.88,
                "auroc_test": 0.87,
                "margin": 0.2,
                "f1_train": 0.3,
                "f1_test": 0.3,
                "annotated": True,
                "threshold": 0.25,
            },
        ]
    )
    labels = pd.DataFrame({"feature": [0, 1], "label": ["codon_pos3", None]})
    got = label_metrics(scores, labels, ReportSettings())
    assert got.loc[0, "label"] == "codon_pos3" and got.loc[0, "auroc_test"] == pytest.approx(0.87)
    assert got.loc[0, "threshold"] == 0.25 and got.loc[0, "annotated"] and got.loc[0, "n_annotated_concepts"] == 1
    assert 1 not in got.index  # no label, no label pair
    assert not label_metrics(scores, labels, ReportSettings(min_margin=0.3)).loc[0, "annotated"]


def test_concept_table_takes_the_train_chosen_feature_never_the_heldout_max():
    """Planted: feature 1 has the larger held-out AUROC for tRNA (0.746) but feature 0 was chosen on train
    (held-out 0.475). The concept row must show feature 0 and 0.475."""
    scores = _scores(
        [
            {
                "feature": 0,
                "concept": "tRNA",
                "auroc_train": 0.91,
                "auroc_test": 0.475,
                "margin": -0.1,
                "best_for_concept": True,
                "annotated": False,
            },
            {
                "feature": 1,
                "concept": "tRNA",
                "auroc_train": 0.60,
                "auroc_test": 0.746,
                "margin": 0.17,
                "best_for_concept": False,
                "annotated": False,
            },
            {
                "feature": 1,
                "concept": "CDS",
                "auroc_train": 0.9,
                "auroc_test": 0.9,
                "margin": 0.3,
                "best_for_concept": True,
                "annotated": True,
            },
        ]
    )
    concepts = pd.DataFrame(
        {
            "concept": ["tRNA", "CDS"],
            "evaluated": True,
            "baseline": ["gc", "kmer3"],
            "baseline_auroc_test": [0.575, 0.6],
            "best_feature_auroc": [0, 1],
            "best_auroc_train": [0.91, 0.9],
            "best_auroc_test": [0.475, 0.9],
            "best_margin": [-0.1, 0.3],
            "best_auroc_q": [0.4, 0.001],
            "best_annotated": [False, True],
            "baseline_kmer3_auroc_test": [0.5, 0.6],
        }
    )
    labels = pd.DataFrame({"concept": ["tRNA", "CDS", "rRNA"], "instances": [30, 90, 2]})
    table = concept_summary(labels, scores, concepts, ReportSettings(), lambda f: (f, "own"), 0.05).set_index("concept")
    assert table.loc["tRNA", "best_latent"] == 0 and table.loc["tRNA", "best_auroc_test"] == pytest.approx(0.475)
    assert not table.loc["tRNA", "beats_baseline"] and table.loc["CDS", "passes"]
    assert table.loc["tRNA", "baseline"] == "gc" and table.loc["CDS", "baseline_kmer3_auroc_test"] == 0.6
    assert list(table.index) == ["CDS", "tRNA", "rRNA"]  # passing first; not-evaluated last
    assert not table.loc["rRNA", "evaluated"] and table.loc["rRNA", "n_features_passing"] == 0
    # a stricter report rule reaches the concept table too
    strict = concept_summary(labels, scores, concepts, ReportSettings(min_margin=0.5), lambda f: (f, "own"), 0.5)
    assert not strict.set_index("concept").loc["CDS", "passes"]
    pairs = feature_concepts(scores, ReportSettings())
    assert list(zip(pairs["feature"], pairs["concept"], pairs["passes"])) == [(1, "CDS", True), (0, "tRNA", False)]


def test_rank_features_uses_config_list_else_top_firing():
    table = pd.DataFrame({"latent": [5, 3, 9, 1], "max_activation": [1.0, 0.0, 2.0, 1.0]})
    assert rank_features(table, 2) == [5, 9]
    assert rank_features(table, 2, chosen=(3, 1)) == [3, 1]


def test_report_cli_rejects_unknown_setting(tmp_path, capsys):
    code = main(
        [
            "report",
            "--genome",
            "g",
            "--buffer",
            str(tmp_path),
            "--probe",
            str(tmp_path),
            "--fasta",
            str(tmp_path / "g.fa"),
            "--chrom-sizes",
            str(tmp_path / "c"),
            "--label-summary",
            str(tmp_path / "s"),
            "--out",
            str(tmp_path / "out"),
            "--settings",
            '{"top_n_trakcs": 3}',
        ]
    )
    assert code == 2 and "top_n_trakcs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_latent_index_json_holds_every_latent_of_the_table():
    """report.html's latent table data decodes back to features.tsv's values (rounded as documented)."""
    import base64
    import gzip
    import json

    from dnalens.report.latent_index import latent_data

    table = pd.DataFrame(
        {
            "latent": [5, 2, 9],
            "view": ["own", "opposite", "own"],
            "annotated": [True, False, False],
            "label": ["CDS", "CDS", None],
            "auroc_test": [0.98765, 0.5, np.nan],
            "baseline_auroc_test": [0.6, 0.6, np.nan],
            "margin": [0.38765, -0.1, np.nan],
            "q": [1.234e-5, 0.5, np.nan],
            "f1_test": [0.9, 0.1, np.nan],
            "activation_frequency": [0.012345, 0.5, 0.0],
            "max_activation": [12.345, 1.0, 0.0],
            "top_locus": ["c:1-10", "c:5-9", np.nan],
            "top_strand": ["+", "-", np.nan],
            "top_genes": ["abcA </script>", "abcA </script>", np.nan],
            "n_hits": [3, 1, 0],
        }
    )
    text = str(latent_data(table, {5}))
    assert "<" not in text and "&" not in text  # cannot close the <script> element it sits in
    data = json.loads(gzip.decompress(base64.b64decode(text)))
    rows = [dict(zip(data["fields"], r)) for r in data["rows"]]
    assert [r["latent"] for r in rows] == [5, 2, 9] and [r["card"] for r in rows] == [1, 0, 0]
    assert rows[0]["auroc_test"] == 988 and rows[0]["margin"] == 388 and rows[1]["margin"] == -100
    assert rows[0]["q"] == 1.23e-5 and rows[0]["max_activation"] == 12.3 and rows[2]["auroc_test"] is None
    assert [r["view"] for r in rows] == [0, 1, 0] and [r["annotated"] for r in rows] == [1, 0, 0]
    assert data["strings"][rows[0]["top_genes"]] == "abcA </script>" and rows[1]["top_genes"] == rows[0]["top_genes"]
    assert rows[2]["label"] is None and rows[2]["top_locus"] is None and rows[1]["top_locus"] == "c:5-9"
