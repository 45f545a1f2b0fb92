"""Standard (ReLU, L1-trained) SAE, inference only: SAELens' `standard` architecture."""

from __future__ import annotations

import torch

from dnalens.sae.base import SparseAutoencoder


class ReLUSAE(SparseAutoencoder):
    architecture = "standard"

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return pre.relu()
