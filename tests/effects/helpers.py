"""Synthetic inputs for the effects tests: a random ReLU SAE and a hand-built hooked forward pass."""

from __future__ import annotations

import math

import numpy as np
import torch

from dnalens.models.interventions import BASES
from dnalens.models.tokenizer import encode
from dnalens.sae.standard import ReLUSAE


def relu_sae(d_in: int, d_sae: int, *, seed: int = 0, scale: float = 3.0, bias: float = 0.0) -> ReLUSAE:
    """A ReLU SAE with seeded random weights; decoder rows of norm `scale` (long writes: visible effects)."""
    torch.manual_seed(seed)
    sae = ReLUSAE(d_in, d_sae)
    with torch.no_grad():
        sae.W_dec.mul_(scale)
        sae.W_enc.mul_(2.0)
        sae.b_enc.fill_(bias)
    return sae.eval()


def random_seq(n: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list(BASES), n))


def hooked_pass(model, layer: str, seq: str, edits: dict[int, torch.Tensor] | None = None):
    """(layer output [T, d], ln P(observed base) [T], row p = base p given bases < p) of one plain forward pass
    with `edits` (token -> vector) subtracted from the layer's output by a torch forward hook."""
    captured = {}

    def hook(module, inputs, output):
        x = output[0].clone()
        captured["x"] = x[0].detach().clone()
        for token, vector in (edits or {}).items():
            x[0, token] -= vector
        return (x, *output[1:])

    handle = model.get_submodule(layer).register_forward_hook(hook)
    try:
        with torch.no_grad():
            logits = model(torch.from_numpy(encode(seq)).long()[None])
    finally:
        handle.remove()
    logp = torch.log_softmax(logits[0].float(), -1).numpy()
    ids = encode(seq)
    ll = np.full(len(seq), np.nan)
    ll[1:] = logp[np.arange(len(seq) - 1), ids[1:]]
    return captured["x"], ll


def mean_delta_bits(ll_edit: np.ndarray, ll_clean: np.ndarray, made_at: np.ndarray) -> float:
    """Mean Δ cross-entropy (bits) of the predictions made at pass positions `made_at` (of the next base)."""
    nxt = made_at + 1
    nxt = nxt[nxt < ll_clean.size]
    return float(np.mean(-(ll_edit[nxt] - ll_clean[nxt]) / math.log(2)))
