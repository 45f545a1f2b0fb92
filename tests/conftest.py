"""Fixtures shared by every test package: where the repository and its bundled genomes are."""

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
