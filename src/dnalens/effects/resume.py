"""Per-base log-probabilities from an edited layer output: the rest of the model only, or one nnsight pass.

Why: an ablation changes the residual stream at one layer, so everything before it is the plain pass. Effects
runs hundreds of interventions over the same windows; for models with the vortex layout (the tiny model, the
Evo 2 stand-in: `blocks.N` returning (x, …), then `norm` and an unembedding tied to `embedding_layer`) the
layer's clean output is captured once and each intervention runs only the blocks after it (on the demo's
blocks.6 of 8, about a seventh of a pass). Every other model (or layer) goes through
`dnalens.models.interventions.nucleotide_log_probs` with the edit as an nnsight intervention, the whole pass
each time. The short path is checked against the nnsight pass on the first batch of each run
(`LogProbs.verify`) and dropped, with a log line, if they disagree.
"""

from __future__ import annotations

import logging
import re
from typing import Sequence

import numpy as np

from dnalens.models.interventions import base_token_ids, nucleotide_log_probs

log = logging.getLogger(__name__)
_BLOCK = re.compile(r"^blocks\.(\d+)$")
VERIFY_ATOL = 1e-3  # nats; float32 sums in another order differ by ~1e-6


def tail_blocks(adapter, layer: str):
    """(blocks after `layer`, norm, tied unembedding weight) when the model has the vortex layout, else None."""
    model = adapter.model
    match = _BLOCK.match(adapter.module_path(layer))
    blocks = getattr(model, "blocks", None)
    needed = ("norm", "embedding_layer")
    if match is None or blocks is None or not all(hasattr(model, a) for a in needed) or hasattr(model, "unembed"):
        return None
    return list(blocks)[int(match.group(1)) + 1 :], model.norm, model.embedding_layer.weight


class LogProbs:
    """ln P(A/C/G/T) per token of a batch of pass sequences whose `layer` output is given (clean or edited)."""

    def __init__(self, adapter, layer: str) -> None:
        self.adapter, self.layer = adapter, layer
        self.tail = tail_blocks(adapter, layer)
        self.base_ids = base_token_ids(adapter)
        self.verified = self.tail is None

    def from_hidden(
        self, hidden, seqs: Sequence[str], positions: list[np.ndarray], clean, first_token: int = 0
    ) -> list[np.ndarray]:
        """Per sequence [len, 4] float32 (row i = ln P(base i | bases < i), row 0 NaN), the layer's output being
        `hidden` [B, T, d] (same batch as `clean`, the captured plain output). `first_token`: the unembedding
        reads tokens from there on only (rows predicted from earlier tokens are NaN; the short path only)."""
        import torch

        if self.tail is None:
            shift = (clean - hidden).to(clean.dtype)

            def edit(x, _positions, shift=shift):
                return x - shift.to(x.dtype)

            return _batched(self.adapter, seqs, self.layer, edit)
        blocks, norm, weight = self.tail
        with torch.no_grad():
            x = hidden
            for block in blocks:
                out = block(x)
                x = out[0] if isinstance(out, (tuple, list)) else out
            logits = torch.nn.functional.linear(norm(x[:, first_token:]), weight).float()
            logp = torch.log_softmax(logits, dim=-1)[..., self.base_ids].cpu().numpy()
        rows = []
        for j, (seq, pos) in enumerate(zip(seqs, positions)):
            r = np.full((len(seq), 4), np.nan, np.float32)
            before = np.asarray(pos)[:-1] - first_token  # the token before each base predicts it
            ok = np.flatnonzero(before >= 0)
            r[1 + ok] = logp[j, before[ok]]
            rows.append(r)
        return rows

    def verify(self, seqs: Sequence[str], positions: list[np.ndarray], clean) -> None:
        """Compare the short path with a whole nnsight pass on a clean batch once; fall back if they disagree."""
        if self.verified:
            return
        self.verified = True
        short = self.from_hidden(clean, seqs, positions, clean)
        full = nucleotide_log_probs(self.adapter, seqs)
        worst = max(float(np.nanmax(np.abs(a - b))) if len(a) > 1 else 0.0 for a, b in zip(short, full))
        if not worst <= VERIFY_ATOL:
            log.info(
                "effects: the blocks after %s do not reproduce the model (%.3g nats); using nnsight", self.layer, worst
            )
            self.tail = None


def _batched(adapter, seqs: Sequence[str], layer: str, edit) -> list[np.ndarray]:
    """nucleotide_log_probs over exactly this batch (one nnsight pass, whatever model.batch_size says)."""
    from dataclasses import replace

    spec = adapter.spec
    adapter.spec = replace(spec, batch_size=max(len(seqs), 1))
    try:
        return nucleotide_log_probs(adapter, list(seqs), layer=layer, edit=edit)
    finally:
        adapter.spec = spec
