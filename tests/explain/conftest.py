"""A tiny random model read on both strands and a small strand-shared TopK SAE with a trinucleotide lookup:
the demo's dictionary shape (codes [own strand | opposite strand], lookup bases) at test size."""

from __future__ import annotations

import pytest
import torch

LAYER = "blocks.2"


@pytest.fixture(scope="module")
def adapter(tiny_model_dir):
    from dnalens.models.base import load_model

    return load_model(
        {"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "concat", "dtype": "float32", "batch_size": 3}
    )


@pytest.fixture(scope="module")
def sae():
    from dnalens.sae.strand_shared import StrandSharedSAE
    from dnalens.sae.topk import TopKSAE

    torch.manual_seed(1)
    inner = TopKSAE(16, 24, k=3, metadata={"hook_name": LAYER})
    inner.enable_base_lookup(3)
    with torch.no_grad():
        inner.b_dec_lookup.normal_()
    return StrandSharedSAE(inner).eval()
