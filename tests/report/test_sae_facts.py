"""The SAE as its own files describe it: header text from cfg.json, best replicate matches by decoder cosine."""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from dnalens.report.sae_facts import (
    read_replicate_matches,
    read_sae_config,
    replicate_dir,
    replicate_matches,
    sae_description,
)

DEMO = Path("results/dictionaries/tiny_bundled-blocks.6-1e3201563fc0")


def batchtopk_cfg(d_sae=512, d_in=128, shared=True) -> dict:
    """cfg.json as the sae stage writes it for a BatchTopK SAE: SAELens loads it as jumprelu."""
    return {
        "architecture": "jumprelu",
        "d_in": d_in,
        "d_sae": d_sae,
        "k": 8,
        "metadata": {
            "dnalens": {
                "type": "batchtopk",
                "strand_shared": shared,
                "settings": {"architecture": "batchtopk", "k": 8, "base_lookup": 3, "strand_shared": shared},
            }
        },
    }


def test_header_says_what_was_trained_not_the_saelens_form():
    text = sae_description(batchtopk_cfg())
    assert text.startswith("BatchTopK, 512 latents on a 128-d strand state, k = 8 on average per strand state")
    assert "3-mer decoder-bias lookup" in text and "1,024 code columns" in text
    assert "saved for SAELens as jumprelu" in text and "1024 features" not in text
    plain = sae_description({**batchtopk_cfg(d_sae=64, d_in=32, shared=False), "metadata": {}, "architecture": "topk"})
    assert plain == "TopK, 64 latents on a 32-d position, k = 8 per position"
    assert sae_description({}) == ""


@pytest.mark.skipif(not (DEMO / "cfg.json").is_file(), reason="the demo's dictionary is not built")
def test_demo_dictionary_header_matches_its_cfg():
    cfg = json.loads((DEMO / "cfg.json").read_text())
    assert read_sae_config(DEMO) == cfg
    text = sae_description(cfg)
    assert text.startswith(f"BatchTopK, {cfg['d_sae']} latents on a {cfg['d_in']}-d strand state")


def test_best_replicate_match_equals_brute_force():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5))
    perm = np.array([3, 0, 5, 1, 2, 4])
    replicate = np.empty_like(w)
    replicate[perm] = 2.5 * w + 0.05 * rng.normal(size=w.shape)  # rescaled rows: cosine ignores the scale
    got = replicate_matches(w, replicate, chunk=4)
    for i in range(len(w)):
        cos = [w[i] @ r / (np.linalg.norm(w[i]) * np.linalg.norm(r)) for r in replicate]
        assert got.loc[i, "replicate_latent"] == int(np.argmax(cos)) == perm[i]
        assert got.loc[i, "replicate_cosine"] == pytest.approx(max(cos), abs=1e-12)


def _save_decoder(path: Path, w: np.ndarray) -> None:
    path.mkdir(parents=True)
    save_file({"W_dec": w.astype(np.float32)}, str(path / "sae_weights.safetensors"))


def test_replicate_found_beside_the_dictionary(tmp_path):
    w = np.eye(4, 3, dtype=np.float32)
    _save_decoder(tmp_path / "dict", w)
    assert replicate_dir(tmp_path / "dict") is None and read_replicate_matches(tmp_path / "dict") is None
    _save_decoder(tmp_path / "dict-replicate", w[[1, 0, 2, 3]])
    got = read_replicate_matches(tmp_path / "dict")
    assert got["replicate_latent"].tolist()[:3] == [1, 0, 2]
    assert got["replicate_cosine"].tolist()[:3] == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.skipif(not (Path(f"{DEMO}-replicate") / "cfg.json").is_file(), reason="no demo replicate")
def test_demo_matches_reproduce_the_sae_stages_seed_agreement():
    """sae_quality.json's seed agreement (torch, sae/dictionary.py) is the share of these cosines >= 0.8."""
    quality = json.loads(Path("results/vcholerae_chr2/sae_quality.json").read_text())["dictionary"]
    got = read_replicate_matches(DEMO)
    assert len(got) == batchtopk_cfg()["d_sae"]
    share = float((got["replicate_cosine"] >= quality["seed_agreement_cosine"]).mean())
    assert share == pytest.approx(quality["seed_agreement"], abs=1 / len(got))
    assert got["replicate_cosine"].median() == pytest.approx(quality["seed_best_cosine_median"], abs=1e-3)
