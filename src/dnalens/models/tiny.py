"""A small Evo 2-style DNA language model in plain PyTorch (StripedHyena-2 block pattern).

Why: the demo and the tests need a model that runs on a laptop CPU yet exposes the same module
names as Evo 2 (vortex `StripedHyena`), so one layer spec (`blocks.N`, `blocks.N.mlp.l3`) works on
both. Each block is pre-norm mixer + residual, post-norm gated MLP + residual, and returns a tuple
whose first element is the residual stream, like vortex's blocks.

Mixers (block types):
- `se`: hyena with a short explicit depthwise convolution (gated),
- `mr`: hyena with a medium explicit convolution (decaying explicit kernel),
- `li`: hyena with a long implicit convolution (sum of decaying exponentials, applied by FFT),
- `att`: causal multi-head self-attention with rotary positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dnalens.settings import schema_defaults

# the bundled checkpoint's shape = the schema's training.architecture defaults (one source for both)
_ARCH = schema_defaults("training", nested="architecture")
DEFAULT_BLOCKS = tuple(_ARCH["block_types"])


@dataclass(frozen=True)
class TinyConfig:
    """Architecture hyper-parameters, stored as config.json next to model.safetensors."""

    d_model: int = _ARCH["d_model"]
    block_types: tuple[str, ...] = DEFAULT_BLOCKS
    mlp_ratio: float = _ARCH["mlp_ratio"]
    vocab_size: int = 512
    short_kernel: int = _ARCH["short_kernel"]
    medium_kernel: int = _ARCH["medium_kernel"]
    featurizer_kernel: int = _ARCH["featurizer_kernel"]
    long_order: int = _ARCH["long_order"]
    n_heads: int = _ARCH["n_heads"]
    architecture: str = "dnalens-tiny-stripedhyena2"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["block_types"] = list(self.block_types)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TinyConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "block_types" in known:
            known["block_types"] = tuple(known["block_types"])
        return cls(**known)

    def receptive_field(self) -> str:
        """Human-readable receptive field: unbounded once a long or attention mixer is present."""
        if any(t in ("li", "att") for t in self.block_types):
            return "whole window (long implicit convolution / attention)"
        k = {"se": self.short_kernel, "mr": self.medium_kernel}
        total = 1 + sum(k[t] - 1 + self.featurizer_kernel - 1 for t in self.block_types)
        return f"{total} nt"


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.scale


class ParallelGatedMLP(nn.Module):
    """Evo 2's MLP: l3(silu(l1 x) * l2 x)."""

    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.l1 = nn.Linear(d, hidden, bias=False)
        self.l2 = nn.Linear(d, hidden, bias=False)
        self.l3 = nn.Linear(hidden, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l3(F.silu(self.l1(x)) * self.l2(x))


def _causal_depthwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x [B, C, T], weight [C, 1, K] -> causal depthwise convolution [B, C, T]."""
    return F.conv1d(F.pad(x, (weight.shape[-1] - 1, 0)), weight, groups=x.shape[1])


def fft_causal_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """u [B, C, T], h [C, T] -> causal convolution via FFT (zero-padded to 2T, no wrap-around)."""
    n = 2 * u.shape[-1]
    y = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(h.float(), n=n), n=n)
    return y[..., : u.shape[-1]].to(u.dtype)


class HyenaFilter(nn.Module):
    """q * conv(k * v): the gated convolution of StripedHyena-2 with an se/mr/li long filter."""

    def __init__(self, cfg: TinyConfig, kind: str) -> None:
        super().__init__()
        d = cfg.d_model
        self.kind = kind
        self.projections = nn.Linear(d, 3 * d, bias=False)
        self.short_filter_weight = nn.Parameter(torch.randn(3 * d, 1, cfg.featurizer_kernel) * 0.3)
        if kind == "se":
            self.h = nn.Parameter(torch.randn(d, 1, cfg.short_kernel) / math.sqrt(cfg.short_kernel))
        elif kind == "mr":
            k = cfg.medium_kernel
            self.h = nn.Parameter(torch.randn(d, 1, k) / math.sqrt(k))
            # per-channel exponential decay over the explicit kernel (as Evo 2's MR filters)
            self.log_decay = nn.Parameter(torch.linspace(math.log(0.3), math.log(0.01), d))
        elif kind == "li":
            order = cfg.long_order
            self.residues = nn.Parameter(torch.randn(d, order) / math.sqrt(order))
            # poles as log decay rates spread from fast (~3 nt) to slow (~3,000 nt)
            rates = torch.logspace(math.log10(0.3), math.log10(3e-4), order)
            self.log_rates = nn.Parameter(torch.log(rates).repeat(d, 1) + 0.1 * torch.randn(d, order))
        else:
            raise ValueError(f"unknown hyena filter kind {kind!r}")
        self.out_filter_dense = nn.Linear(d, d, bias=True)

    def kernel(self, length: int) -> torch.Tensor:
        t = torch.arange(length, device=self.residues.device, dtype=torch.float32)
        decay = torch.exp(-torch.exp(self.log_rates.float())[..., None] * t)  # [d, order, T]
        return torch.einsum("do,dot->dt", self.residues.float(), decay)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.projections(x).transpose(1, 2)  # [B, 3d, T]
        u = _causal_depthwise(u, self.short_filter_weight)
        q, k, v = u.chunk(3, dim=1)
        kv = k * v
        if self.kind == "se":
            y = _causal_depthwise(kv, self.h)
        elif self.kind == "mr":
            steps = torch.arange(self.h.shape[-1], device=x.device, dtype=self.h.dtype)
            decay = torch.exp(-torch.exp(self.log_decay)[:, None] * steps.flip(0))[:, None, :]
            y = _causal_depthwise(kv, self.h * decay)
        else:
            y = fft_causal_conv(kv, self.kernel(x.shape[1]))
        return self.out_filter_dense((q * y).transpose(1, 2))


def _rotary(x: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding on [B, H, T, Dh]."""
    t, dh = x.shape[-2], x.shape[-1]
    inv = 1.0 / (10000 ** (torch.arange(0, dh, 2, device=x.device, dtype=torch.float32) / dh))
    ang = torch.arange(t, device=x.device, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.Wqkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.Wqkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(_rotary(q), _rotary(k), v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """pre_norm -> mixer -> residual; post_norm -> mlp -> residual. Returns (x, None) like vortex."""

    def __init__(self, cfg: TinyConfig, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.pre_norm = RMSNorm(cfg.d_model)
        if kind == "att":
            self.inner_mha_cls = CausalSelfAttention(cfg)
        else:
            self.filter = HyenaFilter(cfg, kind)
        self.post_norm = RMSNorm(cfg.d_model)
        self.mlp = ParallelGatedMLP(cfg.d_model, int(cfg.d_model * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        mixer = self.inner_mha_cls if self.kind == "att" else self.filter
        x = x + mixer(self.pre_norm(x))
        x = x + self.mlp(self.post_norm(x))
        return x, None


class TinyEvo(nn.Module):
    """embedding_layer -> blocks.N -> norm -> tied unembedding; forward(ids [B, T]) -> logits."""

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embedding_layer = nn.Embedding(cfg.vocab_size, cfg.d_model)
        nn.init.normal_(self.embedding_layer.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg, kind) for kind in cfg.block_types)
        self.norm = RMSNorm(cfg.d_model)
        for block in self.blocks:  # small residual writes keep early training stable
            nn.init.normal_(block.mlp.l3.weight, std=0.02 / math.sqrt(2 * len(self.blocks)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding_layer(ids)
        for block in self.blocks:
            x, _ = block(x)
        return F.linear(self.norm(x), self.embedding_layer.weight)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
