"""Shared fixtures: a tiny randomly initialised model directory (never the shipped checkpoint)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    import torch

    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir

    torch.manual_seed(0)
    model = TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr", "li", "att"), mlp_ratio=2.0, medium_kernel=16))
    out = tmp_path_factory.mktemp("tiny_model")
    save_model_dir(model, out)
    return out
