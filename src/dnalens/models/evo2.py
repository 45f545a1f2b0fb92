"""Evo 2 through the evo2 package (optional extra `dnalens[evo2]`, CUDA hosts only).

Captures `blocks.N` output[0] (the residual stream) in bfloat16 on the GPU by default. Evo 2 gives
outsized activations on the first ≈15 positions of every sequence; `model.trim` tells the extract
stage to drop them (and, with rc_pool, the last ones, which start the reverse pass). A phylogenetic
tag (`model.tag`, e.g. "|D__BACTERIA;P__PSEUDOMONADOTA;...|") is prepended; its tokens are never
returned or scored.
"""

from __future__ import annotations

from dnalens.errors import InputError
from dnalens.models.base import ModelSpec
from dnalens.models.tiny_adapter import ByteLevelAdapter

EVO2_MODELS = ("evo2_1b_base", "evo2_7b", "evo2_7b_base", "evo2_7b_262k", "evo2_20b", "evo2_40b", "evo2_40b_base")


def load_evo2_module(name: str, local_path: str | None):
    """The vortex StripedHyena inside `Evo2(name, local_path=...)`; lazy so CPU hosts never need evo2."""
    if name not in EVO2_MODELS:
        raise InputError(f"unknown Evo 2 model {name!r}.", fix=f"set model.name to one of: {', '.join(EVO2_MODELS)}.")
    try:
        from evo2 import Evo2
    except ImportError:
        raise InputError(
            "model family 'evo2' needs the evo2 package, which is not installed.",
            fix="on a CUDA host run: pip install 'dnalens[evo2]' (needs flash-attn and the Evo 2 weights).",
        ) from None
    return Evo2(name, local_path=local_path).model


class Evo2Adapter(ByteLevelAdapter):
    """Byte-level adapter over vortex's module tree: `blocks.N` returns a tuple (x, ...)."""

    wants_gpu = True  # the evo2 package needs CUDA: sample/encode/SAE jobs ask the cluster for a GPU

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "Evo2Adapter":
        module = load_evo2_module(spec.name or "evo2_7b_262k", spec.path)
        return cls.from_module(module, spec, cast=False)

    @classmethod
    def from_module(cls, module, spec: ModelSpec, cast: bool = True) -> "Evo2Adapter":
        """Wrap an already built vortex-like module (used by tests with a stand-in)."""
        if not hasattr(module, "blocks"):
            raise InputError("the Evo 2 module has no `blocks`; is this a vortex StripedHyena?")
        return cls(module, spec, len(module.blocks), cast=cast)
