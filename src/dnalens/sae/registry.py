"""SAE types by SAELens architecture name. A new type is one module plus one line here."""

from __future__ import annotations

from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.jumprelu import JumpReLUSAE
from dnalens.sae.matryoshka import MatryoshkaBatchTopKSAE
from dnalens.sae.standard import ReLUSAE
from dnalens.sae.topk import TopKSAE

SAE_TYPES: dict[str, type[SparseAutoencoder]] = {
    cls.architecture: cls for cls in (TopKSAE, BatchTopKSAE, MatryoshkaBatchTopKSAE, JumpReLUSAE, ReLUSAE)
}

#: architectures `dnalens train-sae` can train (the others are load-only); each class says so itself.
TRAINABLE = tuple(name for name, cls in SAE_TYPES.items() if cls.trainable)
#: architectures whose constructor needs `k`.
NEEDS_K = tuple(name for name, cls in SAE_TYPES.items() if cls.needs_k)
