"""Latents across genomes: matched by decoder direction (Hungarian), never by index across SAEs."""

import numpy as np
import pandas as pd
import pytest
import torch

from dnalens.cli import main
from dnalens.report.across import features_across_genomes, latent_matches, match_latents


def _planted(n=40, d=16, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n, d))
    perm = rng.permutation(n)  # reference latent i is latent perm[i] of the other SAE
    other = np.empty_like(ref)
    other[perm] = ref * rng.uniform(0.5, 3.0, size=(n, 1)) + noise * rng.normal(size=(n, d))
    return ref, other, perm


def test_hungarian_recovers_a_planted_permutation_and_reports_cosine():
    ref, other, perm = _planted()
    match, cosine = match_latents(ref, other)
    np.testing.assert_array_equal(match, perm)
    expected = [ref[i] @ other[perm[i]] / np.linalg.norm(ref[i]) / np.linalg.norm(other[perm[i]]) for i in range(40)]
    np.testing.assert_allclose(cosine, expected)
    assert 0.9 < cosine.min() < 1.0
    # a wider other SAE: every reference latent still finds its twin; a narrower one leaves some unmatched
    wide = np.vstack([other, np.random.default_rng(1).normal(size=(10, 16))])
    np.testing.assert_array_equal(match_latents(ref, wide)[0], perm)
    narrow_match, narrow_cos = match_latents(ref, other[:30])
    assert (narrow_match == -1).sum() == 10 and np.isnan(narrow_cos[narrow_match == -1]).all()


def _table(latents, labels, annotated):
    return pd.DataFrame(
        {
            "latent": latents,
            "label": labels,
            "view": "own",
            "annotated": annotated,
            "auroc_test": 0.9,
            "margin": 0.2,
            "activation_frequency": 0.01,
        }
    )


def test_rows_follow_the_decoder_match_not_the_index():
    ref, other, perm = _planted(n=6, d=8, noise=0.05)
    labels = ["CDS", "tRNA", "rRNA", "intron", "exon", "TSS"]
    a = _table(range(6), labels, [True] * 6)
    b_labels = [None] * 6
    for i, j in enumerate(perm):
        b_labels[j] = labels[i]  # the same latent, found at another index in genome b's SAE
    b = _table(range(6), b_labels, [True] * 6)
    matches = latent_matches({"a": ref, "b": other}, {"a": "sae_a", "b": "sae_b"}, "a")
    wide = features_across_genomes({"a": a, "b": b}, matches, "a").set_index("latent")
    assert [wide.loc[i, "b:latent"] for i in range(6)] == list(perm)
    assert (wide["shared_label"] == wide["a:label"]).all() and (wide["n_genomes_annotated"] == 2).all()
    assert (wide["b:match_cosine"] > 0.9).all() and (wide["a:match_cosine"] == 1).all()
    # what index matching would have claimed: latent i of b has another label wherever perm moved it
    moved = [i for i in range(6) if perm[i] != i]
    assert moved and all(wide.loc[i, "b:label"] != b_labels[i] for i in moved)


def test_same_sae_file_matches_by_id():
    a = _table([0, 1], ["CDS", "tRNA"], [True, False])
    b = _table([0, 1], ["CDS", "rRNA"], [True, True])
    matches = latent_matches({}, {"a": "results/sae", "b": "results/../results/sae"}, "a")
    assert matches == {"a": None, "b": None}
    wide = features_across_genomes({"a": a, "b": b}, matches, "a").set_index("latent")
    assert wide.loc[0, "shared_label"] == "CDS" and wide.loc[1, "shared_label"] == "rRNA"
    assert (wide["b:match_cosine"] == 1).all() and list(wide["b:latent"]) == [0, 1]


def test_cli_matches_separately_trained_strand_shared_saes(tmp_path):
    from dnalens.sae.io import save_sae
    from dnalens.sae.strand_shared import StrandSharedSAE
    from dnalens.sae.topk import TopKSAE

    ref, other, perm = _planted(n=12, d=8, noise=0.05)
    for name, w in (("a", ref), ("b", other)):
        inner = TopKSAE(8, 12, k=2)
        with torch.no_grad():
            inner.W_dec.copy_(torch.tensor(w, dtype=torch.float32))
        save_sae(StrandSharedSAE(inner), tmp_path / name / "sae")
        labels = (
            [f"c{i}" for i in range(12)]
            if name == "a"
            else [f"c{int(np.flatnonzero(perm == j)[0])}" for j in range(12)]
        )
        _table(range(12), labels, [True] * 12).to_csv(tmp_path / name / "features.tsv", sep="\t", index=False)
    out = tmp_path / "summary.tsv"
    args = [
        "summarize-genomes",
        str(tmp_path / "a" / "features.tsv"),
        str(tmp_path / "b" / "features.tsv"),
        "--names",
        "a",
        "b",
        "--out",
        str(out),
    ]
    assert main(args + ["--sae", str(tmp_path / "a" / "sae"), str(tmp_path / "b" / "sae")]) == 0
    wide = pd.read_csv(out, sep="\t").set_index("latent")
    assert [wide.loc[i, "b:latent"] for i in range(12)] == list(perm)
    assert (wide["shared_label"] == wide["a:label"]).all()
    assert wide["b:match_cosine"].between(0.9, 1.0 + 1e-6).all()
    # one SAE file for both (sae.source: load): by id, no decoder read (the path need not even exist here)
    assert main(args + ["--sae", "x/sae", "x/sae"]) == 0
    assert list(pd.read_csv(out, sep="\t").sort_values("latent")["b:latent"]) == list(range(12))
    assert main(args + ["--sae", "x/sae"]) == 2  # one SAE per genome


def test_matching_refuses_decoders_of_different_width():
    from dnalens.errors import InputError

    with pytest.raises(InputError, match="different input widths"):
        match_latents(np.ones((3, 4)), np.ones((3, 5)))
