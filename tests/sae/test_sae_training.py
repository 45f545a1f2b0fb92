"""Training recovers a known sparse dictionary; resume equals an uninterrupted run; AuxK targets dead latents."""

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.errors import InputError
from dnalens.sae.synthetic import matched_cosine, sparse_dictionary_data
from dnalens.sae.topk import TopKSAE
from dnalens.sae.train_step import auxk_loss
from dnalens.sae.training import finalize, geometric_median, train_sae


def _batches(x: torch.Tensor, batch_size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - batch_size + 1, batch_size):
            yield x[order[i : i + batch_size]]


@pytest.mark.parametrize("architecture", ["topk", "batchtopk"])
def test_recovers_known_dictionary(architecture):
    torch.set_num_threads(1)
    data = sparse_dictionary_data(16384, 32, 48, mean_active=3, exponent=0.5, seed=0)
    x = torch.from_numpy(data.activations)
    settings = unit_settings(
        architecture=architecture,
        expansion=4,
        k=3,
        lr=3e-3,
        tokens=300_000,
        batch_size=1024,
        dead_after_tokens=20_000,
        device="cpu",
        seed=0,
    )
    sae = finalize(train_sae(_batches(x, 1024, 0), 32, settings, progress=False))
    cosines = matched_cosine(data.directions, sae.W_dec.numpy())
    assert cosines.mean() >= 0.9, cosines
    # decoder rows stay unit-norm up to the folded input scale (one factor for all rows)
    norms = sae.W_dec.norm(dim=1)
    torch.testing.assert_close(norms, norms.mean().expand_as(norms), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        fvu = float(((sae(x) - x) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())
    assert fvu < 0.25


def test_resume_matches_uninterrupted_run(tmp_path):
    data = sparse_dictionary_data(4096, 16, 24, seed=3)
    x = torch.from_numpy(data.activations)
    settings = unit_settings(
        architecture="batchtopk",
        expansion=2,
        k=2,
        lr=1e-3,
        tokens=256 * 40,
        batch_size=256,
        dead_after_tokens=512,
        checkpoint_every=7,
        device="cpu",
        seed=5,
    )
    whole = train_sae(_batches(x, 256, 1), 16, settings, progress=False)
    ckpt = tmp_path / "ckpt"
    train_sae(_batches(x, 256, 1), 16, settings, checkpoint_dir=ckpt, progress=False, stop_after=17)
    resumed = train_sae(_batches(x, 256, 1), 16, settings, checkpoint_dir=ckpt, progress=False)
    assert resumed.steps == whole.steps == 40
    assert (whole.start_step, resumed.start_step) == (0, 17)
    for name, value in whole.sae.state_dict().items():
        torch.testing.assert_close(resumed.sae.state_dict()[name], value, rtol=0, atol=0, msg=name)
    changed = unit_settings(**{**settings.__dict__, "k": 3})
    with pytest.raises(InputError, match="different settings"):
        train_sae(_batches(x, 256, 1), 16, changed, checkpoint_dir=ckpt, progress=False)


def test_auxk_loss_only_trains_dead_latents():
    torch.manual_seed(0)
    sae = TopKSAE(8, 16, k=2)
    x = torch.randn(32, 8)
    pre = sae.pre_activations(x)
    residual = torch.randn(32, 8)
    none_dead = torch.zeros(16, dtype=torch.bool)
    assert float(auxk_loss(pre, none_dead, residual, sae, 4)) == 0.0
    dead = torch.zeros(16, dtype=torch.bool)
    dead[[1, 5, 9]] = True
    loss = auxk_loss(pre, dead, residual, sae, 4)
    loss.backward()
    grad_cols = sae.W_enc.grad.abs().sum(0) > 0
    assert grad_cols[dead].any() and not grad_cols[~dead].any()


def test_geometric_median_matches_brute_force_and_resists_outliers():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    pts = np.vstack([rng.standard_normal((40, 3)), [[100.0, 100.0, 100.0]] * 5])
    got = geometric_median(torch.from_numpy(pts)).numpy()
    want = minimize(
        lambda m: np.linalg.norm(pts - m, axis=1).sum(),
        pts.mean(0),
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 5000},
    ).x
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert np.linalg.norm(got) < 2.0 < np.linalg.norm(pts.mean(0))


def test_empty_input_is_a_clear_error():
    with pytest.raises(InputError, match="no activations"):
        train_sae(iter([]), 8, unit_settings(device="cpu"), progress=False)
