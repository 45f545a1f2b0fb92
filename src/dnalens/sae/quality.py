"""SAE quality on held-out activations: MSE, FVU, L0, dead and dense latents, loss recovered (reported
only when zero-ablating the layer costs the model at least sae.min_ablation_gap nats/token).

Reconstruction metrics stream over batches (float64 sums, so large genomes fit in constant memory).
Loss recovered = 1 - (CE_sae - CE_clean) / (CE_zero - CE_clean): the model's next-token loss with the
layer output replaced by the SAE reconstruction, relative to replacing it by zeros. The model is
reached only through `spliced_loss(replace)` callables (a model adapter's `spliced_loss` with
sequences and layer bound), so this module knows no model.

Strand-pooled activations (a forward and a reverse-complement pass, concatenated or averaged) are
spliced pass by pass (`pooled_loss_recovered`): each pass gets its own layer output plus the SAE's
reconstruction error for its part, i.e. exactly its half of the reconstruction when concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from dnalens.sae.base import SparseAutoencoder

Replace = Callable[[torch.Tensor], torch.Tensor]
SplicedLoss = Callable[[Replace | None], float]
DENSE_FRACTION = 0.10  # a latent firing on more than 10 % of tokens is "dense"


@torch.no_grad()
def reconstruction_quality(
    sae: SparseAutoencoder,
    batches: Iterable[torch.Tensor],
    *,
    dense_fraction: float = DENSE_FRACTION,
) -> dict:
    """Metrics over all rows of `batches` (each [n, d_in], or (rows, bases) for a lookup SAE; a batch-level
    SAE sees one batch at a time)."""
    device = sae.W_enc.device
    n = 0
    sq_err = 0.0
    sum_x = torch.zeros(sae.d_in, dtype=torch.float64, device=device)
    sum_x2 = torch.zeros((), dtype=torch.float64, device=device)
    active = 0
    fires = torch.zeros(sae.d_sae, dtype=torch.long, device=device)
    for batch in batches:
        x, bases = batch if isinstance(batch, tuple) else (batch, None)
        x = x.to(device, torch.float32)
        if x.numel() == 0:
            continue
        codes = sae.encode(x, bases)
        recon = sae.decode(codes, bases)
        sq_err += float((recon.double() - x.double()).pow(2).sum())
        sum_x += x.double().sum(0)
        sum_x2 += x.double().pow(2).sum()
        on = codes > 0
        active += int(on.sum())
        fires += on.sum(0)
        n += x.shape[0]
    if n == 0:
        raise ValueError("no held-out activations to measure the SAE on")
    total_var = float(sum_x2 - sum_x.pow(2).sum() / n)
    fire_rate = fires.double() / n
    dead = int((fires == 0).sum())
    dense = int((fire_rate > dense_fraction).sum())
    return {
        "n_tokens": n,
        "mse": sq_err / (n * sae.d_in),
        "fvu": sq_err / total_var if total_var > 0 else float("nan"),
        "l0": active / n,
        "dead_latents": dead,
        "dead_fraction": dead / sae.d_sae,
        "dense_latents": dense,
        "dense_fraction": dense / sae.d_sae,
        "dense_threshold": dense_fraction,
        "d_sae": sae.d_sae,
    }


def sae_replacement(sae: SparseAutoencoder, trim: int = 0) -> Replace:
    """Layer output [..., seq, d] -> SAE reconstruction; the first `trim` positions keep the original.

    Each sequence is encoded on its own (a batch-level SAE's budget is per input, as in extraction).
    """

    @torch.no_grad()
    def replace(acts: torch.Tensor) -> torch.Tensor:
        out = acts.clone()
        flat_in = acts.reshape(-1, acts.shape[-2], acts.shape[-1]) if acts.ndim >= 2 else acts[None, None]
        flat_out = out.reshape(flat_in.shape)
        for row in range(flat_in.shape[0]):
            part = flat_in[row, trim:]
            if part.shape[0]:
                recon = sae.decode(sae.encode(part.to(sae.W_enc.device, sae.W_enc.dtype)))
                flat_out[row, trim:] = recon.to(out.device, out.dtype)
        return flat_out.reshape(acts.shape)

    return replace


def zero_replacement(trim: int = 0) -> Replace:
    def replace(acts: torch.Tensor) -> torch.Tensor:
        out = acts.clone()
        if acts.ndim >= 2:
            out[..., trim:, :] = 0
        else:
            out.zero_()
        return out

    return replace


def loss_recovered(spliced_loss: SplicedLoss, sae: SparseAutoencoder, *, trim: int = 0) -> dict:
    """CE with the clean layer, with the SAE reconstruction spliced in, and zero-ablated; and the score."""
    clean = float(spliced_loss(None))
    with_sae = float(spliced_loss(sae_replacement(sae, trim)))
    zero = float(spliced_loss(zero_replacement(trim)))
    gap = zero - clean
    recovered = 1.0 - (with_sae - clean) / gap if gap != 0 else float("nan")
    return {"ce_clean": clean, "ce_sae": with_sae, "ce_zero": zero, "loss_recovered": recovered}


@dataclass
class SplicePass:
    """One forward pass to splice: its loss callable, the token index (on the layer output's sequence
    axis, batch of one) of each replaced row, and the SAE's reconstruction error [rows, d] for them."""

    loss: SplicedLoss
    tokens: np.ndarray
    error: np.ndarray


def _at_tokens(tokens: np.ndarray, values: np.ndarray | None) -> Replace:
    """Layer output [1, T, d] -> a copy with `values` added at `tokens` (zeros put there when None)."""

    def replace(acts: torch.Tensor) -> torch.Tensor:
        out = acts.clone()
        index = torch.as_tensor(tokens, device=acts.device, dtype=torch.long)
        if values is None:
            out[..., index, :] = 0
        else:
            out[..., index, :] += torch.as_tensor(values, device=acts.device, dtype=acts.dtype)
        return out

    return replace


def pooled_loss_recovered(passes: Sequence[SplicePass]) -> dict:
    """Clean, SAE-spliced and zero-ablated CE averaged over passes, and the loss recovered."""
    if not passes:
        raise ValueError("no passes to splice")
    clean = float(np.mean([p.loss(None) for p in passes]))
    with_sae = float(np.mean([p.loss(_at_tokens(p.tokens, p.error)) for p in passes]))
    zero = float(np.mean([p.loss(_at_tokens(p.tokens, None)) for p in passes]))
    gap = zero - clean
    recovered = 1.0 - (with_sae - clean) / gap if gap != 0 else float("nan")
    return {"ce_clean": clean, "ce_sae": with_sae, "ce_zero": zero, "loss_recovered": recovered}


def gate_loss_recovered(result: dict, min_gap: float | None) -> dict:
    """`result` (clean / SAE / zero CE and loss_recovered) with the zero-ablation gap added, and loss
    recovered set to None with a `loss_recovered_note` when the gap is below `min_gap` nats/token: the
    ratio divides by the gap, so when ablating the layer barely hurts the model (the tiny demo model's
    blocks.6: 0.005-0.03 nats) it amplifies CE noise into values like 1.25 that say nothing about the SAE.
    `min_gap` None reports the ratio whatever the gap."""
    gap = result["ce_zero"] - result["ce_clean"]
    out = {**result, "ablation_gap": gap, "min_ablation_gap": min_gap}
    if min_gap is not None and not gap >= min_gap:
        out["loss_recovered"] = None
        out["loss_recovered_note"] = (
            f"not meaningful: zero-ablating the layer changes the loss by {gap:+.4f} "
            f"nats/token (< sae.min_ablation_gap {min_gap:g}); compare ce_sae with ce_clean "
            f"instead"
        )
    return out
