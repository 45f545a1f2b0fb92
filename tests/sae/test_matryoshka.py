"""Matryoshka BatchTopK: the nested-prefix loss against a brute-force sum, its effect on a planted
parent/child dictionary (absorption), saving in BatchTopK's inference form, resume."""

import json

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.errors import InputError
from dnalens.sae.io import load_sae, save_sae
from dnalens.sae.jumprelu import JumpReLUSAE
from dnalens.sae.matryoshka import MatryoshkaBatchTopKSAE, check_widths, default_widths
from dnalens.sae.training import build_sae, finalize, train_sae


def test_prefix_loss_equals_brute_force_sum_of_masked_decodes():
    torch.manual_seed(0)
    sae = MatryoshkaBatchTopKSAE(6, 20, k=4, widths=[3, 8])
    with torch.no_grad():
        sae.b_dec.normal_()
    x = torch.randn(11, 6)
    codes = sae.activate(sae.pre_activations(x))
    loss, recon = sae.training_loss(codes, x)
    expected = 0.0
    for width in (3, 8, 20):
        masked = codes.clone()
        masked[:, width:] = 0
        expected += float(((sae.decode(masked) - x) ** 2).sum(-1).mean().detach())
    assert sae.widths == (3, 8, 20)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(recon, sae.decode(codes), rtol=1e-5, atol=1e-6)


def test_widths_default_and_checks():
    assert default_widths(2048) == (64, 256, 1024, 2048)
    assert default_widths(8) == (1, 4, 8)
    assert check_widths([4, 16], 32) == (4, 16, 32)
    for bad in ([0, 4], [8, 4], [4, 40]):
        with pytest.raises(ValueError):
            check_widths(bad, 32)
    with pytest.raises(InputError, match="matryoshka_widths"):
        unit_settings(architecture="matryoshka_batchtopk", matryoshka_widths=[16, 8])
    sae = build_sae(unit_settings(architecture="matryoshka_batchtopk", expansion=4, k=2, matryoshka_widths=[4, 16]), 8)
    assert isinstance(sae, MatryoshkaBatchTopKSAE) and sae.widths == (4, 16, 32)


def _parent_child_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A parent direction on 60 % of rows, always with one of 8 children (each child only with its
    parent), plus 16 independent features at 15 % each, in 32 dimensions: with k = 3 the budget is
    tight (3.6 directions per row on average), the case where a flat SAE absorbs the parent into
    parent+child latents (Chanin et al. 2024) and no latent tracks the parent alone."""
    rng = np.random.default_rng(seed)
    d, n_child, n_ind = 32, 8, 16
    dirs = np.linalg.qr(rng.normal(size=(d, d)))[0][: 1 + n_child + n_ind]
    parent = rng.random(n) < 0.6
    child = rng.integers(0, n_child, n)
    x = np.zeros((n, d))
    x[parent] += dirs[0] * rng.uniform(0.5, 1.5, parent.sum())[:, None]
    x[parent] += dirs[1 + child[parent]] * rng.uniform(0.5, 1.5, parent.sum())[:, None]
    independent = rng.random((n, n_ind)) < 0.15
    x += (independent * rng.uniform(0.5, 1.5, (n, n_ind))) @ dirs[1 + n_child :]
    x += 0.01 * rng.normal(size=x.shape)
    return x.astype(np.float32), parent


def _best_auroc_for(codes: np.ndarray, target: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return max(roc_auc_score(target, codes[:, j]) for j in range(codes.shape[1]) if codes[:, j].any())


def test_matryoshka_keeps_a_parent_latent_that_a_flat_sae_absorbs():
    torch.set_num_threads(1)
    x, parent = _parent_child_data(20000, 0)
    xt = torch.from_numpy(x)

    def batches():
        g = torch.Generator().manual_seed(1)
        while True:
            order = torch.randperm(len(xt), generator=g)
            for i in range(0, len(xt) - 511, 512):
                yield xt[order[i : i + 512]]

    best = {}
    for arch, widths in (("batchtopk", None), ("matryoshka_batchtopk", [4, 16])):
        s = unit_settings(
            architecture=arch,
            expansion=2,
            k=3,
            lr=3e-3,
            tokens=512 * 600,
            batch_size=512,
            dead_after_tokens=20_000,
            device="cpu",
            seed=0,
            matryoshka_widths=widths,
        )
        sae = finalize(train_sae(batches(), 32, s, progress=False))
        with torch.no_grad():
            best[arch] = _best_auroc_for(sae.encode(xt).numpy(), parent)
    # measured: flat 0.56, Matryoshka 0.76 (the first 4 latents must reconstruct alone, so one of
    # them is the parent direction)
    assert best["batchtopk"] < 0.62, best
    assert best["matryoshka_batchtopk"] > best["batchtopk"] + 0.15, best


def test_saves_as_jumprelu_with_widths_in_metadata_and_resumes(tmp_path):
    x = torch.randn(4096, 8, generator=torch.Generator().manual_seed(0))

    def batches():
        while True:
            for i in range(0, 4096, 256):
                yield x[i : i + 256]

    s = unit_settings(
        architecture="matryoshka_batchtopk",
        expansion=4,
        k=2,
        tokens=256 * 20,
        batch_size=256,
        checkpoint_every=6,
        device="cpu",
        matryoshka_widths=[4, 8],
    )
    whole = train_sae(batches(), 8, s, progress=False)
    ckpt = tmp_path / "ckpt"
    train_sae(batches(), 8, s, checkpoint_dir=ckpt, progress=False, stop_after=7)
    resumed = train_sae(batches(), 8, s, checkpoint_dir=ckpt, progress=False)
    assert resumed.start_step == 7  # a stop checkpoints too
    for name, value in whole.sae.state_dict().items():
        torch.testing.assert_close(resumed.sae.state_dict()[name], value, rtol=0, atol=0, msg=name)
    sae = finalize(whole)
    save_sae(sae, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "cfg.json").read_text())
    assert cfg["architecture"] == "jumprelu"
    assert cfg["metadata"]["dnalens"]["type"] == "matryoshka_batchtopk"
    assert cfg["metadata"]["dnalens"]["matryoshka_widths"] == [4, 8, 32]
    back = load_sae(tmp_path / "m")
    assert isinstance(back, JumpReLUSAE)
    torch.testing.assert_close(back.encode(x[:100]), sae.encode(x[:100]))
