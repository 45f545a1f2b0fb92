"""Model passes for variant scoring: per sequence its total log-likelihood and the read layer's rows, from one
forward pass.

Why one pass: Δ log-likelihood needs the logits and the latent changes need the layer the SAE reads; the
shared primitive `models.interventions.nucleotide_log_probs` runs the model with an `edit` of that layer,
and an edit that returns its input unchanged while keeping a copy gives both from the same pass (nothing
is altered: the logits equal an unedited pass's). A window is read forward and reverse-complemented, so
each alt allele costs two passes and each reference window two more (windows.py).

Strand pooling follows `TorchAdapter.pooled_rows` (model.rc_pool): the + read's row at window position i is
[forward row i | reverse-complement row L-1-i] for concat, their mean for mean, the forward row alone for
none; the − read is the same with the two passes swapped. Rows are rounded through float16 as the encode
stage stores them before the SAE reads them (tests/variants check both against `adapter.activations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dnalens.formats.window_table import reverse_complement
from dnalens.models.interventions import nucleotide_log_probs, observed_log_likelihood


@dataclass
class ReadPass:
    """One sequence's forward pass: its summed log-likelihood (nats, positions 1..L-1 with an ACGT base) and
    the layer's rows [L, d] (float32, host)."""

    log_likelihood: float
    rows: object  # torch.Tensor [L, d]


def run_passes(adapter, seqs: Sequence[str], layer: str) -> list[ReadPass]:
    """One forward pass per sequence (in the adapter's batches): log-likelihood total and the layer's rows."""
    captured: list = []

    def keep(x, positions):
        for j, pos in enumerate(positions):
            captured.append(x[j, np.asarray(pos)].detach().float().cpu())
        return x

    log_probs = nucleotide_log_probs(adapter, list(seqs), layer=layer, edit=keep)
    if len(captured) != len(seqs):  # one edit call per batch: a mismatch is a bug, never a wrong row
        raise AssertionError(f"captured {len(captured)} layer outputs for {len(seqs)} sequences")
    return [
        ReadPass(float(np.nansum(observed_log_likelihood(lp, s).astype(np.float64))), rows)
        for lp, s, rows in zip(log_probs, seqs, captured)
    ]


def read_rows(forward, reverse, index: np.ndarray, pool: str, *, strand: str = "+"):
    """Pooled rows at window positions `index` (genome order) of the + read (`strand` '+') or of the − read
    (the same positions, from the reverse complement's point of view), float32 rounded through float16.
    `forward` / `reverse`: rows [L, d] of the window's forward and reverse-complement passes."""
    import torch

    length = forward.shape[0]
    idx = torch.as_tensor(np.asarray(index, dtype=np.int64))
    own, other = (
        (forward[idx], reverse[length - 1 - idx]) if strand == "+" else (reverse[length - 1 - idx], forward[idx])
    )
    if pool == "concat":
        rows = torch.cat([own, other], dim=1)
    elif pool == "mean":
        rows = (own + other) / 2
    else:
        rows = own
    return rows.half().float()


def delta_log_likelihood(ref: tuple[ReadPass, ReadPass], alt: tuple[ReadPass, ReadPass]) -> tuple[float, float, float]:
    """(Δ forward, Δ reverse complement, their mean): alt − ref summed log-likelihood of the window, in nats.
    For an indel the two windows differ in length and the totals are compared as they are."""
    fwd = alt[0].log_likelihood - ref[0].log_likelihood
    rc = alt[1].log_likelihood - ref[1].log_likelihood
    return fwd, rc, (fwd + rc) / 2


def both_strands(seqs: Sequence[str]) -> list[str]:
    """[s0, rc(s0), s1, rc(s1), ...]: every window read forward and reverse-complemented."""
    return [x for s in seqs for x in (s, reverse_complement(s))]
