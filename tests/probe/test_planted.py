"""Planted-concept suite: known feature → concept associations are annotated, decoys are not.

Decoys include features that fire in long runs (autocorrelated like the concepts): a token-shuffle
null would call many of them significant; the circular-shift null must not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dnalens.formats.probe_dir import write_probe_dir
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import run_probe

from .synthetic import planted_inputs

SETTINGS = ProbeSettings(
    block_size=2000, test_fraction=0.3, n_null=40, min_null_draws=0, probe_max_iter=60, probe_max_tokens=20_000
)


@pytest.fixture(scope="module")
def planted():
    inputs, pairs, decoys = planted_inputs(seed=0)
    n = inputs.n_tokens
    gene = inputs.labels[:, inputs.label_names.index("gene")]
    inputs.categorical = {"codon_position": (np.where(gene, np.arange(n) % 3, -1).astype(np.int16), ["1", "2", "3"])}
    rng = np.random.default_rng(5)
    inputs.dense = (inputs.codes @ rng.normal(size=(inputs.codes.shape[1], 64))).astype(np.float32)
    return inputs, pairs, decoys, run_probe(inputs, SETTINGS)


def test_every_planted_pair_is_annotated_and_no_decoy_is_significant(planted):
    inputs, pairs, decoys, result = planted
    fc = result.feature_concept.set_index(["feature", "concept"])
    for feature, concept in pairs:
        row = fc.loc[(feature, concept)]
        assert row["annotated"], (feature, concept, row.to_dict())
    decoy_rows = result.feature_concept[result.feature_concept["feature"].isin(decoys)]
    assert (decoy_rows["q"] <= 0.05).sum() == 0
    assert not decoy_rows["annotated"].any()


def test_tables_name_the_planted_features(planted):
    inputs, pairs, decoys, result = planted
    concepts = result.concepts.set_index("concept")
    planted_for = {}
    for feature, concept in pairs:
        planted_for.setdefault(concept, set()).add(feature)
    for concept, features in planted_for.items():
        assert concepts.loc[concept, "best_feature_auroc"] in features
        assert concepts.loc[concept, "best_auroc_test"] >= 0.75
        assert concepts.loc[concept, "sae_probe_auroc"] > 0.8
        assert concepts.loc[concept, "dense_probe_auroc"] > 0.8
    assert not concepts.loc["few", "evaluated"] and concepts.loc["few", "n_instances"] < 10
    features = result.features.set_index("feature")
    for feature, concept in pairs:  # annotated with a concept it was planted for
        assert features.loc[feature, "annotation"] in {c for f, c in pairs if f == feature}
    assert features.loc[decoys, "annotation"].isna().all()
    cat = result.probes[(result.probes["kind"] == "categorical") & (result.probes["input"] == "sae")].iloc[0]
    assert cat["accuracy"] > cat["chance"] + 0.1


def test_split_held_out_blocks(planted):
    inputs, pairs, decoys, result = planted
    side = result.split.token_side
    blocks = side.reshape(-1, 2000)
    assert np.all(blocks == blocks[:, :1])  # whole 2 kb blocks
    assert 0.2 < np.mean(side == 1) < 0.4


def test_cli_on_a_buffer(tmp_path, planted):
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.codes import CsrArrays

    inputs, pairs, decoys, _ = planted
    n = inputs.n_tokens
    codes = inputs.codes.tocsr()
    windows = pd.DataFrame(
        {
            "row": np.arange(n // 1000),
            "contig": "chr",
            "start": np.arange(0, n, 1000),
            "end": np.arange(1000, n + 1, 1000),
            "strand": "+",
            "name": [f"w{i}" for i in range(n // 1000)],
            "token_start": np.arange(0, n, 1000),
            "token_end": np.arange(1000, n + 1, 1000),
            "read_offset": 0,
        }
    )
    region = [j for j in range(len(inputs.label_names)) if (inputs.instances[:, j] >= 0).any()]
    buffer = ActivationBuffer(
        codes=CsrArrays(codes.indptr.astype(np.int64), codes.indices, codes.data.astype(np.float16), codes.shape[1]),
        labels_packed=np.packbits(inputs.labels, axis=1),
        label_names=inputs.label_names,
        instances=inputs.instances[:, region].astype(np.int32),
        instance_names=[inputs.label_names[j] for j in region],
        windows=windows,
        meta={"genome": "planted"},
    ).save(tmp_path / "buffer")
    # small feature blocks: the buffer's feature-major copy is read a few columns at a time
    settings = json.dumps(
        {
            "block_size": 2000,
            "test_fraction": 0.3,
            "n_null": 20,
            "min_null_draws": 0,
            "probes": False,
            "feature_block_entries": int(codes.nnz // 6),
        }
    )
    out = tmp_path / "probe"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnalens.cli",
            "probe",
            "--buffer",
            str(buffer),
            "--out",
            str(out),
            "--settings",
            settings,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert {p.name for p in out.iterdir()} == {
        "feature_concept.parquet",
        "features.parquet",
        "concepts.parquet",
        "probes.parquet",
        "split.json",
        "summary.json",
    }
    fc = pd.read_parquet(out / "feature_concept.parquet")
    assert len(fc) == codes.shape[1] * len(inputs.label_names)
    assert fc.set_index(["feature", "concept"]).loc[pairs[0], "annotated"]
    from dataclasses import replace

    in_memory = run_probe(inputs, replace(SETTINGS, n_null=20, probes=False))  # same numbers as from disk
    expected = in_memory.feature_concept
    np.testing.assert_allclose(fc["auroc_test"], expected["auroc_test"], rtol=0, atol=2e-3)  # fp16 codes on disk
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnalens.cli",
            "probe",
            "--buffer",
            str(buffer),
            "--out",
            str(out),
            "--settings",
            '{"tresholds": [0.1]}',
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "tresholds" in bad.stderr


def test_write_probe_dir_is_atomic(tmp_path, planted):
    *_, result = planted
    write_probe_dir(result, tmp_path / "probe")
    split = json.loads((tmp_path / "probe" / "split.json").read_text())
    assert split["n_test_tokens"] == int((result.split.token_side == 1).sum())
    assert not list(tmp_path.glob(".probe.tmp-*"))


def test_feature_blocks_give_the_same_tables(planted):
    """Scoring a few features at a time (what bounds memory on a whole genome) changes no number."""
    import dataclasses

    from dnalens.formats.feature_columns import feature_bounds

    inputs, _, _, whole = planted
    small = int(inputs.codes.nnz // 7)
    assert len(feature_bounds(np.diff(inputs.codes.tocsc().indptr), small)) >= 5
    blocked = run_probe(inputs, dataclasses.replace(SETTINGS, feature_block_entries=small))
    for name in ("feature_concept", "features", "concepts", "probes"):
        pd.testing.assert_frame_equal(getattr(blocked, name), getattr(whole, name), check_exact=True)
    assert blocked.summary["n_annotated_pairs"] == whole.summary["n_annotated_pairs"]


def test_k_sparse_probes_and_concept_groups_name_the_planted_features(planted):
    """k-sparse probing on the SAE codes picks each concept's planted features first (largest mean difference),
    and the concept's latent group (smallest k whose cross-fitted train AUROC beats the baseline by min_margin)
    is made of them, with its held-out AUROC reported."""
    inputs, pairs, decoys, result = planted
    ks = result.probes[result.probes["kind"] == "k_sparse"]
    planted_for = {}
    for feature, concept in pairs:
        planted_for.setdefault(concept, set()).add(feature)
    concepts = result.concepts.set_index("concept")
    for concept, features in planted_for.items():
        mine = ks[ks["concept"] == concept].set_index("k")
        # the listed ks and every k a group may take (1..group_max_k)
        assert sorted(mine.index) == sorted(set(SETTINGS.sparse_probe_ks) | set(range(1, SETTINGS.group_max_k + 1)))
        assert {int(f) for f in mine.loc[2, "latents"].split("+")} == features
        assert np.isnan(mine.loc[10, "auroc_train_cv"]) and mine.loc[1, "auroc_train_cv"] > 0.5
        row = concepts.loc[concept]
        bar = row["baseline_auroc_train"] + SETTINGS.min_margin
        assert 1 <= row["group_k"] <= SETTINGS.group_max_k, row.to_dict()
        assert {int(f) for f in row["group_latents"].split("+")} <= features
        assert mine.loc[int(row["group_k"]), "auroc_train_cv"] > bar
        assert all(mine.loc[k, "auroc_train_cv"] <= bar for k in mine.index if k < row["group_k"])
        assert row["group_auroc_test"] == mine.loc[int(row["group_k"]), "auroc"]
        assert row["k_sparse_auroc_test_k2"] == mine.loc[2, "auroc"]
    # a concept too rare to be evaluated gets no k-sparse probe and no group
    assert "few" not in set(ks["concept"]) and pd.isna(concepts.loc["few", "group_k"])
