import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dnalens.cli import main
from dnalens.report.options import ReportSettings
from dnalens.report.tables import (
    SCORE_COLUMNS, best_concepts, feature_concepts, feature_stats, features_across_genomes, passes, rank_features,
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


def test_best_concept_prefers_passing_pairs_then_heldout_f1():
    scores = _scores([
        {"feature": 0, "concept": "CDS", "f1_heldout": 0.9, "auroc_heldout": 0.9, "q_value": 0.2},  # fails q
        {"feature": 0, "concept": "exon", "f1_heldout": 0.6, "auroc_heldout": 0.8, "q_value": 0.01},
        {"feature": 1, "concept": "tRNA", "f1_heldout": 0.3, "auroc_heldout": 0.7, "q_value": np.nan},
        {"feature": 1, "concept": "rRNA", "f1_heldout": 0.4, "auroc_heldout": 0.6, "q_value": np.nan},
        {"feature": 2, "concept": "intron", "f1_heldout": 0.55, "auroc_heldout": 0.5, "q_value": np.nan},
        {"feature": 1, "concept": "TSS", "f1_heldout": 0.1, "auroc_heldout": 0.55, "q_value": 0.5,
         "best_for_concept": True},
    ])
    settings = ReportSettings(min_f1=0.5, max_q=0.05, min_auroc=0.0)
    best = best_concepts(scores, settings)
    assert best.loc[0, "concept"] == "exon" and best.loc[0, "annotated"]
    assert best.loc[1, "concept"] == "rRNA" and not best.loc[1, "annotated"]
    assert best.loc[2, "annotated"]  # no null run → q does not block
    assert not best_concepts(scores, ReportSettings(min_auroc=0.6)).loc[2, "annotated"]
    pairs = feature_concepts(scores, settings)
    assert list(zip(pairs["feature_id"], pairs["concept"])) == [(0, "exon"), (2, "intron"), (1, "TSS")]
    # a failing concept still shows its best feature, flagged as not passing
    assert pairs["passes"].tolist() == [True, True, False]
    assert pairs["best_for_concept"].tolist() == [False, False, True]


def test_rank_features_uses_config_list_else_top_firing():
    table = pd.DataFrame({"feature_id": [5, 3, 9, 1], "max_activation": [1.0, 0.0, 2.0, 1.0]})
    assert rank_features(table, 2) == [5, 9]
    assert rank_features(table, 2, chosen=(3, 1)) == [3, 1]


def _features(ids, concepts, annotated, f1):
    return pd.DataFrame({"feature_id": ids, "layer": "blocks.1", "sae": "s", "best_concept": concepts,
                         "annotated": annotated, "heldout_f1": f1, "activation_frequency": 0.1})


def test_features_across_genomes_and_cli(tmp_path):
    a = _features([0, 1, 2], ["CDS", "tRNA", "exon"], [True, True, False], [0.9, 0.7, 0.2])
    b = _features([0, 1], ["CDS", "rRNA"], [True, True], [0.8, 0.6])
    wide = features_across_genomes({"ecoli": a, "chloroplast": b})
    row = wide.set_index("feature_id")
    assert row.loc[0, "n_genomes_annotated"] == 2 and row.loc[0, "shared_concept"] == "CDS"
    assert row.loc[1, "shared_concept"] == ""  # genomes disagree
    assert pd.isna(row.loc[2, "chloroplast:best_concept"]) and row.loc[2, "n_genomes_annotated"] == 0
    assert list(wide["feature_id"]) == [0, 1, 2]
    for name, table in (("ecoli", a), ("chloroplast", b)):
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "features.tsv", sep="\t", index=False)
    out = tmp_path / "summary" / "features_across_genomes.tsv"
    assert main(["summarize-genomes", str(tmp_path / "ecoli" / "features.tsv"),
                 str(tmp_path / "chloroplast" / "features.tsv"), "--out", str(out)]) == 0
    read = pd.read_csv(out, sep="\t")
    assert {"ecoli:heldout_f1", "chloroplast:best_concept", "shared_concept"} <= set(read.columns)
    assert read.loc[read["feature_id"] == 0, "ecoli:heldout_f1"].item() == pytest.approx(0.9)


def test_report_cli_rejects_unknown_setting(tmp_path, capsys):
    code = main(["report", "--genome", "g", "--buffer", str(tmp_path), "--probe", str(tmp_path), "--fasta",
                 str(tmp_path / "g.fa"), "--chrom-sizes", str(tmp_path / "c"), "--label-summary", str(tmp_path / "s"),
                 "--out", str(tmp_path / "out"), "--settings", '{"top_n_trakcs": 3}'])
    assert code == 2 and "top_n_trakcs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_probing_annotated_flag_decides_unless_report_thresholds_are_set():
    scores = _scores([
        {"feature": 0, "concept": "CDS", "f1_heldout": 0.2, "auroc_heldout": 0.9, "q_value": 0.01, "annotated": True},
        {"feature": 1, "concept": "CDS", "f1_heldout": 0.9, "auroc_heldout": 0.9, "q_value": 0.01, "annotated": False},
    ])
    assert passes(scores, ReportSettings()).tolist() == [True, False]  # probing's decision (AUROC-only pass)
    assert passes(scores, ReportSettings(min_f1=0.5)).tolist() == [False, True]  # report decides: F1 >= 0.5
    assert passes(scores.assign(annotated=np.nan), ReportSettings()).tolist() == [False, True]  # fallback rule


def test_best_concept_is_chosen_on_train_not_on_heldout():
    scores = _scores([
        {"feature": 0, "concept": "CDS", "f1_train": 0.9, "f1_heldout": 0.6, "auroc_heldout": 0.9, "annotated": True},
        {"feature": 0, "concept": "exon", "f1_train": 0.7, "f1_heldout": 0.8, "auroc_heldout": 0.9, "annotated": True},
    ])
    best = best_concepts(scores, ReportSettings())
    assert best.loc[0, "concept"] == "CDS" and best.loc[0, "f1_heldout"] == 0.6  # reported held-out, not re-picked
