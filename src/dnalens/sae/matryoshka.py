"""Matryoshka BatchTopK SAE (Bussmann et al. 2025, arXiv 2503.17547): nested prefixes of the dictionary
must each reconstruct the input on their own.

Why here: a flat TopK dictionary splits a dense, general concept (codon position 1, "inside a gene")
into many narrow latents (feature absorption), so no single latent tracks it; the prefix losses force
the first latents to carry such concepts whole. Encoding is BatchTopK's (one global threshold after
training), so the inference form and the saved layout are BatchTopK's too (SAELens `jumprelu`); only
the training loss differs.
"""

from __future__ import annotations

import torch

from dnalens.sae.batchtopk import BatchTopKSAE


def default_widths(d_sae: int) -> tuple[int, ...]:
    """Prefix widths d_sae/32, /8, /2 and the whole dictionary (each at least 1, strictly increasing)."""
    widths = sorted({max(1, d_sae // 32), max(1, d_sae // 8), max(1, d_sae // 2), d_sae})
    return tuple(widths)


def check_widths(widths, d_sae: int) -> tuple[int, ...]:
    """Strictly increasing positive prefix widths ending at d_sae (appended when missing)."""
    values = [int(w) for w in widths]
    if values and values[-1] != d_sae:
        values.append(d_sae)
    if not values or values[0] < 1 or any(b <= a for a, b in zip(values, values[1:])) or values[-1] > d_sae:
        raise ValueError(f"matryoshka widths must increase strictly from >= 1 to d_sae={d_sae}, got {list(widths)}")
    return tuple(values)


class MatryoshkaBatchTopKSAE(BatchTopKSAE):
    architecture = "matryoshka_batchtopk"

    def __init__(self, d_in: int, d_sae: int, *, k: int, widths=None, **kwargs) -> None:
        super().__init__(d_in, d_sae, k=k, **kwargs)
        self.widths = check_widths(widths, self.d_sae) if widths else default_widths(self.d_sae)
        # kept in metadata.dnalens, not as a cfg.json field: the saved (jumprelu) form does not need it
        self.metadata.setdefault("dnalens", {})["matryoshka_widths"] = list(self.widths)

    @classmethod
    def settings_kwargs(cls, settings) -> dict:
        return {"widths": settings.matryoshka_widths}

    def training_loss(
        self, codes: torch.Tensor, x: torch.Tensor, bases: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum over prefixes of the prefix reconstruction's squared error, full reconstruction).

        The prefix reconstructions are running sums of each group's part of codes @ W_dec, so all of
        them together cost one full decode."""
        recon = self.centre(bases).expand_as(x)
        loss = x.new_zeros(())
        start = 0
        for width in self.widths:
            recon = recon + codes[:, start:width] @ self.W_dec[start:width]
            loss = loss + (recon - x).pow(2).sum(-1).mean()
            start = width
        return loss, recon

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, widths={list(self.widths)}"
