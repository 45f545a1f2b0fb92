"""Adapters for byte-tokenised models (the tiny model here; Evo 2 builds on it): token i = nucleotide i.

Why shared: Evo 2 and the tiny model use the same tokenizer and the same `blocks.N` names, so only
loading differs. An optional tag (Evo 2's phylogenetic tag) is prepended; its tokens are never
returned or scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens.errors import InputError
from dnalens.models.base import ModelSpec, TorchAdapter
from dnalens.models.tokenizer import encode

BUNDLED = "resources/models/dnalens-tiny-bacteria"


class ByteLevelAdapter(TorchAdapter):
    one_token_per_nucleotide = True

    def __init__(self, model, spec: ModelSpec, n_blocks: int, cast: bool = True) -> None:
        super().__init__(model, spec, [f"blocks.{i}" for i in range(n_blocks)], cast=cast)

    def encode(self, seqs: Sequence[str]):
        import torch

        tag = encode(self.spec.tag) if self.spec.tag else np.zeros(0, dtype=np.int64)
        width = len(tag) + max((len(s) for s in seqs), default=0)
        ids = np.full((len(seqs), width), ord("N"), dtype=np.int64)
        positions = []
        for j, s in enumerate(seqs):
            ids[j, : len(tag)] = tag
            ids[j, len(tag) : len(tag) + len(s)] = encode(s.upper())
            positions.append(np.arange(len(tag), len(tag) + len(s)))
        return torch.from_numpy(ids).to(self.device), None, positions


def bundled_path() -> Path:
    """The shipped checkpoint: relative to the working directory, else the installed package's copy
    (dnalens/models/bundled/, put there at build time), else the source tree (editable install)."""
    name = Path(BUNDLED).name
    candidates = (
        Path(BUNDLED),
        Path(__file__).resolve().parent / "bundled" / name,
        Path(__file__).resolve().parents[3] / BUNDLED,
    )
    for path in candidates:
        if (path / "model.safetensors").exists():
            return path
    return candidates[-1]


def load_tiny_module(path: str | Path):
    from safetensors.torch import load_file

    from dnalens.models.tiny import TinyConfig, TinyEvo

    path = Path(path)
    cfg_file, weights = path / "config.json", path / "model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise InputError(
            "tiny model directory needs config.json and model.safetensors.",
            path=path,
            fix="point model.path at a directory written by `dnalens train-model`.",
        )
    model = TinyEvo(TinyConfig.from_dict(json.loads(cfg_file.read_text())))
    model.load_state_dict(load_file(str(weights)))
    return model


class TinyAdapter(ByteLevelAdapter):
    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "TinyAdapter":
        model = load_tiny_module(spec.path or bundled_path())
        return cls(model, spec, len(model.blocks))
