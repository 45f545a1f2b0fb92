"""Next-base log-probabilities one token at a time, with an edit at one layer: what sampling needs.

Why two steppers: a full forward per sampled base costs the whole prefix every step (measured on the bundled
tiny model, 2 cores: ~50 µs per token, so 160 sequences × 1 kb after a 256-nt prompt would take over an
hour). `TinyStepper` carries each mixer's state instead (short and medium filters: their last K inputs;
the long implicit filter, a sum of decaying exponentials: its modal state, s ← e^(−rate)·s + input; attention:
keys and values), so a step costs one token. It is the tiny model's forward, rewritten as a recurrence, and
matches it to float rounding (tests/steer/test_stepper.py). Any other causal byte-level model (Evo 2) takes
`FullForwardStepper`: the plain model through dnalens.models.interventions, edit and all, every step.

An edit is `RowEdit` (directions.py): applied to the layer's output at every position, prompt included, as
written at the time the position is the newest one.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dnalens.models.interventions import base_token_ids, check_per_base, next_log_probs
from dnalens.steer.directions import RowEdit, causal_codes


def _codes_of(ids: torch.Tensor, base_ids: Sequence[int]) -> np.ndarray:
    """Base codes (A0 C1 G2 T3, else 4) of token ids [B, T]."""
    lut = np.full(int(ids.max()) + 1 if ids.numel() else 1, 4, np.int64)
    for code, tok in enumerate(base_ids):
        if tok < lut.size:
            lut[tok] = code
    return lut[ids.cpu().numpy()]


class _FilterState:
    """One hyena mixer's state across steps (models/tiny.py HyenaFilter, as a recurrence)."""

    def __init__(self, mod, batch: int, device, dtype) -> None:
        self.mod = mod
        d = mod.out_filter_dense.in_features
        kf = mod.short_filter_weight.shape[-1]
        self.u = torch.zeros(batch, 3 * d, kf, device=device, dtype=dtype)
        if mod.kind == "li":
            self.decay = torch.exp(-torch.exp(mod.log_rates.float()))  # [d, order]
            self.state = torch.zeros(batch, d, mod.residues.shape[1], device=device, dtype=torch.float32)
        else:
            if mod.kind == "mr":
                steps = torch.arange(mod.h.shape[-1], device=device, dtype=mod.h.dtype)
                decay = torch.exp(-torch.exp(mod.log_decay)[:, None] * steps.flip(0))[:, None, :]
                self.kernel = (mod.h * decay)[:, 0, :]
            else:
                self.kernel = mod.h[:, 0, :]
            self.kv = torch.zeros(batch, d, self.kernel.shape[-1], device=device, dtype=dtype)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        mod = self.mod
        self.u = torch.cat([self.u[..., 1:], mod.projections(x)[..., None]], dim=-1)
        u = (self.u * mod.short_filter_weight[:, 0, :]).sum(-1)
        q, k, v = u.chunk(3, dim=-1)
        kv = k * v
        if mod.kind == "li":
            self.state = self.decay * self.state + kv.float()[..., None]
            y = (mod.residues.float() * self.state).sum(-1).to(kv.dtype)
        else:
            self.kv = torch.cat([self.kv[..., 1:], kv[..., None]], dim=-1)
            y = (self.kv * self.kernel).sum(-1)
        return mod.out_filter_dense(q * y)


class _AttentionState:
    """Causal self-attention with a key/value cache and rotary angles at the absolute position."""

    def __init__(self, mod, batch: int, max_len: int, device, dtype) -> None:
        self.mod = mod
        d = mod.out_proj.in_features
        self.h, self.dh = mod.n_heads, d // mod.n_heads
        self.k = torch.zeros(batch, self.h, max_len, self.dh, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self.inv = 1.0 / (10000 ** (torch.arange(0, self.dh, 2, device=device, dtype=torch.float32) / self.dh))

    def _rotate(self, x: torch.Tensor, t: int) -> torch.Tensor:
        ang = t * self.inv
        cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)

    def step(self, x: torch.Tensor, t: int) -> torch.Tensor:
        b = x.shape[0]
        q, k, v = self.mod.Wqkv(x).view(b, 3, self.h, self.dh).unbind(1)
        self.k[:, :, t] = self._rotate(k, t)
        self.v[:, :, t] = v
        keys, values = self.k[:, :, : t + 1], self.v[:, :, : t + 1]
        scores = torch.einsum("bhd,bhtd->bht", self._rotate(q, t), keys) / math.sqrt(self.dh)
        y = torch.einsum("bht,bhtd->bhd", scores.softmax(-1), values)
        return self.mod.out_proj(y.reshape(b, -1))


class TinyStepper:
    """The tiny model (models/tiny.py TinyEvo) one token per call, with `edit` on block `layer`'s output."""

    def __init__(self, adapter, layer: str, edit: RowEdit | None, lookup_context: int, max_len: int) -> None:
        check_per_base(adapter, "steering (dnalens steer)")
        self.adapter, self.model = adapter, adapter.model
        self.block = int(adapter.module_path(layer).split(".")[1])
        self.edit, self.context, self.max_len = edit, int(lookup_context), int(max_len)
        self.base_ids = base_token_ids(adapter)

    @staticmethod
    def handles(adapter) -> bool:
        from dnalens.models.tiny import TinyEvo

        return isinstance(getattr(adapter, "model", None), TinyEvo)

    def _reset(self, batch: int) -> None:
        dev, dt = self.adapter.device, self.adapter.dtype
        self.states = [
            _AttentionState(b.inner_mha_cls, batch, self.max_len, dev, dt)
            if b.kind == "att"
            else _FilterState(b.filter, batch, dev, dt)
            for b in self.model.blocks
        ]
        self.t = 0
        self.history = np.zeros((batch, self.max_len), np.int64)

    @torch.no_grad()
    def _feed(self, ids: torch.Tensor) -> torch.Tensor:
        """One token per row ([B] ids) through the model; log P [B, 4] of the next base."""
        t = self.t
        self.history[:, t] = _codes_of(ids[:, None], self.base_ids)[:, 0]
        x = self.model.embedding_layer(ids.to(self.adapter.device))
        for i, (block, state) in enumerate(zip(self.model.blocks, self.states)):
            normed = block.pre_norm(x)
            x = x + (state.step(normed, t) if block.kind == "att" else state.step(normed))
            x = x + block.mlp(block.post_norm(x))
            if i == self.block and self.edit is not None:
                codes = causal_codes(self.history[:, : t + 1], self.context)[:, t] if self.context else None
                x = self.edit(x, codes)
        self.t += 1
        logits = F.linear(self.model.norm(x), self.model.embedding_layer.weight).float()
        return torch.log_softmax(logits, dim=-1)[:, self.base_ids].cpu().numpy()

    def start(self, prompts: Sequence[str]) -> np.ndarray:
        """Feed the prompts (equal lengths); log P [B, 4] of the first new base."""
        ids, _, _ = self.adapter.encode(list(prompts))
        self._reset(ids.shape[0])
        for t in range(ids.shape[1]):
            logp = self._feed(ids[:, t])
        return logp

    def advance(self, codes: np.ndarray) -> np.ndarray:
        """Feed one new base per row (codes 0-3); log P [B, 4] of the next."""
        ids = torch.as_tensor(np.asarray(self.base_ids)[np.asarray(codes)], dtype=torch.long)
        return self._feed(ids)


class FullForwardStepper:
    """Any causal byte-level model: the whole prefix through the model (and the edit) at every step."""

    def __init__(self, adapter, layer: str, edit: RowEdit | None, lookup_context: int, max_len: int) -> None:
        check_per_base(adapter, "steering (dnalens steer)")
        self.adapter, self.layer, self.edit, self.context = adapter, layer, edit, int(lookup_context)
        self.base_ids = base_token_ids(adapter)

    def _step(self) -> np.ndarray:
        bs = max(1, self.adapter.spec.batch_size)
        out = []
        for a in range(0, len(self.seqs), bs):
            chunk = self.seqs[a : a + bs]
            edit = None
            if self.edit is not None:
                part = self.edit.rows(np.arange(a, a + len(chunk)))

                def edit(x, positions, part=part):  # x [b, T, d]: tag tokens and bases, all steered
                    ids, _, _ = self.adapter.encode(chunk)
                    codes = causal_codes(_codes_of(ids, self.base_ids), self.context) if self.context else None
                    return part(x, codes)

            out.append(next_log_probs(self.adapter, chunk, layer=self.layer, edit=edit))
        return np.concatenate(out)

    def start(self, prompts: Sequence[str]) -> np.ndarray:
        self.seqs = list(prompts)
        return self._step()

    def advance(self, codes: np.ndarray) -> np.ndarray:
        self.seqs = [s + "ACGT"[int(c)] for s, c in zip(self.seqs, codes)]
        return self._step()


def make_stepper(adapter, layer: str, edit: RowEdit | None, lookup_context: int, max_len: int):
    """TinyStepper for the tiny model, else FullForwardStepper."""
    cls = TinyStepper if TinyStepper.handles(adapter) else FullForwardStepper
    return cls(adapter, layer, edit, lookup_context, max_len)
