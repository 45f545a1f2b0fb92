"""probe stage: score every SAE feature against every concept (AUROC, domain F1, probes, nulls).

`auroc_matrix` (numpy, or torch with `device=`) and `domain_f1` are the contracts other stages use
(docs/ARCHITECTURE.md, "probe").
"""

from dnalens.probe.backend import auroc_matrix
from dnalens.probe.f1 import domain_f1

__all__ = ["auroc_matrix", "domain_f1"]
