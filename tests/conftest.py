"""Fixtures shared by every test package: where the repository and its bundled genomes are, and a tiny
randomly initialised model directory (never the shipped checkpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GENOMES = REPO / "resources" / "genomes"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def genomes_dir() -> Path:
    """resources/genomes: NC_000932.gb (chloroplast), NC_005816.gb (Yersinia plasmid), FASTA files."""
    return GENOMES


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A 4-block, 16-wide tiny model with seeded random weights, saved once per session."""
    import torch

    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir

    torch.manual_seed(0)
    model = TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr", "li", "att"), mlp_ratio=2.0, medium_kernel=16))
    out = tmp_path_factory.mktemp("tiny_model")
    save_model_dir(model, out)
    return out
