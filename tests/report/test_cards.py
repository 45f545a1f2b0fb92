"""report.html's header and context read from the SAE's own files: a BatchTopK dictionary saved in SAELens'
jumprelu form must read as BatchTopK with its own width, and the card names its replicate match."""

import dataclasses
import json
import re

import numpy as np
import pytest
from safetensors.numpy import save_file

from dnalens.report.inputs import sae_name
from dnalens.report.model_context import read_model_context
from dnalens.report.options import ReportSettings
from dnalens.report.stage import run_report

from . import mini_genome


def _sae_dir(path, w_dec: np.ndarray, cfg: dict | None = None):
    path.mkdir(parents=True)
    save_file({"W_dec": w_dec.astype(np.float32)}, str(path / "sae_weights.safetensors"))
    if cfg is not None:
        (path / "cfg.json").write_text(json.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cards")
    root = tmp / "mini"
    root.mkdir()
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    (root / "annotation.gff3").write_text("##gff-version 3\n")
    cfg = {
        "architecture": "jumprelu",  # what SAELens loads; the dictionary was trained as BatchTopK
        "d_in": 3,
        "d_sae": 4,
        "k": 2,
        "metadata": {"dnalens": {"type": "batchtopk", "strand_shared": False, "settings": {"k": 2}}},
    }
    w = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=float)
    sae = _sae_dir(tmp / "dict", w, cfg)
    _sae_dir(tmp / "dict-replicate", np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 1, 1]], dtype=float))
    (tmp / "model").mkdir()
    (tmp / "model" / "evaluation.json").write_text(
        json.dumps({"bits": {"unseen:mini": {"model_bits_per_nt": 1.9, "markov5_bits_per_nt": 1.95, "n_nt": 900}}})
    )
    quality = {
        "layer": "blocks.1",
        "loss": {"ce_clean": 1.30, "ce_zero": 1.32, "ce_sae": 1.305, "tokens": 512},
        "dictionary": {"seed_agreement": 0.75, "seed_agreement_cosine": 0.8},
    }
    inputs = dataclasses.replace(
        mini_genome.inputs(root),
        sae=sae_name({"sae": str(sae)}, {"architecture": "jumprelu", "d_sae": 8}),
        model_context=read_model_context("mini", quality, sae, {"family": "tiny", "path": str(tmp / "model")}),
    )
    settings = ReportSettings(sequence_flank=40, max_hits_per_feature=1, seed_agreement_bar=0.8)
    run_report(inputs, settings, root)
    return cfg, (root / "report.html").read_text()


def test_header_matches_the_sae_config(report):
    cfg, text = report
    subtitle = re.search(r"<header>\s*<h1>.*?</h1>\s*<p>(.*?)</p>", text, flags=re.S).group(1)
    assert f"SAE: BatchTopK, {cfg['d_sae']} latents on a {cfg['d_in']}-d position, k = {cfg['k']}" in subtitle
    assert "jumprelu (" not in text and "8 features" not in text  # sae_quality.json's inference form is not used


def test_card_and_health_carry_the_replicate_and_the_bar(report):
    _, text = report
    # latent 0's decoder row is the replicate's latent 1 (the rows were permuted), cosine 1
    card = text[text.index('<section class="card" id="f0"') :]
    assert "best match in the replicate" in card and "latent 1, cosine 1.00 (reappears; bar 0.8)" in card
    # report.seed_agreement_bar = 0.8 in this run's settings: 75 % is below it, and the verdict says so
    assert "is BELOW the bar of 80%" in text and "FAILS seed agreement ≥ 80%" in text
    assert "passes every" not in text


def test_hit_cap_is_disclosed(report):
    _, text = report
    assert "keep each latent&#39;s 1 strongest hits (report.max_hits_per_feature" in text
    assert "each latent&#39;s 1 strongest (the header says which were cut)" in text
