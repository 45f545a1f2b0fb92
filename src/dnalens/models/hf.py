"""A local HuggingFace checkpoint (causal or masked LM; k-mer, BPE or character tokenizer) via nnsight.

Why offsets: one token may span several nucleotides (a 6-mer, a BPE merge). The fast tokenizer's
offset mapping says which characters each token covers; every nucleotide gets the activation of the
token that contains it, so the contract "one row per nucleotide" holds for any tokenizer. The block
list is found as the longest ModuleList (BERT `encoder.layer`, GPT-2 `transformer.h`, Llama
`model.layers`); `blocks.N` is accepted as an alias, so a layer spec written for Evo 2 still works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens.errors import InputError
from dnalens.models.base import ModelSpec, TorchAdapter


def find_block_list(model) -> str:
    """Dotted path of the longest nn.ModuleList (the transformer blocks)."""
    from torch import nn

    best, size = None, 0
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > size:
            best, size = name, len(module)
    if best is None:
        raise InputError("could not find the model's block list (no nn.ModuleList).")
    return best


def nucleotide_token_index(offsets: np.ndarray, length: int) -> np.ndarray:
    """For each character 0..length-1, the index of the token whose (start, end) span covers it.

    Characters no token covers (stripped by the tokenizer) take the previous covered token's index.
    """
    token_of = np.full(length, -1, dtype=np.int64)
    for t, (a, b) in enumerate(offsets):
        if b > a:
            token_of[a : min(b, length)] = t
    covered = np.flatnonzero(token_of >= 0)
    if len(covered) == 0:
        raise InputError("the tokenizer produced no token covering the sequence.")
    idx = np.maximum.accumulate(np.where(token_of >= 0, np.arange(length), -1))
    idx[idx < 0] = covered[0]
    return token_of[idx]


class HFAdapter(TorchAdapter):
    def __init__(self, model, tokenizer, spec: ModelSpec, causal: bool) -> None:
        prefix = find_block_list(model)
        n = len(model.get_submodule(prefix))
        layers = [f"{prefix}.{i}" for i in range(n)]
        super().__init__(model, spec, layers, aliases={f"blocks.{i}": layers[i] for i in range(n)})
        self.tokenizer = tokenizer
        self.causal = causal
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> "HFAdapter":
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

        if not spec.path or not Path(spec.path).exists():
            raise InputError("model.path must be a local HuggingFace checkpoint directory.", path=spec.path)
        config = AutoConfig.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
        kind = spec.hf_kind
        if kind == "auto":
            archs = " ".join(getattr(config, "architectures", None) or [])
            kind = (
                "masked" if "MaskedLM" in archs or (not archs and not getattr(config, "is_decoder", True)) else "causal"
            )
        if kind not in ("causal", "masked"):
            raise InputError(f"model.hf_kind must be auto, causal or masked, not {kind!r}.")
        auto = AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM
        model = auto.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
        if not getattr(tokenizer, "is_fast", False):
            raise InputError(
                "the checkpoint's tokenizer is not a fast tokenizer (no offset mapping).",
                path=spec.path,
                fix="save a tokenizer.json (tokenizers library) with the checkpoint.",
            )
        return cls(model, tokenizer, spec, causal=(kind == "causal"))

    def encode(self, seqs: Sequence[str]):
        import torch

        enc = self.tokenizer([s.upper() for s in seqs], return_offsets_mapping=True, padding=True, return_tensors="np")
        mask = enc["attention_mask"]
        positions = []
        for j, s in enumerate(seqs):
            offsets = np.where(mask[j][:, None] > 0, enc["offset_mapping"][j], 0)
            positions.append(nucleotide_token_index(offsets, len(s)))
        ids = torch.as_tensor(enc["input_ids"], device=self.device)
        return ids, torch.as_tensor(mask, device=self.device), positions

    def loss_targets(self, ids, positions):
        """Next-token targets over the distinct tokens that carry nucleotides."""
        import torch

        rows, targets = [], []
        for j, pos in enumerate(positions):
            toks = torch.as_tensor(np.unique(pos), device=ids.device)
            toks = toks[toks > 0]
            rows.append(torch.stack([torch.full_like(toks, j), toks - 1], 1))
            targets.append(ids[j, toks])
        return torch.cat(rows), torch.cat(targets)
