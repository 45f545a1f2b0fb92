"""What steering writes into the model's layer: a latent's decoder direction (mode add) or BioNeMo's clamp.

Generation runs the model forward only, so an edit acts on the forward pass's state at the SAE's layer:
- a strand-shared SAE (codes [own strand | opposite strand]) has one atom per latent pair: latent j and
  j + n are atom j mod n, read on the forward or the reverse-complement pass; steering writes atom j mod n
  into the forward pass either way (the readout still reads latent j itself);
- an SAE over concatenated passes without strand sharing (d_in = 2 × d): the forward half of the decoder row;
- an SAE over one pass (rc_pool none) or the mean of the two: the whole row.
Clamping needs the SAE to read the forward state alone (strand-shared or rc_pool none); it is computed
literally, h + decode(f with f_j := target) − decode(f), so the SAE's reconstruction error cancels, with the
latent read causally: a lookup SAE's w-mer codes count bases not yet generated as N (`causal_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dnalens.errors import InputError
from dnalens.sae.row_bases import N_BASES

N_CODE = N_BASES - 1


@dataclass(frozen=True)
class LatentAtom:
    """Where latent `latent` lives in the forward pass: its decoder direction [d] and, when the SAE can read
    the forward state alone, the per-pass SAE and the atom's index in it (for clamping)."""

    latent: int
    direction: torch.Tensor
    pass_sae: object | None
    atom: int | None


def latent_atom(sae, latent: int, d_model: int) -> LatentAtom:
    """The forward-pass view of `latent` of `sae` (a StrandSharedSAE or a SparseAutoencoder) in a model of
    width `d_model` at the SAE's layer."""
    inner = getattr(sae, "strand_sae", None)
    if inner is not None:
        atom = int(latent) % inner.d_sae
        return LatentAtom(int(latent), inner.W_dec[atom].detach().float(), inner, atom)
    row = sae.W_dec[int(latent)].detach().float()
    if sae.d_in == d_model:
        return LatentAtom(int(latent), row, sae, int(latent))
    if sae.d_in == 2 * d_model:  # [forward | reverse] concat rows: the forward half writes the forward pass
        return LatentAtom(int(latent), row[:d_model].clone(), None, None)
    raise InputError(
        f"the SAE reads rows of width {sae.d_in}, the model's layer has width {d_model}.",
        fix="steer with the SAE that encoded this genome's buffer (buffer.json `sae`) and the same model.",
    )


def random_direction(like: torch.Tensor, seed: int) -> torch.Tensor:
    """A seeded Gaussian direction with the norm of `like` (the random-direction control)."""
    gen = torch.Generator().manual_seed(int(seed))
    r = torch.randn(like.shape[-1], generator=gen, dtype=torch.float64)
    return (r / r.norm() * like.double().norm()).to(like.dtype)


def causal_codes(history: np.ndarray, context: int) -> np.ndarray:
    """[B, T] lookup codes of the `context`-mer centred on each position, bases after the position (not yet
    generated when it is written) and before the start counted as N: the sae.row_bases code, made causal."""
    history = np.asarray(history, np.int64)
    b, t = history.shape
    half = context // 2
    padded = np.concatenate([np.full((b, half), N_CODE, np.int64), history], axis=1)
    out = np.zeros((b, t), np.int64)
    for o in range(context):
        if o > half:
            digit = np.full((b, t), N_CODE, np.int64)
        else:
            digit = padded[:, o : o + t]
        out += digit * N_BASES**o
    return out


class RowEdit:
    """Per-row edits of a batch: row i gets h + delta[i], and rows with a clamp target get their atom's code
    set to it (h + decode(f') − decode(f)). Leading dims of h beyond the row are positions."""

    def __init__(
        self,
        delta: torch.Tensor,
        clamp_rows: np.ndarray | None = None,
        clamp_atoms: np.ndarray | None = None,
        clamp_values: np.ndarray | None = None,
        pass_sae=None,
    ) -> None:
        self.delta = delta
        self.clamp_rows = None if clamp_rows is None or len(clamp_rows) == 0 else np.asarray(clamp_rows)
        self.clamp_atoms = clamp_atoms
        self.clamp_values = clamp_values
        self.pass_sae = pass_sae

    @property
    def needs_codes(self) -> bool:
        return self.clamp_rows is not None and bool(getattr(self.pass_sae, "needs_bases", False))

    def rows(self, index) -> "RowEdit":
        """The edit of a subset of rows (a chunk of the batch)."""
        index = np.asarray(index)
        if self.clamp_rows is None:
            return RowEdit(self.delta[torch.as_tensor(index)])
        where = {int(r): i for i, r in enumerate(self.clamp_rows)}
        keep = [k for k, r in enumerate(index) if int(r) in where]
        picked = [where[int(index[k])] for k in keep]
        return RowEdit(
            self.delta[torch.as_tensor(index)],
            np.asarray(keep, np.int64),
            np.asarray(self.clamp_atoms)[picked],
            np.asarray(self.clamp_values)[picked],
            self.pass_sae,
        )

    def __call__(self, h: torch.Tensor, codes: np.ndarray | None = None) -> torch.Tensor:
        shape = (h.shape[0],) + (1,) * (h.dim() - 2) + (h.shape[-1],)
        out = h + self.delta.to(h.device, h.dtype).reshape(shape)
        if self.clamp_rows is None:
            return out
        rows = torch.as_tensor(self.clamp_rows, device=h.device)
        x = h[rows].float()
        flat = x.reshape(-1, x.shape[-1])
        bases = None
        if self.needs_codes:
            if codes is None:
                raise ValueError("a lookup SAE's clamp needs the lookup codes of every position")
            bases = torch.as_tensor(np.asarray(codes)[self.clamp_rows].reshape(-1))
        sae = self.pass_sae
        per_row = flat.shape[0] // len(self.clamp_rows)
        if getattr(sae, "batch_dependent", False):  # a batch-level budget is one sequence's, never the chunk's
            pieces = [
                (p, None if bases is None else bases[i * per_row : (i + 1) * per_row])
                for i, p in enumerate(flat.split(per_row))
            ]
            f = torch.cat([sae.encode(p, b) for p, b in pieces])
        else:
            f = sae.encode(flat, bases)
        target = f.clone()
        atoms = torch.as_tensor(np.repeat(self.clamp_atoms, per_row))
        values = torch.as_tensor(np.repeat(self.clamp_values, per_row), dtype=f.dtype)
        target[torch.arange(flat.shape[0]), atoms] = values
        change = (sae.decode(target, bases) - sae.decode(f, bases)).reshape(x.shape)
        out[rows] = out[rows] + change.to(out.dtype)
        return out
