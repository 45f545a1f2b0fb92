"""SAE types by SAELens architecture name. A new type is one module plus one line here."""

from __future__ import annotations

from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.jumprelu import JumpReLUSAE
from dnalens.sae.matryoshka import MatryoshkaBatchTopKSAE
from dnalens.sae.standard import ReLUSAE
from dnalens.sae.topk import TopKSAE

SAE_TYPES: dict[str, type[SparseAutoencoder]] = {
    "topk": TopKSAE,
    "batchtopk": BatchTopKSAE,
    "matryoshka_batchtopk": MatryoshkaBatchTopKSAE,
    "jumprelu": JumpReLUSAE,
    "standard": ReLUSAE,
}

#: architectures `dnalens train-sae` can train (the others are load-only).
TRAINABLE = ("topk", "batchtopk", "matryoshka_batchtopk")
#: architectures whose constructor needs `k`.
NEEDS_K = ("topk", "batchtopk", "matryoshka_batchtopk")
