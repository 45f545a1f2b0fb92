"""The gradients of one SAE training step, whole or in micro-batches (when the whole batch is out of GPU memory).

Why micro-batches with gradient accumulation rather than a smaller batch: a smaller batch changes the
optimisation (more steps, noisier gradients, another learning-rate schedule), so an out-of-memory retry
would train a different SAE. Split into micro-batches, the step computes the same loss as the whole
batch: every batch-level quantity is found over the whole batch first, in a pass without gradients
(which latents fired, hence which are dead for the AuxK loss; for BatchTopK the value of the k x n-th
largest activation, the batch's cut-off), then each micro-batch's loss, weighted by its share of rows,
is back-propagated. Codes are identical; gradients differ from the whole batch's only by the order
of float summation (tests/reliability/test_oom.py measures how close the trained SAEs stay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dnalens.sae.base import SparseAutoencoder


def auxk_loss(
    pre: torch.Tensor, dead: torch.Tensor, residual: torch.Tensor, sae: SparseAutoencoder, k_aux: int
) -> torch.Tensor:
    """How well the top-k_aux dead latents reconstruct what the live ones missed (0 with none dead)."""
    n_dead = int(dead.sum())
    if n_dead == 0:
        return pre.new_zeros(())
    k_aux = min(k_aux, n_dead)
    masked = torch.where(dead[None, :], pre, torch.full_like(pre, -math.inf))
    top = masked.topk(k_aux, dim=-1, sorted=False)
    codes = torch.zeros_like(pre).scatter_(-1, top.indices, top.values.relu())
    aux_recon = codes @ sae.W_dec
    # Scaled down when few latents are dead, as in Gao et al.'s appendix B.1.
    return (aux_recon - residual).pow(2).sum(-1).mean() * min(n_dead / k_aux, 1.0)


@dataclass
class StepResult:
    """What the trainer needs once the gradients are in place: nothing is changed before the step succeeds."""

    since_fired: torch.Tensor  # tokens since each latent fired, after this batch
    dead: torch.Tensor
    mse: torch.Tensor
    aux: torch.Tensor
    l0: torch.Tensor
    smallest_code: torch.Tensor | None  # smallest positive code (BatchTopK's threshold EMA); None if none


def step_gradients(
    sae: SparseAutoencoder,
    x: torch.Tensor,
    bases: torch.Tensor | None,
    since_fired: torch.Tensor,
    *,
    dead_after: int,
    aux_k_coef: float,
    k_aux: int,
    rows: int,
) -> StepResult:
    """Zero the gradients, then accumulate those of the step's loss on batch `x`, `rows` rows at a time."""
    for p in sae.parameters():
        p.grad = None
    if rows >= x.shape[0]:
        return _whole(sae, x, bases, since_fired, dead_after, aux_k_coef, k_aux)
    return _micro(sae, x, bases, since_fired, dead_after, aux_k_coef, k_aux, rows)


def _whole(sae, x, bases, since_fired, dead_after, aux_k_coef, k_aux) -> StepResult:
    pre = sae.pre_activations(x, bases)
    codes = sae.activate(pre)
    loss_recon, recon = sae.training_loss(codes, x, bases)
    residual = (x - recon).detach()
    mse = residual.pow(2).sum(-1).mean()
    active = codes.detach() > 0  # one mask for fired latents, L0 and the smallest code
    fired = active.any(dim=0)
    since = torch.where(fired, 0, since_fired + x.shape[0])
    dead = since >= dead_after
    aux = auxk_loss(pre, dead, residual, sae, k_aux)
    (loss_recon + aux_k_coef * aux).backward()
    return StepResult(
        since,
        dead,
        mse.detach(),
        aux.detach(),
        active.sum(-1).float().mean(),
        codes.detach().masked_fill(~active, math.inf).amin() if bool(fired.any()) else None,
    )


def _spans(n: int, rows: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + rows)) for a in range(0, n, rows)]


@torch.no_grad()
def _batch_view(sae, x, bases, rows) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(latents that fire anywhere in the batch, the batch's cut-off or None), micro-batch by micro-batch."""
    chunks = (sae.pre_activations(x[a:b], None if bases is None else bases[a:b]) for a, b in _spans(x.shape[0], rows))
    return sae.batch_view(chunks, x.shape[0])


def _micro(sae, x, bases, since_fired, dead_after, aux_k_coef, k_aux, rows) -> StepResult:
    n = x.shape[0]
    fired, cutoff = _batch_view(sae, x, bases, rows)
    since = since_fired + n
    since[fired] = 0
    dead = since >= dead_after
    mse = x.new_zeros(())
    aux_total = x.new_zeros(())
    l0 = x.new_zeros(())
    smallest = None
    for a, b in _spans(n, rows):
        xb, bb = x[a:b], None if bases is None else bases[a:b]
        pre = sae.pre_activations(xb, bb)
        codes = sae.activate_in_batch(pre, cutoff)
        loss_recon, recon = sae.training_loss(codes, xb, bb)
        residual = (xb - recon).detach()
        aux = auxk_loss(pre, dead, residual, sae, k_aux)
        share = (b - a) / n  # each loss is a mean over its rows: weighted, they sum to the batch's mean
        ((loss_recon + aux_k_coef * aux) * share).backward()
        mse += residual.pow(2).sum(-1).sum() / n
        aux_total += aux.detach() * share
        l0 += (codes > 0).sum() / n
        positive = codes.detach()[codes.detach() > 0]
        if positive.numel():
            smallest = positive.min() if smallest is None else torch.minimum(smallest, positive.min())
    return StepResult(since, dead, mse, aux_total, l0, smallest)
