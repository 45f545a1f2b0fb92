"""The layer scan against independent references: the probes against scikit-learn on the same rows (held-out
and cross-fitted AUROC to 1e-3), a planted model whose one layer carries a concept and whose other does not, the
split against the probe stage's rule on token positions written out base by base, the layer rule by hand, and a
layer the model lacks."""

from __future__ import annotations

import json
import zlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from dnalens.cli import main
from dnalens.errors import InputError
from dnalens.formats.layer_scan import LAYER_SCAN_COLUMNS, read_layer_scan
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.models.base import ModelSpec
from dnalens.probe.layer_probes import ProbeFit, ScanRows, choose_layer, layer_means, scan_layer
from dnalens.probe.layer_scan import (
    LayerScanSettings,
    genome_split,
    plan_layer_scan,
    run_layer_scan,
    sample_tokens,
    scan_rows,
    scanned_layers,
)
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.splits import TEST, TRAIN, make_split

L2 = 1e-3


def _standardised(x_fit: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The probes' scaling: mean and (population) standard deviation of the fit rows."""
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _sklearn_scores(x: np.ndarray, y: np.ndarray, fit: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """scikit-learn's class-balanced logistic regression with the probes' objective (C = 1 / (2 l2 n))."""
    ref = LogisticRegression(class_weight="balanced", C=1.0 / (2 * L2 * fit.size), tol=1e-10, max_iter=10_000)
    ref.fit(_standardised(x[fit], x[fit]), y[fit])
    return ref.decision_function(_standardised(x[fit], x[scored]))


def _synthetic_rows(seed: int = 0, n: int = 4000, d: int = 10) -> tuple[np.ndarray, ScanRows]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = np.stack(
        [x[:, 0] + 0.8 * x[:, 1] + rng.normal(0, 1.0, n) > 0.5, x[:, 2] - x[:, 3] + rng.normal(0, 1.5, n) > 1.0],
        axis=1,
    )
    fold = (np.arange(n) // 200) % 2 == 1  # blocks of 200 rows, by parity (the probe stage's folds)
    test = np.arange(3200, n)
    fit = np.arange(0, 3200)
    return x, ScanRows(y, ["a", "b"], fit, test, fold)


def test_scan_equals_scikit_learn_on_the_same_rows():
    x, rows = _synthetic_rows()
    got = pd.DataFrame(scan_layer(x, rows, ProbeFit(l2=L2, max_iter=2000))).set_index("concept")
    for j, concept in enumerate(rows.names):
        y = rows.labels[:, j]
        held_out = roc_auc_score(y[rows.test], _sklearn_scores(x, y, rows.fit, rows.test))
        assert got.loc[concept, "auroc_test"] == pytest.approx(held_out, abs=1e-3)
        # cross-fitted: each half of the blocks scored by a fit on the other half, scores pooled
        pooled = np.empty(rows.fit.size)
        for side in (False, True):
            scored = rows.fold[rows.fit] == side
            pooled[scored] = _sklearn_scores(x, y, rows.fit[~scored], rows.fit[scored])
        assert got.loc[concept, "auroc_train_cv"] == pytest.approx(roc_auc_score(y[rows.fit], pooled), abs=1e-3)
        assert got.loc[concept, "n_positive_test"] == y[rows.test].sum()
    assert got.loc["a", "auroc_test"] > 0.8  # the references are not trivially equal at 0.5


def test_layer_rule_by_hand():
    table = pd.DataFrame(
        {
            "layer": ["b0", "b0", "b1", "b1", "b2", "b2", "b1"],
            "layer_index": [0, 0, 1, 1, 2, 2, 1],
            "concept": ["x", "y", "x", "y", "x", "y", "codon_position"],
            "kind": ["binary"] * 6 + ["categorical"],
            "auroc_train_cv": [0.6, 0.8, 0.9, 0.7, 0.7, 0.9, np.nan],
        }
    )
    means = layer_means(table)
    assert means.to_dict() == pytest.approx({"b0": 0.7, "b1": 0.8, "b2": 0.8})
    assert list(means.index) == ["b0", "b1", "b2"]
    assert choose_layer(means) == "b1"  # a tie goes to the earlier layer
    means = pd.Series({"b0": 0.70, "b1": 0.796, "b2": 0.80, "b3": 0.799})
    assert choose_layer(means, tolerance=0.005) == "b1"  # the earliest within 0.005 of the best (0.80)
    assert choose_layer(means, tolerance=0.003) == "b2" and choose_layer(means) == "b2"
    assert choose_layer(pd.Series({"b0": np.nan, "b1": np.nan})) is None
    # held-out numbers never enter: a concept missing at one layer is left out of every layer's mean
    table.loc[0, "auroc_train_cv"] = np.nan
    assert layer_means(table).to_dict() == pytest.approx({"b0": 0.8, "b1": 0.7, "b2": 0.9})


def test_a_layer_the_model_lacks_is_named_with_the_models_layers():
    layers = [f"blocks.{i}" for i in range(8)]
    with pytest.raises(InputError) as err:
        scanned_layers(["blocks.2", "blocks.9"], layers)
    assert "blocks.9" in err.value.problem and "blocks.0, blocks.1" in err.value.problem
    assert "blocks.2," not in err.value.problem.split("its layers")[0]
    assert scanned_layers(["blocks.5", "blocks.1", "blocks.5"], layers) == ["blocks.1", "blocks.5"]
    assert scanned_layers([], layers) == layers


# --- on a real genome: the Yersinia pestis plasmid pPCP1 (9.6 kb), labels from its GenBank annotation ---------


@pytest.fixture(scope="module")
def plasmid(tmp_path_factory, genomes_dir):
    from dnalens.labels.pipeline import run_labels

    d = tmp_path_factory.mktemp("plasmid")
    record = SeqIO.read(genomes_dir / "NC_005816.gb", "genbank")
    SeqIO.write([record], d / "genome.fa", "fasta")
    n = len(record)
    windows = [
        Window(record.id, s, s + 512, strand, f"w{s}{strand}") for s in range(0, n - 511, 256) for strand in "+-"
    ]
    write_windows_bed(windows, d / "windows.bed")
    run_labels(d / "genome.fa", genomes_dir / "NC_005816.gb", d / "labels", windows=d / "windows.bed")
    return SimpleNamespace(dir=d, seq=str(record.seq).upper(), n=n, windows=windows, contig=record.id)


PROBE = ProbeSettings(block_size=1000, test_fraction=0.25, min_instances=3, probe_max_iter=300)


class PlantedModel:
    """Two layers: blocks.1 reads the base (one-hot, plus noise), blocks.0 is noise seeded by the sequence."""

    layers = ["blocks.0", "blocks.1"]
    aliases: dict = {}

    def __init__(self, trim: int = 64, rc_pool: str = "none") -> None:
        self.spec = ModelSpec(family="tiny", trim=trim, rc_pool=rc_pool, batch_size=4)

    def activations(self, seqs, layers, trim=(0, 0)):
        out = {layer: [] for layer in layers}
        for s in seqs:
            rng = np.random.default_rng(zlib.crc32(s.encode()))
            noise = rng.standard_normal((len(s), 4)).astype(np.float32)
            onehot = (np.frombuffer(s.encode(), np.uint8)[:, None] == np.frombuffer(b"ACGT", np.uint8)).astype(float)
            for layer in layers:
                out[layer].append(noise if layer == "blocks.0" else (onehot + 0.3 * noise).astype(np.float32))
        return out


def test_planted_layer_carries_the_concept_and_the_rule_finds_it(plasmid):
    plan = plan_layer_scan(
        plasmid.dir / "windows.bed",
        plasmid.dir / "labels",
        PlantedModel(),
        LayerScanSettings(tokens=6000, fit_tokens=4000),
        PROBE,
    )
    table, summary = run_layer_scan(plan, plasmid.dir / "genome.fa")
    auroc = table.pivot_table(index="concept", columns="layer", values="auroc_test")
    for base in ("base_A", "base_C", "base_G", "base_T"):
        assert auroc.loc[base, "blocks.1"] > 0.97 and abs(auroc.loc[base, "blocks.0"] - 0.5) < 0.1
    assert summary["chosen_layer"] == "blocks.1" and set(table.loc[table["chosen"], "layer"]) == {"blocks.1"}
    means = summary["layer_mean_auroc_train_cv"]
    assert means["blocks.1"] > means["blocks.0"] + 0.05
    assert 0.4 < means["blocks.0"] < 0.6  # noise reads nothing, cross-fitted
    assert summary["sample"]["tokens"] >= 6000 and summary["sample"]["heldout_tokens"] > 0


def _positions_base_by_base(windows, trim: tuple[int, int], length: int) -> np.ndarray:
    """Genome position of every kept token of every window, written out per base (+: start + k, −: end − 1 − k)."""
    out = []
    for w in windows:
        for k in range(trim[0], w.length - trim[1]):
            out.append((w.start + k if w.strand == "+" else w.end - 1 - k) % length)
    return np.array(out, np.int64)


def test_the_split_is_the_probe_stages_split_of_the_buffers_tokens(plasmid):
    trim = (64, 64)  # trims of rc_pool concat with model.trim 64: what the buffer holds of each window
    lengths = {plasmid.contig: plasmid.n}
    reference = make_split(
        np.zeros(len(plasmid.windows) * (512 - 128), np.int64),
        _positions_base_by_base(plasmid.windows, trim, plasmid.n),
        [plasmid.contig],
        lengths,
        block_size=PROBE.block_size,
        test_fraction=PROBE.test_fraction,
        seed=PROBE.seed,
    )
    genome = genome_split(plasmid.windows, trim, lengths, PROBE)
    np.testing.assert_array_equal(genome.split.token_side, reference.token_side)
    assert genome.split.to_json()["blocks"] == reference.to_json()["blocks"]
    assert {TRAIN, TEST} <= set(genome.split.token_side.tolist())
    # the sample's rows take their own tokens' sides (fitted rows are train, held-out rows are test)
    plan = plan_layer_scan(
        plasmid.dir / "windows.bed",
        plasmid.dir / "labels",
        PlantedModel(trim=64, rc_pool="concat"),
        LayerScanSettings(tokens=3000),
        PROBE,
    )
    assert plan.trim == trim
    rows, _ = scan_rows(plan, genome)
    at = sample_tokens(genome, plan.rows)
    assert (reference.token_side[at[rows.fit]] == TRAIN).all() and (reference.token_side[at[rows.test]] == TEST).all()
    assert rows.test.size == (reference.token_side[at] == TEST).sum() > 0


def test_cli_with_a_real_model_writes_the_table_and_refuses_an_unknown_layer(plasmid, tiny_model_dir, tmp_path, capsys):
    model = json.dumps({"family": "tiny", "path": str(tiny_model_dir), "trim": 64})
    probe = json.dumps({"block_size": 1000, "test_fraction": 0.25, "min_instances": 3})
    base = [
        "layer-scan",
        "--windows",
        str(plasmid.dir / "windows.bed"),
        "--fasta",
        str(plasmid.dir / "genome.fa"),
        "--labels",
        str(plasmid.dir / "labels"),
        "--model",
        model,
        "--probe-settings",
        probe,
    ]
    out = tmp_path / "layer_scan.tsv"
    assert main([*base, "--settings", '{"tokens": 3000, "fit_tokens": 2000}', "--out", str(out)]) == 0
    table = read_layer_scan(out)
    assert list(pd.read_csv(out, sep="\t").columns) == list(LAYER_SCAN_COLUMNS)
    parquet = read_layer_scan(out.with_suffix(".parquet"))
    pd.testing.assert_frame_equal(table, parquet, check_dtype=False, rtol=1e-5)  # the TSV keeps 6 digits
    assert sorted(set(table["layer"])) == ["blocks.0", "blocks.1", "blocks.2", "blocks.3"]  # every layer by default
    assert set(table.loc[table["kind"] == "categorical", "concept"]) == {"codon_position"}
    binary = table[table["kind"] == "binary"]
    means = binary.groupby("layer")["auroc_train_cv"].mean()
    assert binary.groupby("layer")["layer_mean_auroc_train_cv"].first().to_dict() == pytest.approx(means.to_dict())
    assert table.loc[table["chosen"], "layer"].unique().tolist() == [means.idxmax()]
    assert json.loads(out.with_name("layer_scan.json").read_text())["chosen_layer"] == means.idxmax()

    bad = tmp_path / "bad.tsv"
    assert main([*base, "--settings", '{"layers": ["blocks.1", "blocks.12"]}', "--out", str(bad)]) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "blocks.12" in message and "blocks.0, blocks.1, blocks.2, blocks.3" in message
    assert not bad.exists() and not bad.with_suffix(".parquet").exists()
