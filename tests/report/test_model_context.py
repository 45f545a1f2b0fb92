"""The model's context in words: bits/nt against the Markov chain, the read layer's ablation cost, seed
agreement against its bar — hand-made cases and the demo's own files as references."""

import json
from pathlib import Path

import numpy as np
import pytest

from dnalens.report.model_context import (
    SEED_AGREEMENT_BAR,
    ModelContext,
    ablation_sentence,
    bits_sentence,
    bits_versus_markov,
    evaluation_path,
    model_context_lines,
    read_model_context,
    replicate_text,
    seed_agreement_sentence,
)
from dnalens.report.sae_facts import replicate_matches

BUNDLED_EVALUATION = Path("resources/models/dnalens-tiny-bacteria/evaluation.json")
EVALUATION = {
    "bits": {
        "heldout:ecoli.fa": {"model_bits_per_nt": 1.5, "markov5_bits_per_nt": 1.9, "n_nt": 1000},
        "unseen:g1": {"model_bits_per_nt": 1.9, "markov5_bits_per_nt": 2.0, "n_nt": 100},
        "unseen:g2": {"model_bits_per_nt": 1.8, "markov5_bits_per_nt": 1.9, "n_nt": 300},
    }
}


def test_bits_use_this_genomes_row_else_the_unseen_genomes_weighted():
    mine = bits_versus_markov(EVALUATION, "g1")
    assert (mine["model"], mine["markov"], mine["n_nt"], mine["scope"]) == (1.9, 2.0, 100, "this genome")
    other = bits_versus_markov(EVALUATION, "elsewhere")
    assert other["model"] == pytest.approx((1.9 * 100 + 1.8 * 300) / 400)  # 1.825, never the training tails
    assert other["markov"] == pytest.approx((2.0 * 100 + 1.9 * 300) / 400) and other["n_nt"] == 400
    assert "not this one" in other["scope"]
    assert bits_versus_markov({}, "g1") is None
    assert bits_sentence(EVALUATION, "g1") == (
        "On this genome (100 nt, never seen in training) the model predicts the next base with 1.900 bits/nt, "
        "0.100 bits/nt better than a 5th-order Markov chain (2.000 bits/nt; 2.000 = a uniform guess)."
    )
    assert bits_sentence({}, "g1").startswith("not measured")


@pytest.mark.skipif(not BUNDLED_EVALUATION.is_file(), reason="no bundled model card")
def test_bundled_model_on_the_chloroplast_reads_as_its_card():
    row = json.loads(BUNDLED_EVALUATION.read_text())["bits"]["unseen:chloroplast"]
    text = bits_sentence(json.loads(BUNDLED_EVALUATION.read_text()), "chloroplast")
    gain = row["markov5_bits_per_nt"] - row["model_bits_per_nt"]
    assert f"{row['model_bits_per_nt']:.3f} bits/nt, {gain:.3f} bits/nt better" in text  # 1.917, 0.056
    assert f"({row['markov5_bits_per_nt']:.3f} bits/nt" in text


def test_ablation_cost_in_nats_per_token():
    quality = {"layer": "blocks.6", "loss": {"ce_clean": 1.325, "ce_zero": 1.3402, "ce_sae": 1.3244, "tokens": 16384}}
    assert ablation_sentence(quality) == (
        "Removing blocks.6 (its output set to zero) raises the model's loss by 0.015 nats/token (1.325 → 1.340, "
        "16,384 tokens); with the SAE's reconstruction in its place the loss is 1.324 (-0.0006)."
    )
    assert ablation_sentence({"loss": {"reason": "no --model given"}}) == "not measured (no --model given)"


def test_seed_agreement_is_judged_against_the_bar():
    quality = {"dictionary": {"seed_agreement": 0.31, "seed_agreement_cosine": 0.8}}
    text, ok = seed_agreement_sentence(quality, 0.3)
    assert ok is True and text.startswith("31.0% of latents reappear (decoder cosine ≥ 0.8)") and "meets" in text
    text, ok = seed_agreement_sentence(quality, 0.5)
    assert ok is False and "is BELOW the bar of 50%" in text
    assert seed_agreement_sentence({}, 0.3)[1] is None
    assert SEED_AGREEMENT_BAR == 0.3  # the schema's default (report.seed_agreement_bar)


def test_evaluation_file_is_the_checkpoints(tmp_path):
    assert evaluation_path(None) is None  # no model settings: never another model's card
    assert evaluation_path({"family": "evo2", "name": "evo2_7b"}) is None
    assert evaluation_path({"family": "tiny", "path": str(tmp_path)}) == tmp_path / "evaluation.json"
    assert evaluation_path({"family": "tiny", "path": None}).name == "evaluation.json"


def test_read_model_context_and_the_card_line(tmp_path):
    (tmp_path / "evaluation.json").write_text(json.dumps(EVALUATION))
    quality = {"dictionary": {"seed_agreement": 0.1, "seed_agreement_cosine": 0.8}}
    ctx = read_model_context("g2", quality, tmp_path / "no-sae", {"family": "tiny", "path": str(tmp_path)})
    assert ctx.replicate is None and ctx.sae_config == {}
    lines = dict(model_context_lines(ctx))
    assert lines["how well the model predicts DNA"].startswith("On this genome (300 nt")
    assert "BELOW" in lines["seed agreement"] and lines["what the read layer carries"] == "not measured"
    assert replicate_text(ctx, 0) == "no replicate dictionary (sae.replicate)"
    decoders = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [3.0, 0.0]])
    matched = ModelContext("g2", quality=quality, replicate=replicate_matches(*decoders))
    assert replicate_text(matched, 0) == "latent 1, cosine 1.00 (reappears; bar 0.8)"
    assert replicate_text(matched, 1) == "latent 0, cosine 0.71 (does not reappear; bar 0.8)"  # cos 45° = 0.707
    assert replicate_text(matched, 1, 0.7).endswith("(reappears; bar 0.7)")


def test_features_get_the_replicate_columns():
    import pandas as pd

    from dnalens.report.model_context import with_replicate_columns

    table = pd.DataFrame({"latent": [1, 0], "label": ["CDS", "intron"]})
    decoders = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [3.0, 0.0]])
    got = with_replicate_columns(table, ModelContext("g", replicate=replicate_matches(*decoders)))
    assert got["replicate_latent"].tolist() == [0, 1] and got["replicate_cosine"].round(3).tolist() == [0.707, 1.0]
    none = with_replicate_columns(table, ModelContext("g"))
    assert none["replicate_latent"].isna().all() and none["replicate_cosine"].isna().all()
    assert list(none.columns) == ["latent", "label", "replicate_latent", "replicate_cosine"]
