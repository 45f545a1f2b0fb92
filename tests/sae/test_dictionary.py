"""Dictionary checks on hand-built decoders: movement from the initialisation, seed agreement, health,
and the loss-recovered gate."""

import math

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.sae.dictionary import (
    HealthTargets,
    best_match_cosines,
    dictionary_report,
    health,
    init_cosine,
    seed_agreement,
)
from dnalens.sae.quality import gate_loss_recovered


def test_init_cosine_hand_cases():
    init = torch.eye(6)
    assert init_cosine(init, init)["median"] == pytest.approx(1.0)
    # direction only: a decoder with the input scale folded in (rows x 3) has not moved
    assert init_cosine(3.0 * init, init)["median"] == pytest.approx(1.0)
    # rows permuted (a derangement): every latent points somewhere its init did not, cosine 0
    assert init_cosine(init[[1, 2, 3, 4, 5, 0]], init)["median"] == pytest.approx(0.0)
    # each row rotated 45 degrees towards its neighbour: cos 45 = 1/sqrt(2) for every row
    rotated = (init + init[[1, 2, 3, 4, 5, 0]]) / math.sqrt(2)
    assert init_cosine(rotated, init)["median"] == pytest.approx(1 / math.sqrt(2))
    # median over rows: 3 unmoved, 2 orthogonal -> 1; with an even count the two middle values are averaged
    mixed = torch.cat([init[:3], init[[4, 3]]])
    assert init_cosine(mixed, init[:5])["median"] == pytest.approx(1.0)
    assert init_cosine(torch.cat([init[:2], init[[3, 2]]]), init[:4])["median"] == pytest.approx(0.5)


def test_seed_agreement_hand_cases():
    a = torch.eye(16)[:8]
    assert seed_agreement(a, a)["share"] == 1.0
    assert seed_agreement(a, a[torch.randperm(8)])["share"] == 1.0  # matched by direction, not by index
    e = torch.eye(16)
    planted = torch.stack(
        [
            e[5],
            e[6],
            2.0 * e[7],  # three of a's latents, reordered and rescaled
            0.81 * e[0] + math.sqrt(1 - 0.81**2) * e[13],  # cos 0.81 with a[0]: counts
            0.79 * e[1] + math.sqrt(1 - 0.79**2) * e[14],  # cos 0.79 with a[1]: does not
            e[8],
            e[9],
            -e[2],  # orthogonal, and anti-parallel (cos -1) to a[2]
        ]
    )
    out = seed_agreement(a, planted)
    assert out["share"] == pytest.approx(4 / 8) and out["bar"] == 0.8
    # best cosines per latent of a: 0.81, 0.79, 0 (only -1 or 0 on offer), 0, 0, 1, 1, 1 -> median (0.79 + 0.81) / 2
    assert out["median_best_cosine"] == pytest.approx(0.80)


def test_best_match_cosines_match_brute_force_across_chunks():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(11, 5)), rng.normal(size=(7, 5))
    unit = lambda w: w / np.linalg.norm(w, axis=1, keepdims=True)  # noqa: E731
    expected = (unit(a) @ unit(b).T).max(axis=1)
    got = best_match_cosines(torch.from_numpy(a), torch.from_numpy(b), chunk=3)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError):
        best_match_cosines(torch.zeros(2, 3), torch.zeros(2, 4))


def test_health_flags_each_target_with_its_number():
    good = health(0.08, 0.02, 0.01, 0.3)
    assert good["pass"] is True and all(c["pass"] for c in good["checks"].values())
    assert good["checks"]["l0_per_d_in"] == {"value": 0.08, "bar": 0.1, "rule": "<=", "pass": True}
    # the demo SAE of 2026-12-04: L0 0.49 d_in, a third of latents dense, decoder still at its init
    old = health(0.49, 0.0, 0.34, 0.978)
    assert old["pass"] is False
    assert {k: c["pass"] for k, c in old["checks"].items()} == {
        "l0_per_d_in": False,
        "dead_fraction": True,
        "dense_fraction": False,
        "init_cosine_median": False,
    }
    # bars are inclusive except the init cosine's (must be clearly below)
    edge = health(0.1, 0.1, 0.05, 0.5)
    assert [c["pass"] for c in edge["checks"].values()] == [True, True, True, False]
    # without a saved initialisation that check cannot run: overall unknown unless another check fails
    assert health(0.05, 0.0, 0.0, None)["pass"] is None
    assert health(0.5, 0.0, 0.0, None)["pass"] is False
    strict = health(0.08, 0.02, 0.01, 0.3, HealthTargets(l0_per_d_in=0.05))
    assert strict["pass"] is False and strict["checks"]["l0_per_d_in"]["bar"] == 0.05


def test_dictionary_report_without_reference_says_why():
    metrics = {
        "l0": 6.4,
        "d_sae": 512,
        "n_tokens": 100,
        "dead_fraction": 0.0,
        "dense_fraction": 0.0,
        "dense_threshold": 0.1,
        "fvu": 0.2,
    }
    out = dictionary_report(metrics, 128, torch.eye(4), {}, unit="row")
    assert out["l0_per_d_in"] == pytest.approx(0.05) and out["init_cosine_median"] is None
    assert out["seed_agreement"] is None and "dnalens_dictionary.safetensors" in out["note"]
    assert out["health"]["pass"] is None
    moved = dictionary_report(
        metrics,
        128,
        torch.eye(4),
        {"W_dec_init": torch.eye(4)[[1, 2, 3, 0]], "W_dec_replicate": torch.eye(4)},
        unit="row",
    )
    assert moved["init_cosine_median"] == pytest.approx(0.0) and moved["seed_agreement"] == 1.0
    assert moved["health"]["pass"] is True and "note" not in moved


def test_loss_recovered_is_withheld_when_ablation_barely_matters():
    ce = {"ce_clean": 1.3371, "ce_sae": 1.3351, "ce_zero": 1.3696, "loss_recovered": 1.0615}
    gated = gate_loss_recovered(ce, 0.1)
    assert gated["loss_recovered"] is None and gated["ablation_gap"] == pytest.approx(0.0325)
    assert "+0.0325" in gated["loss_recovered_note"] and gated["ce_sae"] == 1.3351
    big = {"ce_clean": 1.0, "ce_sae": 1.05, "ce_zero": 1.5, "loss_recovered": 0.9}
    assert gate_loss_recovered(big, 0.1)["loss_recovered"] == 0.9
    assert "loss_recovered_note" not in gate_loss_recovered(big, 0.5)  # the bar is inclusive
    assert gate_loss_recovered(ce, None)["loss_recovered"] == 1.0615  # no bar: always reported
    negative = {**ce, "ce_zero": 1.30}
    assert gate_loss_recovered(negative, 0.0)["loss_recovered"] is None  # ablation helps: no gap to recover


def test_training_records_its_seeded_init_and_a_planted_dictionary_is_found_by_both_seeds():
    """On data built from 48 known directions the trained decoder leaves its initialisation and two
    seeds find the same latents; the recorded init is the seeded one, untouched by training."""
    from dnalens.sae.synthetic import sparse_dictionary_data
    from dnalens.sae.training import finalize, train_sae

    torch.set_num_threads(1)
    x = torch.from_numpy(sparse_dictionary_data(16384, 32, 48, mean_active=3, exponent=0.5, seed=0).activations)

    def batches(seed):
        g = torch.Generator().manual_seed(seed)
        while True:
            order = torch.randperm(len(x), generator=g)
            for i in range(0, len(x) - 1024 + 1, 1024):
                yield x[order[i : i + 1024]]

    decoders = []
    for seed in (0, 1):
        settings = unit_settings(
            architecture="batchtopk",
            expansion=2,
            k=3,
            lr=3e-3,
            tokens=700_000,
            batch_size=1024,
            dead_after_tokens=20_000,
            device="cpu",
            seed=seed,
        )
        result = train_sae(batches(seed), 32, settings, progress=False)
        init = torch.randn(64, 32, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(result.init_W_dec, init / init.norm(dim=1, keepdim=True))
        decoders.append(finalize(result).W_dec)
        assert init_cosine(decoders[-1], result.init_W_dec)["median"] < 0.5
    assert seed_agreement(*decoders)["share"] >= 0.5
