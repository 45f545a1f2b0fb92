"""One dictionary for both strands (`sae.strand_shared`), for activations pooled with `model.rc_pool: concat`.

A concat row is [forward-pass state | reverse-complement-pass state flipped back]: two states of the same
model, one per strand it read. An SAE over the 2d-wide row learns latents that mix the two passes. Here
one SAE of width d reads each half on its own and a row's codes are [codes(forward half) | codes(reverse
half)], 2 x d_sae features: feature j < d_sae is latent j as the model sees the row's own strand, feature
d_sae + j the same latent seen from the opposite strand. Why: a DNA model's state for "middle of a codon
of a gene on the strand I read" does not resemble the one for "... of a gene on the other strand", so
the strand a concept lives on needs no latents of its own; on the demo genome this is what gives codon
position 2 one latent (benchmarks/README.md). The reverse half reads the reverse complement, so its
lookup codes (sae.base_lookup) are the reverse-complement w-mer codes of the row's own.

Saved as the per-strand SAE in SAELens' layout (d_in = d, what a single pass's hook gives) with
`metadata.dnalens.strand_shared: true`; load_sae wraps it again.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dnalens.errors import InputError
from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.row_bases import reverse_complement_codes


class StrandSharedSAE(nn.Module):
    """Encode/decode contract of SparseAutoencoder over concat rows, with one per-strand SAE inside."""

    def __init__(self, strand_sae: SparseAutoencoder) -> None:
        super().__init__()
        self.strand_sae = strand_sae

    # ---- what callers read off an SAE --------------------------------------------------------------
    @property
    def architecture(self) -> str:
        return self.strand_sae.architecture

    @property
    def d_in(self) -> int:
        return 2 * self.strand_sae.d_in

    @property
    def d_sae(self) -> int:
        return 2 * self.strand_sae.d_sae

    @property
    def k(self) -> int | None:
        return self.strand_sae.k

    @property
    def metadata(self) -> dict[str, Any]:
        return self.strand_sae.metadata

    @property
    def W_enc(self) -> torch.Tensor:  # device and dtype checks
        return self.strand_sae.W_enc

    @property
    def needs_bases(self) -> bool:
        return self.strand_sae.needs_bases

    @property
    def lookup_context(self) -> int:
        return self.strand_sae.lookup_context

    @property
    def batch_dependent(self) -> bool:
        return self.strand_sae.batch_dependent

    # ---- encode / decode ---------------------------------------------------------------------------
    def _strand_bases(self, bases: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if bases is None or not self.needs_bases:
            return None, None
        return bases, reverse_complement_codes(bases, self.lookup_context)

    def _halves(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-1] != self.d_in:
            raise ValueError(f"a strand-shared SAE reads concat rows of width {self.d_in}, got {x.shape[-1]}")
        d = self.strand_sae.d_in
        return x[..., :d], x[..., d:]

    def encode(self, x: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        own, other = self._halves(x)
        b_own, b_other = self._strand_bases(bases)
        if self.batch_dependent:  # one BatchTopK over both halves, as in training
            both = self.strand_sae.encode(
                torch.cat([own, other]), None if b_own is None else torch.cat([b_own, b_other])
            )
            return torch.cat(both.split(own.shape[0]), dim=-1)
        return torch.cat([self.strand_sae.encode(own, b_own), self.strand_sae.encode(other, b_other)], dim=-1)

    def decode(self, f: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        m = self.strand_sae.d_sae
        b_own, b_other = self._strand_bases(bases)
        return torch.cat(
            [self.strand_sae.decode(f[..., :m], b_own), self.strand_sae.decode(f[..., m:], b_other)], dim=-1
        )

    def forward(self, x: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, bases), bases)

    @torch.no_grad()
    def fold_input_scale_(self, scale: float) -> None:
        self.strand_sae.fold_input_scale_(scale)


def strand_states(batch, context: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """A training batch of concat rows [n, 2d] (or (rows, lookup codes of `context`-mers)) as 2n per-strand
    states [2n, d], own halves first, with the reverse-complement codes for the other halves."""
    x, bases = batch if isinstance(batch, tuple) else (batch, None)
    if x.shape[-1] % 2:
        raise ValueError(f"sae.strand_shared needs concat rows of even width, got {x.shape[-1]}")
    d = x.shape[-1] // 2
    states = torch.cat([x[:, :d], x[:, d:]])
    if bases is None:
        return states
    bases = torch.as_tensor(bases)
    return states, torch.cat([bases, reverse_complement_codes(bases, context)])


def require_concat(manifest: dict, activations) -> None:
    """A strand-shared SAE only makes sense on rows that hold both strand passes (model.rc_pool concat)."""
    pool = (manifest.get("model") or {}).get("rc_pool")
    if pool != "concat":
        raise InputError(
            f"sae.strand_shared needs activations extracted with model.rc_pool: concat, these have rc_pool {pool!r}.",
            path=activations,
            fix="set model.rc_pool: concat (and re-extract), or sae.strand_shared: false.",
        )
