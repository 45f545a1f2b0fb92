"""SAE Bench end to end on the 9.6 kb Yersinia plasmid (a real snakemake run of a 2-variant sweep).

A randomly initialised tiny model and tiny SAE settings keep the run short. Checked against what each variant
must be, independently of the gather: a TopK dictionary fires exactly k latents per row (its sae_quality.json L0
and the table's), its width is expansion x the row width, the table's quality equals each variant's own
sae_quality.json, the choice follows the declared rule re-applied by hand to the table's train columns, and the
k-sparse table holds every k the probe ran that fits the dictionary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GENOME = "yersinia_plasmid"
pytestmark = pytest.mark.slow


def _config(model_dir: Path) -> dict:
    return {
        "genomes": {GENOME: {"genbank": str(REPO / "resources/genomes/NC_005816.gb"), "kingdom": "prokaryote"}},
        "windows": {"length": 1024, "strands": "both", "shards": 1},
        "model": {"path": str(model_dir), "device": "cpu", "batch_size": 4},
        "extract": {"layers": ["blocks.3", "blocks.2"], "threads": 1},
        "sae": {
            "architecture": "topk",
            "strand_shared": False,  # the tests below read rc_pool concat rows whole (d_in 32)
            "base_lookup": 0,
            "expansion": 2,
            "k": 4,
            "tokens": 20000,
            "batch_size": 1024,
            "device": "cpu",
            "quality_tokens": 5000,
            "loss_windows": 1,
            "replicate": False,
        },
        # a random model leaves many latents dead: the rule here bars density alone, so one variant is chosen
        "sae_bench": {
            "variants": [{"name": "k2_blocks2", "k": 2, "layer": "blocks.2"}],
            "rule": {"at_most": {"train_l0_over_d_in": 0.1}},
        },
        "probe": {"n_null": 2, "min_null_draws": 10, "block_size": 2000, "sparse_probe_ks": [1, 2, 5]},
    }


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> Path:
    import torch

    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir

    root = tmp_path_factory.mktemp("sae_bench")
    torch.manual_seed(0)
    model = TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr", "li", "att"), mlp_ratio=2.0, medium_kernel=16))
    save_model_dir(model, root / "model")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(_config(root / "model")))
    work = root / "work"
    work.mkdir()
    command = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "2"]
    run = subprocess.run(
        [*command, "sae_bench", "--configfile", str(config)],
        cwd=work,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return work / "results" / "sae_bench"


def _quality(bench: Path, variant: str, rows: str) -> dict:
    return json.loads((bench / variant / GENOME / "quality" / f"{rows}.json").read_text())


def test_each_variant_is_the_dictionary_it_names(bench_run):
    table = pd.read_csv(bench_run / "sae_bench.tsv", sep="\t")
    assert table["variant"].tolist() == ["run", "k2_blocks2"]
    for variant, k, layer in (("run", 4, "blocks.3"), ("k2_blocks2", 2, "blocks.2")):
        for rows in ("held_out", "train"):
            q = _quality(bench_run, variant, rows)
            assert q["layer"] == layer and q["k"] == k
            assert q["d_in"] == 32 and q["d_sae"] == 2 * 32  # rc_pool concat of d_model 16, expansion 2
            assert q["l0"] == pytest.approx(k)  # TopK: exactly k latents per row, on any rows
        assert _quality(bench_run, variant, "train")["measured_on"] == "train"
        assert "measured_on" not in _quality(bench_run, variant, "held_out")
        row = table.set_index("variant").loc[variant]
        held, train = _quality(bench_run, variant, "held_out"), _quality(bench_run, variant, "train")
        assert row["k"] == k and row["layer"] == layer and row["l0"] == pytest.approx(k)
        assert row["fvu"] == pytest.approx(held["fvu"]) and row["train_fvu"] == pytest.approx(train["fvu"])
        assert row["l0_over_d_in"] == pytest.approx(k / 32)
        assert row["dead_fraction"] == pytest.approx(held["dead_fraction"])
        assert (bench_run / variant / "dictionary" / "cfg.json").is_file()
    # the dictionaries' codes, buffers and probe parts are temporary; the probe tables are kept
    assert not (bench_run / "run" / GENOME / "buffer").exists()
    assert (bench_run / "run" / GENOME / "probe" / "concepts.parquet").is_file()


def test_the_choice_is_the_declared_rule_applied_to_train_columns(bench_run):
    table = pd.read_csv(bench_run / "sae_bench.tsv", sep="\t").set_index("variant")
    eligible = table[table["train_l0_over_d_in"] <= 0.1]
    assert table.loc["run", "train_l0_over_d_in"] == pytest.approx(4 / 32)  # k 4 of 32: over the bar
    ranked = eligible.sort_values(["train_concepts_passing", "train_fvu"], ascending=[False, True])
    assert ranked.index.tolist() == ["k2_blocks2"]
    assert table.index[table["chosen"]].tolist() == ["k2_blocks2"]
    choice = json.loads((bench_run / "choice.json").read_text())
    assert choice["chosen"] == "k2_blocks2" and choice["ineligible"] == {"run": ["train_l0_over_d_in 0.125 > 0.1"]}


def test_sparse_probing_table_and_page(bench_run):
    sparse = pd.read_csv(bench_run / "sae_bench_sparse_probing.tsv", sep="\t")
    assert {"variant", "concept", "k", "auroc_test", "dense_auroc_test", "baseline_auroc_test"} <= set(sparse)
    assert set(sparse["variant"]) == {"run", "k2_blocks2"}
    assert set(sparse["k"]) == {1, 2, 5} | {1, 2, 3, 4, 5}  # the listed ks and every k a group may take (group_max_k 5)
    assert sparse["auroc_test"].between(0, 1).all() and sparse["dense_auroc_test"].notna().all()
    # the dense probe of a variant reads its own layer: the two layers' dense probes differ
    dense = sparse.groupby("variant")["dense_auroc_test"].mean()
    assert dense["run"] != dense["k2_blocks2"]
    page = (bench_run / "report.html").read_text()
    assert page.count("<svg") == 3 and "k2_blocks2" in page and "http" not in page.replace("http://www.w3.org", "")


def test_the_choice_is_a_config_file_the_run_adopts(bench_run):
    """chosen_sae.yaml loads the chosen dictionary as scored; added to the run's config, the run's encode reads it
    at the variant's layer and trains no dictionary of its own (a dry run, so nothing runs)."""
    adopt = yaml.safe_load((bench_run / "chosen_sae.yaml").read_text())
    assert adopt == {"sae": {"source": "load", "path": "results/sae_bench/k2_blocks2/dictionary", "layer": "blocks.2"}}
    work = bench_run.parents[1]
    config = work.parent / "config.yaml"
    run = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(work), "-n", "-p", "--cores", "1"]
        + ["--configfile", str(config), str(bench_run / "chosen_sae.yaml")],
        cwd=work,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    # (the sweep's own jobs may be listed again: its sample is temporary; the run trains no dictionary of its own)
    assert "rule train_dictionary" not in run.stdout and "results/dictionaries/" not in run.stdout
    encodes = [
        line
        for line in run.stdout.splitlines()
        if "dnalens encode" in line and f"--out results/{GENOME}/codes_parts/" in line
    ]
    assert encodes and all("--sae results/sae_bench/k2_blocks2/dictionary" in line for line in encodes)
    assert all("--layer blocks.2" in line for line in encodes)
