"""An Evo 2-shaped stand-in (model family `evo2_standin`): Evo 2's width and module names, random weights.

Why: Evo 2's weights need the evo2 package, a CUDA host and a download; the rehearsal
(config/genomes/evo2_rehearsal.yaml) must run everywhere, offline, inside `make test`. The stand-in is a
vortex-like module (`embedding_layer`, `blocks.N` returning `(x, None)` with `pre_norm`, `filter`,
`post_norm`, `mlp.{l1,l2,l3}`, `norm`; forward returns `(logits, None)`) whose residual stream has the
width of the Evo 2 model named in `model.name` (4,096 for the 7B models). It is wrapped by the real
`Evo2Adapter.from_module`, so capture, tag handling, trimming and loss go through Evo 2's code path; only
`load_evo2_module` is replaced. It proves shapes, memory and disk of activations, SAE and codes at that
width; it does not rehearse Evo 2's own weight memory or speed (three light blocks, not 32 StripedHyena 2 ones).

Weights are seeded and built at run time (same name -> same weights, in every process); nothing is read.
"""

from __future__ import annotations

from dnalens.errors import InputError
from dnalens.models.base import ModelSpec
from dnalens.models.evo2 import EVO2_MODELS, Evo2Adapter

# Hidden size of each Evo 2 model (docs/ARCHITECTURE.md, "Facts about Evo 2").
EVO2_WIDTH = {
    "evo2_1b_base": 1920,
    "evo2_7b": 4096,
    "evo2_7b_base": 4096,
    "evo2_7b_262k": 4096,
    "evo2_20b": 8192,
    "evo2_40b": 8192,
    "evo2_40b_base": 8192,
}
STANDIN_BLOCKS = 3
STANDIN_MLP_HIDDEN = 1024  # Evo 2's MLP is wider; a narrow one keeps the CPU rehearsal fast (never stored)
STANDIN_FILTER = 7  # causal depthwise kernel of the stand-in's `filter` (Evo 2's short explicit filters)
STANDIN_SEED = 0
DEFAULT_NAME = "evo2_7b_262k"


def standin_width(name: str | None) -> int:
    """d_model of the Evo 2 model the stand-in imitates."""
    name = name or DEFAULT_NAME
    if name not in EVO2_MODELS:
        raise InputError(
            f"unknown Evo 2 model {name!r} for the stand-in.",
            fix=f"set model.name to one of: {', '.join(EVO2_MODELS)}.",
        )
    return EVO2_WIDTH[name]


def build_standin_module(d_model: int, n_blocks: int = STANDIN_BLOCKS, seed: int = STANDIN_SEED):
    """A vortex-shaped module with seeded random weights (the global torch RNG is left untouched).

    Each block: x + filter(pre_norm(x)), then + mlp(post_norm(x)), returning (x, None) like vortex's blocks;
    the filter is a causal depthwise convolution (no d x 3d projections: a forward costs about as much as
    one token's SAE encode, so the rehearsal's time goes where Evo 2's data path spends it).
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    from dnalens.models.tiny import ParallelGatedMLP, RMSNorm

    class ShortFilter(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.h = nn.Parameter(torch.randn(d, 1, STANDIN_FILTER) / STANDIN_FILTER**0.5)

        def forward(self, x):  # [B, T, d] -> [B, T, d], causal
            u = F.pad(x.transpose(1, 2), (STANDIN_FILTER - 1, 0))
            return F.conv1d(u, self.h, groups=x.shape[-1]).transpose(1, 2)

    class Block(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.pre_norm, self.filter = RMSNorm(d), ShortFilter(d)
            self.post_norm, self.mlp = RMSNorm(d), ParallelGatedMLP(d, STANDIN_MLP_HIDDEN)

        def forward(self, x):
            x = x + self.filter(self.pre_norm(x))
            return x + self.mlp(self.post_norm(x)), None

    class VortexStandIn(nn.Module):
        """vortex StripedHyena's attribute names; forward(ids) -> (logits, None) with a tied unembedding."""

        def __init__(self, d: int) -> None:
            super().__init__()
            self.embedding_layer = nn.Embedding(512, d)
            self.blocks = nn.ModuleList(Block(d) for _ in range(n_blocks))
            self.norm = RMSNorm(d)

        def forward(self, ids):
            x = self.embedding_layer(ids)
            for block in self.blocks:
                x, _ = block(x)
            return F.linear(self.norm(x), self.embedding_layer.weight), None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = VortexStandIn(d_model)
    return module.eval()


class Evo2StandInAdapter(Evo2Adapter):
    """Evo2Adapter over the stand-in: runs on CPU or GPU (device auto), so jobs do not ask for a GPU."""

    wants_gpu = False

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "Evo2StandInAdapter":
        if spec.path:
            raise InputError(
                "model family evo2_standin builds seeded random weights; model.path is not read.",
                fix="remove model.path (model.name chooses the Evo 2 width to imitate).",
            )
        return cls.from_module(build_standin_module(standin_width(spec.name)), spec)
