"""TopK SAE (Gao et al. 2024): keep the k largest pre-activations of each token, then ReLU.

Sparsity is exact per token (L0 <= k), so no L1 penalty and no shrinkage of the kept values.
"""

from __future__ import annotations

import numpy as np
import torch

from dnalens.sae.base import SparseAutoencoder


def topk_per_row(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Zero all but the k largest entries of each row (last dim), ReLU on the kept ones."""
    k = min(int(k), pre.shape[-1])
    top = pre.topk(k, dim=-1, sorted=False)
    return torch.zeros_like(pre).scatter_(-1, top.indices, top.values.relu())


def topk_picks(pre: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(columns [n, k] ascending, their pre-activations [n, k]): the picks of `pre.topk(k)` per row of
    `pre` [n, d], ties and NaN included. Why not always torch.topk: on CPU it is about half of the fused
    path's encode time; numpy's one-kth (SIMD) partition finds the same picks in half that, and the rows
    where the two could differ (a tie at the k-th value, a NaN) are redone with torch.topk."""
    k = min(int(k), pre.shape[-1])
    if pre.device.type == "cpu" and pre.dtype == torch.float32 and pre.dim() == 2 and k < pre.shape[-1]:
        return _numpy_picks(pre.detach(), k)
    return _torch_picks(pre, k)


def _torch_picks(pre: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    top = pre.topk(k, dim=-1, sorted=False)
    cols, order = top.indices.sort(dim=-1)
    return cols, top.values.gather(-1, order)


def _numpy_picks(pre: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`_torch_picks` on CPU float32 via np.argpartition; exact: with no tie between the k-th and the
    (k+1)-th largest value the k largest are one set, whoever selects them."""
    a = pre.numpy()
    d = a.shape[1]
    part = np.argpartition(a, d - k - 1, axis=1)  # [:, d-k-1]: the (k+1)-th largest; after it the k largest
    cols = np.sort(part[:, d - k :], axis=1)
    vals = np.take_along_axis(a, cols, axis=1)
    kth = vals.min(axis=1)  # NaN if a NaN was picked (numpy orders NaN last, as torch.topk picks it first)
    below = np.take_along_axis(a, part[:, d - k - 1 : d - k], axis=1)[:, 0]
    redo = np.flatnonzero(~(kth > below))  # a tie at the k-th value (numpy may pick another member), or NaN
    if len(redo):
        c, v = _torch_picks(pre[torch.from_numpy(redo)], k)
        cols[redo], vals[redo] = c.numpy(), v.numpy()
    return torch.from_numpy(cols), torch.from_numpy(vals)


class TopKSAE(SparseAutoencoder):
    architecture = "topk"
    trainable = True
    needs_k = True

    def __init__(self, d_in: int, d_sae: int, *, k: int, **kwargs) -> None:
        if k is None or int(k) < 1:
            raise ValueError("a TopK SAE needs k >= 1")
        super().__init__(d_in, d_sae, k=int(k), **kwargs)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return topk_per_row(pre, self.k)
