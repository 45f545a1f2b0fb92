"""What a latent writes, and into which strand pass: decoder rows in the space of the buffer's rows, split per pass.

A buffer row is the layer's state pooled over strand passes (models.base `rc_pool`): `none` = the forward
pass only; `concat` = [forward state | reverse-complement state at the mirrored position]; `mean` = their
average. A latent's decoder row d lives in that space, so "remove a·d" means, per pass:
- none: a·d from the forward pass at the position;
- concat: a·d[:width] from the forward pass at read position i and a·d[width:] from the reverse-complement pass
  at its position len − 1 − i (a strand-shared dictionary's feature j < n writes only the first half, feature
  n + j only the second: the own-strand latent acts on the forward pass, the opposite-strand one on the
  reverse-complement pass);
- mean: a·d from both passes (their average then drops by a·d).
A part whose half is zero is no intervention at all and is neither run nor scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORWARD, REVERSE = "forward", "reverse_complement"


@dataclass(frozen=True)
class Part:
    """One strand pass a direction is written into: the pass and the vector removed there (per unit of a)."""

    strand_pass: str
    vector: np.ndarray  # float32 [width of one pass]


def decoder_rows(sae) -> tuple[np.ndarray, int]:
    """(decoder rows [n_features, pooled width] float32, atoms): a strand-shared SAE's per-strand rows placed
    in the half its features decode into; atoms = decoder rows behind the features (features mod atoms)."""
    inner = getattr(sae, "strand_sae", None)
    if inner is None:
        w = sae.W_dec.detach().float().cpu().numpy()
        return w, w.shape[0]
    w = inner.W_dec.detach().float().cpu().numpy()
    m, d = w.shape
    rows = np.zeros((2 * m, 2 * d), np.float32)
    rows[:m, :d] = w
    rows[m:, d:] = w
    return rows, m


def pass_parts(row: np.ndarray, rc_pool: str) -> list[Part]:
    """The strand passes a pooled-space row is written into (module doc)."""
    row = np.asarray(row, np.float32)
    if rc_pool == "none":
        return [Part(FORWARD, row)]
    if rc_pool == "mean":
        return [Part(FORWARD, row), Part(REVERSE, row)]
    width = row.size // 2
    halves = [Part(FORWARD, row[:width]), Part(REVERSE, row[width:])]
    return [p for p in halves if np.any(p.vector != 0)]


def random_parts(parts: list[Part], seed: int, atom: int) -> list[Part]:
    """A random direction of the same norm in each pass (seeded by seed and atom, so the two strand features of
    one strand-shared atom get the same vector)."""
    rng = np.random.default_rng([int(seed), int(atom)])
    out = []
    for part in parts:
        v = rng.standard_normal(part.vector.size)
        v *= np.linalg.norm(part.vector) / max(np.linalg.norm(v), 1e-12)
        out.append(Part(part.strand_pass, v.astype(np.float32)))
    return out


def passes_name(parts: list[Part]) -> str:
    names = {p.strand_pass for p in parts}
    return "both" if len(names) > 1 else (names.pop() if names else "")
