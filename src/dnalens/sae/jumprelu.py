"""JumpReLU SAE (inference only): a latent fires where its pre-activation exceeds its own threshold.

This is the form SAELens (and dnalens) save a trained BatchTopK SAE in, and what Gemma Scope uses.
"""

from __future__ import annotations

import torch

from dnalens.sae.base import SparseAutoencoder


class JumpReLUSAE(SparseAutoencoder):
    architecture = "jumprelu"

    def __init__(self, d_in: int, d_sae: int, **kwargs) -> None:
        super().__init__(d_in, d_sae, **kwargs)
        self.register_buffer("threshold", torch.zeros(d_sae, dtype=self.W_enc.dtype))

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return pre.relu() * (pre > self.threshold)

    def weights_for_saving(self) -> dict[str, torch.Tensor]:
        return {**super().weights_for_saving(), "threshold": self.threshold.detach()}

    @torch.no_grad()
    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        super().load_weights(state)
        self.threshold.copy_(state["threshold"].to(self.threshold.dtype).reshape(-1))
