"""`dnalens effects` end to end on a synthetic genome, buffer, probe folder, tiny model and ReLU SAE."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dnalens.cli import main
from dnalens.formats.codes import CsrArrays
from dnalens.formats.effects import EFFECTS_COLUMNS, read_effects
from dnalens.models.base import load_model
from dnalens.sae.io import save_sae

from .helpers import random_seq, relu_sae

LENGTH, WINDOW, STEP, TRIM, F = 1200, 200, 100, 20, 8
CODON = ["CDS_codon_pos1", "CDS_codon_pos2", "CDS_codon_pos3"]


def model_spec(model_dir):
    return {"family": "tiny", "path": str(model_dir), "rc_pool": "none", "trim": TRIM, "dtype": "float32"}


@pytest.fixture(scope="module")
def genome(tmp_path_factory, tiny_model_dir):
    from dnalens.formats.buffer import ActivationBuffer

    root = tmp_path_factory.mktemp("effects")
    seq = random_seq(LENGTH, 7)
    (root / "genome.fa").write_text(f">chr1\n{seq}\n")
    rows = []
    for start in range(0, LENGTH - WINDOW + 1, STEP):
        for strand in "+-":
            rows.append(("chr1", start, start + WINDOW, strand, f"chr1:{start}-{start + WINDOW}{strand}"))
    win = pd.DataFrame(rows, columns=["contig", "start", "end", "strand", "name"])
    kept = WINDOW - TRIM
    win = win.assign(row=np.arange(len(win)), token_start=np.arange(len(win)) * kept, read_offset=TRIM)
    win["token_end"] = win["token_start"] + kept
    n = len(win) * kept
    read_pos = np.tile(np.arange(TRIM, WINDOW), len(win))
    labels = np.stack([(read_pos % 3) == k for k in range(3)], axis=1)
    # SAE: encoder centred on the model's states so latents fire on part of the positions; latent 0 writes a
    # long vector and fires often, latent 1 never fires (its bias is far below zero)
    sae = relu_sae(16, F, seed=5)
    states = load_model(model_spec(tiny_model_dir)).activations([seq[:400]], ["blocks.1"])["blocks.1"][0]
    with torch.no_grad():
        sae.b_dec.copy_(torch.from_numpy(states.mean(0)))
        sae.W_dec[0] *= 4.0
        sae.b_enc[0] = 0.5
        sae.b_enc[1] = -1e4
    save_sae(sae, root / "sae")
    ActivationBuffer(
        codes=CsrArrays(np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float16), F),
        labels_packed=np.packbits(labels, axis=1),
        label_names=CODON,
        instances=np.full((n, 1), -1, np.int32),
        instance_names=["CDS"],
        windows=win,
        meta={"layer": "blocks.1", "sae": str(root / "sae"), "trim_start": TRIM, "trim_end": 0},
    ).save(root / "buffer")
    probe = root / "probe"
    probe.mkdir()
    pd.DataFrame(
        {
            "feature": np.arange(F, dtype=np.int32),
            "label": ["CDS_codon_pos1", "CDS_codon_pos2"] + [None] * (F - 2),
            "annotated": [True, True] + [False] * (F - 2),
            "frequency": [0.4, 0.3, 0.2, 0.35, 0.1, 0.3, 0.05, 0.45],
            "mean_active": 1.0,
        }
    ).to_parquet(probe / "features.parquet")
    blocks = [
        {"contig": "chr1", "start": s, "end": s + 400, "side": "train" if s == 0 else "test"} for s in (0, 400, 800)
    ]
    (probe / "split.json").write_text(json.dumps({"blocks": blocks}))
    return root


def args(root, model_dir, settings, out):
    return [
        "effects",
        "--buffer", str(root / "buffer"),
        "--probe", str(root / "probe"),
        "--fasta", str(root / "genome.fa"),
        "--model", json.dumps(model_spec(model_dir)),
        "--settings", json.dumps(settings),
        "--out", str(out),
    ]  # fmt: skip


def test_effects_cli_writes_the_table(genome, tiny_model_dir, tmp_path):
    out = tmp_path / "effects" / "effects.tsv"
    assert main(args(genome, tiny_model_dir, {"n_windows": 8, "n_controls": 3}, out)) == 0
    table = read_effects(out)
    assert list(table.columns[: len(EFFECTS_COLUMNS)]) == list(EFFECTS_COLUMNS)
    assert (out.parent / "effects.parquet").is_file()
    bed = pd.read_csv(out.parent / "windows.bed", sep="\t", header=None)
    assert len(bed) == 8 and (bed[1] >= 400).all()  # held-out: every kept position in the test blocks [400, 1200)
    annotated = table[table["role"] == "annotated"].set_index("latent")
    strong, silent = annotated.loc[0], annotated.loc[1]
    assert strong["n_fire_positions"] > 100 and abs(strong["delta_bits_fire"]) > 1e-3
    assert silent["n_fire_positions"] == 0 and silent["effect_verdict"] == "not measured"
    assert abs(strong["delta_bits_fire"]) > abs(np.nan_to_num(silent["delta_bits_fire"]))
    # codon-position label: its own positions and the other two are all reported
    assert np.isfinite(strong[["delta_logp_next_codon_pos1", "delta_logp_next_codon_pos2"]].astype(float)).all()
    assert strong["delta_logp_next_annotated"] == pytest.approx(-strong["delta_bits_label"])
    controls = [int(c) for c in str(strong["controls"]).split("+")]
    assert len(controls) == 3 and not {0, 1} & set(controls)
    union = {int(c) for s in annotated["controls"] for c in str(s).split("+")}
    assert set(table.loc[table["role"] == "matched_control", "latent"]) == union >= set(controls)
    assert set(table.loc[table["role"] == "random_direction", "latent"]) == {0, 1}
    assert strong["effect_verdict"] in ("no measurable effect", "larger than controls", "smaller than controls")


def test_latent_out_of_range_is_one_error(genome, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "effects.tsv"
    assert main(args(genome, tiny_model_dir, {"latents": [3, 99]}, out)) == 2
    err = capsys.readouterr().err
    assert "effects.latents" in err and "99" in err and "Traceback" not in err
    assert not out.exists()
