"""The sweep's tables on a hand-built case: every count worked out by hand below, antisense twins folded into
their concept, a strand-shared SAE's features j and j + F/2 counted as one latent, and the gather end to end
(`run_sae_bench` on files laid out as the workflow writes them)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dnalens.sae.bench_settings import SaeBenchSettings, Variant
from dnalens.sae.bench_table import VariantRun, bench_tables, genome_row, quality_columns

CONCEPTS = pd.DataFrame(
    {
        "concept": ["CDS", "CDS_antisense", "pos1", "tRNA"],
        "evaluated": [True, True, True, False],
        "best_feature_auroc": [0, 3, 1, 2],
        # train: CDS (both strands) passes (0.90 >= 0.75, margin 0.30); pos1 is below 0.75; tRNA is not evaluated
        "best_auroc_train": [0.90, 0.88, 0.70, 0.99],
        "baseline_auroc_train": [0.60, 0.60, 0.69, 0.50],
        "best_auroc_test": [0.89, 0.87, 0.71, 0.50],
        "baseline_auroc_test": [0.60, 0.60, 0.70, 0.50],
        "n_annotated_features": [1, 1, 0, 0],
        # groups (chosen on train): CDS k 2 and pos1 k 3; held out only CDS's beats its baseline by 0.05
        "group_k": pd.array([2, pd.NA, 3, pd.NA], dtype="Int64"),
        "group_latents": ["0+1", "", "1+2+3", ""],
        "group_auroc_test": [0.95, np.nan, 0.71, np.nan],
    }
)


def _scores() -> pd.DataFrame:
    """4 features x 4 concepts. Train-passing pairs: (0, CDS), (3, CDS_antisense); (1, pos1) has 0.70 < 0.75;
    feature 2 is tRNA's best (not evaluated). Annotated (held-out rule): (0, CDS) and (2, CDS_antisense)."""
    auroc = {
        0: [0.90, 0.50, 0.60, 0.50],
        1: [0.55, 0.50, 0.70, 0.50],
        2: [0.50, 0.70, 0.50, 0.99],
        3: [0.50, 0.88, 0.50, 0.50],
    }
    annotated = {(0, "CDS"), (2, "CDS_antisense")}
    rows = [
        {"feature": f, "concept": c, "auroc_train": auroc[f][j], "annotated": (f, c) in annotated}
        for f in range(4)
        for j, c in enumerate(CONCEPTS["concept"])
    ]
    return pd.DataFrame(rows)


def _quality(fvu: float, dead: float, strand_shared: bool = True) -> dict:
    return {
        "fvu": fvu * 1.01,
        "d_in": 256,
        "d_sae": 1024,
        "strand_shared": strand_shared,
        "dictionary": {
            "unit": "strand state",
            "d_in": 128,
            "d_sae": 512,
            "l0": 8.0,
            "l0_per_d_in": 0.0625,
            "fvu": fvu,
            "dead_fraction": dead,
            "dense_fraction": 0.02,
            "init_cosine_median": 0.3,
            "seed_agreement": None,
            "health": {"pass": True},
        },
        "loss": {"ce_clean": 1.30, "ce_sae": 1.32, "loss_recovered": None},
    }


PROBES = pd.DataFrame(
    {
        "concept": ["CDS", "CDS", "CDS", "CDS"],
        "kind": ["k_sparse", "k_sparse", "binary", "binary"],
        "input": ["sae", "sae", "dense", "sae"],
        "auroc": [0.80, 0.90, 0.97, 0.99],
        "k": [1, 2, np.nan, np.nan],
        "latents": ["0", "0+1", None, None],
        "auroc_train": [0.81, 0.91, np.nan, np.nan],
        "auroc_train_cv": [0.79, 0.9, np.nan, np.nan],
    }
)
SETTINGS = {"architecture": "batchtopk", "expansion": 4, "k": 8, "lr": 0.004, "layer": "blocks.6"}


def _run(genome: str = "g1", strand_shared: bool = True, fvu: float = 0.1) -> VariantRun:
    return VariantRun(
        variant="v",
        genome=genome,
        settings=SETTINGS,
        overrides={"k": 8},
        quality_held_out=_quality(fvu, 0.01, strand_shared),
        quality_train=_quality(fvu / 2, 0.0, strand_shared),
        concepts=CONCEPTS,
        scores=_scores(),
        probes=PROBES,
        probe_settings={"min_auroc": 0.75, "min_margin": 0.05},
    )


def test_quality_columns_are_per_strand_state():
    q = quality_columns(_quality(0.1, 0.01))
    assert q["fvu"] == 0.1 and q["explained_variance"] == pytest.approx(0.9) and q["l0"] == 8.0
    assert q["l0_over_d_in"] == 0.0625 and q["dead_fraction"] == 0.01 and np.isnan(q["loss_recovered"])
    assert q["ce_increase"] == pytest.approx(0.02)


def test_counts_fold_antisense_twins_and_strand_views():
    row = genome_row(_run())
    assert row["concepts_evaluated"] == 2  # CDS (both strands), pos1
    assert row["train_concepts_passing"] == 1  # CDS
    assert row["concepts_annotated"] == 1  # CDS, annotated on both strands
    assert row["train_concept_groups"] == 2  # CDS and pos1 have a group
    assert row["concept_groups"] == 1  # only CDS's group beats its held-out baseline by the margin
    assert row["latents_annotated"] == 1  # features 0 and 2 are latent 0's two views
    assert row["train_latents_passing"] == 2  # features 0 and 3: latents 0 and 1
    assert row["train_fvu"] == 0.05 and row["changes"] == "k=8" and row["unit"] == "strand state"
    plain = genome_row(_run(strand_shared=False))
    assert plain["latents_annotated"] == 2 and plain["train_latents_passing"] == 2


def test_variant_rows_add_counts_and_average_quality_over_genomes():
    tables = bench_tables([_run("g1", fvu=0.1), _run("g2", fvu=0.3)])
    assert len(tables["genomes"]) == 2
    (row,) = tables["variants"].to_dict("records")
    assert row["genomes"] == "g1,g2" and row["concepts_annotated"] == 2 and row["train_concepts_passing"] == 2
    assert row["fvu"] == pytest.approx(0.2) and row["train_fvu"] == pytest.approx(0.1) and row["healthy"]
    sparse = tables["sparse_probing"]
    assert sparse[["concept", "k", "auroc_test", "dense_auroc_test", "sae_probe_auroc_test"]].iloc[
        :2
    ].values.tolist() == [
        ["CDS", 1, 0.80, 0.97, 0.99],
        ["CDS", 2, 0.90, 0.97, 0.99],
    ]
    assert sparse["baseline_auroc_test"].tolist() == [0.60] * 4


def test_gather_writes_every_table_and_the_page(tmp_path):
    from dnalens.sae.bench_stage import run_sae_bench

    variants = [Variant("v", {"k": 8}, SETTINGS, "blocks.6")]
    probe = tmp_path / "v" / "g1" / "probe"
    probe.mkdir(parents=True)
    CONCEPTS.to_parquet(probe / "concepts.parquet")
    _scores().to_parquet(probe / "feature_concept.parquet")
    PROBES.to_parquet(probe / "probes.parquet")
    (probe / "summary.json").write_text(json.dumps({"settings": {"min_auroc": 0.75, "min_margin": 0.05}}))
    quality = tmp_path / "v" / "g1" / "quality"
    quality.mkdir()
    (quality / "held_out.json").write_text(json.dumps(_quality(0.1, 0.01)))
    (quality / "train.json").write_text(json.dumps(_quality(0.05, 0.0)))
    choice = run_sae_bench(variants, ["g1"], SaeBenchSettings(), tmp_path, tmp_path)
    assert choice["chosen"] == "v"
    table = pd.read_csv(tmp_path / "sae_bench.tsv", sep="\t")
    assert table.loc[0, "chosen"] and table.loc[0, "train_concepts_passing"] == 1
    assert pd.read_parquet(tmp_path / "sae_bench.parquet")["variant"].tolist() == ["v"]
    assert len(pd.read_csv(tmp_path / "sae_bench_sparse_probing.tsv", sep="\t")) == 2
    concepts = pd.read_csv(tmp_path / "sae_bench_concepts.tsv", sep="\t")
    assert concepts.set_index("concept").loc["CDS", "passes_train"]
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 3 and "v: first of 1 eligible variant(s)" in page
    assert json.loads((tmp_path / "choice.json").read_text())["chosen"] == "v"


def test_the_cross_fitted_single_latent_is_reported_beside_the_train_pass():
    """The k = 1 sparse probe's cross-fitted train AUROC is a column; the strict rule on train blocks still reads
    the best latent's train AUROC (CDS passes at 0.90 although its cross-fitted value here is 0.70).
    CDS_antisense has no k = 1 row: NaN."""
    from dnalens.sae.bench_table import concept_rows

    probes = PROBES.copy()
    probes.loc[0, "auroc_train_cv"] = 0.70
    run = _run()
    run = VariantRun(**{**run.__dict__, "probes": probes, "probe_settings": {"min_auroc": 0.75, "min_margin": 0.05}})
    rows = concept_rows(run).set_index("concept")
    assert rows.loc["CDS", "best_auroc_train_cv"] == pytest.approx(0.70)
    assert rows.loc["CDS", "passes_train"] and rows.loc["CDS_antisense", "passes_train"]
    assert np.isnan(rows.loc["CDS_antisense", "best_auroc_train_cv"])
