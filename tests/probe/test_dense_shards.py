"""Dense probe without a dense twin: rows read from the activation shards the codes came from."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.formats.activation_shards import write_manifest, write_shard
from dnalens.probe.dense_shards import ShardRows
from dnalens.probe.probe_runs import ProbeRunSettings, run_probes

from .synthetic import planted_inputs


def _windows(n_windows: int, size: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": np.arange(n_windows),
            "contig": "chr",
            "start": np.arange(n_windows) * size,
            "end": np.arange(1, n_windows + 1) * size,
            "strand": "+",
            "name": [f"w{i}" for i in range(n_windows)],
            "token_start": np.arange(n_windows) * size,
            "token_end": np.arange(1, n_windows + 1) * size,
            "read_offset": 0,
        }
    )


def _write_shards(directory, dense: np.ndarray, n_windows: int, size: int, per_shard: int) -> None:
    for idx, w0 in enumerate(range(0, n_windows, per_shard)):
        ws = list(range(w0, min(w0 + per_shard, n_windows)))
        write_shard(
            directory,
            idx,
            dense[ws[0] * size : (ws[-1] + 1) * size],
            ws,
            [i * size for i in range(len(ws) + 1)],
            {"layer": "blocks.0"},
        )
    write_manifest(directory, {"layer": "blocks.0"})


def test_shard_rows_line_up_and_refuse_other_windows(tmp_path):
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(12 * 50, 8)).astype(np.float16)
    _write_shards(tmp_path / "acts", dense, 12, 50, 5)
    rows, why = ShardRows.open(tmp_path / "acts", _windows(12, 50))
    assert why == "" and rows.shape == (600, 8)
    pick = np.array([599, 3, 250, 251, 0, 420])
    np.testing.assert_array_equal(rows.take(pick), dense[pick].astype(np.float32))
    other = _windows(12, 50)
    other.loc[3, "token_end"] -= 1
    other.loc[4:, ["token_start", "token_end"]] -= 1
    none, why = ShardRows.open(tmp_path / "acts", other)
    assert none is None and "window row 3" in why
    none, why = ShardRows.open(tmp_path / "missing", _windows(12, 50))
    assert none is None and "manifest" in why


def test_probe_from_shards_equals_the_in_memory_dense_path(tmp_path):
    inputs, _, _ = planted_inputs(seed=1, n=20_000)
    rng = np.random.default_rng(2)
    dense = (inputs.codes @ rng.normal(size=(inputs.codes.shape[1], 16))).astype(np.float16)
    _write_shards(tmp_path / "acts", dense, 20, 1000, 6)
    shard_rows, why = ShardRows.open(tmp_path / "acts", _windows(20, 1000))
    assert why == ""
    n = inputs.n_tokens
    train, test = np.arange(0, n, 2), np.arange(1, n, 2)
    evaluated = np.ones(len(inputs.label_names), bool)
    s = ProbeRunSettings(max_tokens=5000, max_iter=50)
    inputs.dense = np.asarray(dense, np.float32)
    in_memory = run_probes(inputs, train, test, evaluated, s)
    inputs.dense = shard_rows
    from_shards = run_probes(inputs, train, test, evaluated, s)
    pd.testing.assert_frame_equal(in_memory, from_shards)
    dense_rows = from_shards[(from_shards["input"] == "dense") & (from_shards["kind"] == "binary")]
    assert len(dense_rows) and dense_rows["auroc"].notna().all() and (dense_rows["auroc"] > 0.7).all()


def test_cli_with_fasta_and_activations(tmp_path):
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.codes import CsrArrays

    inputs, pairs, _ = planted_inputs(seed=0)
    n = inputs.n_tokens
    codes = inputs.codes.tocsr()
    region = [j for j in range(len(inputs.label_names)) if (inputs.instances[:, j] >= 0).any()]
    ActivationBuffer(
        codes=CsrArrays(codes.indptr.astype(np.int64), codes.indices, codes.data.astype(np.float16), codes.shape[1]),
        labels_packed=np.packbits(inputs.labels, axis=1),
        label_names=inputs.label_names,
        instances=inputs.instances[:, region].astype(np.int32),
        instance_names=[inputs.label_names[j] for j in region],
        windows=_windows(n // 1000, 1000),
        meta={"genome": "planted"},
    ).save(tmp_path / "buffer")
    rng = np.random.default_rng(3)
    dense = np.asarray(sp.csr_matrix(codes) @ rng.normal(size=(codes.shape[1], 16)), np.float16)
    _write_shards(tmp_path / "acts", dense, n // 1000, 1000, 7)
    (tmp_path / "genome.fa").write_text(">chr\n" + "".join(rng.choice(list("ACGT"), n)) + "\n")
    settings = json.dumps(
        {"block_size": 2000, "test_fraction": 0.3, "n_null": 20, "min_null_draws": 0, "probe_max_iter": 30}
    )
    out = tmp_path / "probe"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnalens.cli",
            "probe",
            "--buffer",
            str(tmp_path / "buffer"),
            "--fasta",
            str(tmp_path / "genome.fa"),
            "--activations",
            str(tmp_path / "acts"),
            "--settings",
            settings,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    concepts = pd.read_parquet(out / "concepts.parquet").set_index("concept")
    evaluated = concepts[concepts["evaluated"]]
    assert evaluated["dense_probe_auroc"].notna().all() and (evaluated["dense_probe_auroc"] > 0.7).all()
    for name in ("kmer1", "kmer3"):  # random sequence, per-token codes: near chance
        assert evaluated[f"baseline_{name}_auroc_test"].between(0.4, 0.6).all()
    for name in ("kmer5", "gc", "edge"):  # sparser tables or autocorrelated codes: noisy, but there
        assert evaluated[f"baseline_{name}_auroc_test"].between(0.2, 0.8).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dense_probe"] == "ShardRows" and summary["baselines"] == ["kmer1", "kmer3", "kmer5", "gc", "edge"]
    fc = pd.read_parquet(out / "feature_concept.parquet").set_index(["feature", "concept"])
    assert fc.loc[pairs[0], "annotated"] and fc.loc[pairs[0], "margin"] > 0.2
    assert summary["n_annotated_pairs"] == int(fc["annotated"].sum())
    features = pd.read_parquet(out / "features.parquet")
    assert {
        "label",
        "label_auroc_train",
        "label_auroc_test",
        "label_baseline_auroc_test",
        "label_margin",
        "label_q",
        "annotated",
        "n_annotated_concepts",
    } <= set(features.columns)
    assert summary["n_annotated_features"] == int(features["annotated"].sum())
