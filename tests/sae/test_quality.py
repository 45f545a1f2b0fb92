"""Quality metrics against direct numpy computations; loss recovered through a tiny torch model."""

import numpy as np
import pytest
import torch
from torch import nn

from dnalens.sae.quality import loss_recovered, reconstruction_quality, sae_replacement
from dnalens.sae.standard import ReLUSAE
from dnalens.sae.topk import TopKSAE


def test_reconstruction_metrics_match_numpy():
    torch.manual_seed(0)
    sae = TopKSAE(6, 20, k=2)
    with torch.no_grad():
        sae.b_enc.copy_(torch.linspace(-3, 0.5, 20))  # some latents can never win -> dead
    x = torch.randn(500, 6) * 2 + 1
    metrics = reconstruction_quality(sae, x.split(64))
    codes = sae.encode(x).detach().numpy()
    recon = sae.decode(sae.encode(x)).detach().numpy()
    xn = x.numpy().astype(np.float64)
    err = ((recon - xn) ** 2).sum()
    assert metrics["n_tokens"] == 500
    assert metrics["mse"] == pytest.approx(err / xn.size, rel=1e-5)
    assert metrics["fvu"] == pytest.approx(err / ((xn - xn.mean(0)) ** 2).sum(), rel=1e-5)
    assert metrics["l0"] == pytest.approx((codes > 0).sum(1).mean())
    rate = (codes > 0).mean(0)
    assert metrics["dead_latents"] == int((rate == 0).sum()) > 0
    assert metrics["dense_latents"] == int((rate > 0.1).sum()) > 0
    assert metrics["dead_fraction"] == pytest.approx(metrics["dead_latents"] / 20)


class TinyLM(nn.Module):
    """Embedding -> hidden layer (the spliced one) -> next-token logits."""

    def __init__(self, vocab=4, d=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.layer = nn.Linear(d, d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        return self.head(torch.tanh(self.layer(self.embed(ids))))


def _spliced_loss_for(model, ids):
    """What a model adapter's spliced_loss does: run with the layer output replaced, mean next-token CE."""

    def spliced_loss(replace):
        handle = None
        if replace is not None:
            handle = model.layer.register_forward_hook(lambda mod, inp, out: replace(out))
        try:
            with torch.no_grad():
                logits = model(ids)
        finally:
            if handle is not None:
                handle.remove()
        return float(nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 4), ids[:, 1:].reshape(-1)))

    return spliced_loss


def _identity_sae(d):
    """ReLU SAE with latents +e_i and -e_i: reconstructs any input exactly."""
    sae = ReLUSAE(d, 2 * d)
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], 1))
        sae.W_dec.copy_(torch.cat([eye, -eye], 0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


def _trained_tiny_lm():
    """A TinyLM that has learned the cycle 0 1 2 3 (so damaging its layer raises the loss)."""
    torch.manual_seed(0)
    model = TinyLM()
    ids = (torch.arange(40)[None, :] + torch.arange(3)[:, None]) % 4
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(ids)[:, :-1].reshape(-1, 4), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, ids


def test_loss_recovered_bounds_and_partial_value():
    model, ids = _trained_tiny_lm()
    spliced = _spliced_loss_for(model, ids)
    perfect = loss_recovered(spliced, _identity_sae(8))
    assert perfect["loss_recovered"] == pytest.approx(1.0, abs=1e-6)
    assert perfect["ce_sae"] == pytest.approx(perfect["ce_clean"], abs=1e-6)
    useless = _identity_sae(8)
    with torch.no_grad():
        useless.W_dec.zero_()
    assert loss_recovered(spliced, useless)["loss_recovered"] == pytest.approx(0.0, abs=1e-6)
    # a lossy SAE: keep one of 16 directions per token; expected value computed by hand from the CEs
    lossy = TopKSAE(8, 16, k=1)
    with torch.no_grad():
        lossy.W_enc.copy_(_identity_sae(8).W_enc)
        lossy.W_dec.copy_(_identity_sae(8).W_dec)
        lossy.b_dec.zero_()
    out = loss_recovered(spliced, lossy)
    hand = 1 - (out["ce_sae"] - out["ce_clean"]) / (out["ce_zero"] - out["ce_clean"])
    assert out["loss_recovered"] == pytest.approx(hand)
    assert out["ce_clean"] < out["ce_sae"] and 0.0 < out["loss_recovered"] < 1.0


def test_replacement_keeps_trimmed_positions_and_encodes_each_sequence():
    sae = _identity_sae(4)
    with torch.no_grad():
        sae.W_dec.mul_(0.5)
    acts = torch.randn(2, 10, 4)
    out = sae_replacement(sae, trim=3)(acts)
    torch.testing.assert_close(out[:, :3], acts[:, :3])
    torch.testing.assert_close(out[:, 3:], acts[:, 3:] * 0.5)
