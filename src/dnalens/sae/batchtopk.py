"""BatchTopK SAE (Bussmann et al. 2024): keep the k x n_rows largest ReLU'd pre-activations of the batch.

Training spends the sparsity budget where the batch needs it (rows may use more or fewer than k).
For inference the batch dependence is removed with one global threshold, an exponential moving
average of the smallest kept value during training; SAELens saves such an SAE as `jumprelu` with that
threshold, and so do we. Without a threshold (Goodfire's Evo 2 SAE) encode stays batch-level: the
top k x n_positions values over the whole input given to `encode`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from dnalens.sae.base import SparseAutoencoder


def batch_topk(pre: torch.Tensor, k: int) -> torch.Tensor:
    """ReLU, then keep the k * n_rows largest values over all rows (leading dims are rows)."""
    acts = pre.relu()
    flat = acts.reshape(-1)
    n_rows = flat.numel() // max(acts.shape[-1], 1)
    keep = min(int(k) * n_rows, flat.numel())
    cutoff = _cutoff(flat, keep)
    if cutoff is not None:
        return acts.masked_fill(acts < cutoff, 0.0)
    top = flat.topk(keep, sorted=False)
    return torch.zeros_like(flat).scatter_(0, top.indices, top.values).reshape(acts.shape)


def _cutoff(flat: torch.Tensor, keep: int) -> float | None:
    """The keep-th largest value of `flat` when exactly `keep` values are at or above it, else None.

    Why: on CPU torch.topk over a batch's codes (1,024 x 512 in the demo) was a fifth of a training
    step; numpy's two-kth partition finds the cut-off in a fraction of that, and keeping every value at or
    above it selects what topk selects, value for value and gradient for gradient. A tie across the cut
    (topk would pick some members of it) or a NaN gives None: the caller then runs topk itself."""
    if flat.device.type != "cpu" or flat.dtype != torch.float32 or not 0 < keep < flat.numel():
        return None
    a = flat.detach().numpy()
    # Partition only the values at or above a cut-off guessed low from every 16th value: exact whenever
    # more than `keep` values pass it (the keep + 1 largest are then all among them); else the whole array.
    stride = 16
    sample = a[::stride]
    guess_rank = min(sample.size - 1, 2 * (keep // stride) + 64)
    low = np.partition(sample, sample.size - 1 - guess_rank)[sample.size - 1 - guess_rank]
    top = a[~(a < low)]  # NaN included: topk counts it among the largest
    if top.size <= keep:
        top = a
    n = top.size
    part = np.partition(top, [n - keep - 1, n - keep])
    below, kth = part[n - keep - 1], part[n - keep]
    if not kth > below or np.isnan(part[n - keep :]).any():
        return None
    return float(kth)


class BatchTopKSAE(SparseAutoencoder):
    architecture = "batchtopk"
    trainable = True
    needs_k = True

    def __init__(self, d_in: int, d_sae: int, *, k: int, threshold: float | None = None, **kwargs) -> None:
        if k is None or int(k) < 1:
            raise ValueError("a BatchTopK SAE needs k >= 1")
        super().__init__(d_in, d_sae, k=int(k), **kwargs)
        # NaN = not estimated yet; float64 as the EMA adds tiny increments for many steps.
        value = float("nan") if threshold is None else float(threshold)
        self.register_buffer("threshold", torch.tensor(value, dtype=torch.float64))

    @property
    def has_threshold(self) -> bool:
        return not bool(torch.isnan(self.threshold))

    @property
    def batch_dependent(self) -> bool:  # type: ignore[override]
        return self.training or not self.has_threshold

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.training or not self.has_threshold:
            return batch_topk(pre, self.k)
        return pre * (pre > self.threshold.to(pre.dtype))

    @torch.no_grad()
    def batch_view(self, pre_chunks: Iterable[torch.Tensor], n_rows: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The k x n-th largest ReLU'd pre-activation of the batch and the latents at or above it, from a
        running top-(k x n) of (value, latent) candidates: an entry of the batch's top is in its micro-batch's top."""
        if not self.batch_dependent:
            return super().batch_view(pre_chunks, n_rows)
        keep = min(int(self.k) * n_rows, n_rows * self.d_sae)
        values = latents = None
        for pre in pre_chunks:
            top = pre.relu().reshape(-1).topk(min(keep, pre.numel()), sorted=False)
            found = top.indices % self.d_sae
            values = top.values if values is None else torch.cat([values, top.values])
            latents = found if latents is None else torch.cat([latents, found])
            if values.numel() > keep:
                best = values.topk(keep, sorted=False).indices
                values, latents = values[best], latents[best]
        cutoff = values.min()
        fired = torch.zeros(self.d_sae, dtype=torch.bool, device=values.device)
        fired[latents[(values >= cutoff) & (values > 0)]] = True
        return fired, cutoff

    def activate_in_batch(self, pre: torch.Tensor, cutoff: torch.Tensor | None) -> torch.Tensor:
        if cutoff is None:
            return self.activate(pre)
        acts = pre.relu()  # every ReLU'd value at or above the batch's cut-off: the whole batch's top k x n
        return acts.masked_fill(acts < cutoff, 0.0)

    def after_step(self, smallest_code: torch.Tensor | None) -> None:
        if smallest_code is not None:
            self.update_threshold(smallest_code.reshape(1))

    @torch.no_grad()
    def update_threshold(self, codes: torch.Tensor, rate: float = 0.01) -> None:
        """EMA of the smallest kept (positive) value; the first batch sets it directly."""
        positive = codes[codes > 0]
        if positive.numel() == 0:
            return
        smallest = positive.min().to(torch.float64)
        if not self.has_threshold:
            self.threshold.copy_(smallest)
        else:
            self.threshold.mul_(1 - rate).add_(rate * smallest)

    def saelens_architecture(self) -> str:
        # SAELens' inference form of a trained BatchTopK SAE is JumpReLU with the learned threshold.
        return "jumprelu" if self.has_threshold else "batchtopk"

    def weights_for_saving(self) -> dict[str, torch.Tensor]:
        weights = super().weights_for_saving()
        if self.has_threshold:
            weights["threshold"] = torch.full_like(self.b_enc.detach(), float(self.threshold))
        return weights

    @torch.no_grad()
    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        super().load_weights(state)
        if "threshold" in state:
            values = state["threshold"].reshape(-1)
            if values.numel() and not torch.allclose(values, values[0].expand_as(values)):
                raise ValueError("a BatchTopK SAE has one global threshold; load per-latent ones as jumprelu")
            self.threshold.fill_(float(values[0]))
