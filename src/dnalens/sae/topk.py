"""TopK SAE (Gao et al. 2024): keep the k largest pre-activations of each token, then ReLU.

Sparsity is exact per token (L0 <= k), so no L1 penalty and no shrinkage of the kept values.
"""

from __future__ import annotations

import torch

from dnalens.sae.base import SparseAutoencoder


def topk_per_row(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Zero all but the k largest entries of each row (last dim), ReLU on the kept ones."""
    k = min(int(k), pre.shape[-1])
    top = pre.topk(k, dim=-1, sorted=False)
    return torch.zeros_like(pre).scatter_(-1, top.indices, top.values.relu())


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
