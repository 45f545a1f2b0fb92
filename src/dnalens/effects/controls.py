"""Which latents to ablate, and the unannotated latents each is judged against.

Why matched controls: removing any write of a given size from the residual stream moves the model's loss a
little, more so for a latent that fires often and writes a long vector. A latent's ablation effect means
something only against latents alike in both, so the controls are its nearest unannotated latents in
(ln firing frequency, ln mean |a·d|), plain Euclidean distance, ties broken by the lower id.

Atoms: with a strand-shared dictionary (sae.strand_shared) feature j and feature n + j are one decoder row read
on the two strand passes, so removing one removes the same vector in the same passes as the other (on windows
held out on both strands). A control must therefore be a dictionary atom of its own, never an atom of a tested
latent, and two controls of one latent never share an atom.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dnalens.errors import InputError


def atom_ids(n_features: int, atoms: int) -> np.ndarray:
    """[n_features] the decoder row behind each feature (feature mod atoms; atoms = n_features when not shared)."""
    return np.arange(n_features) % max(int(atoms), 1)


def check_latents(latents: Sequence[int], n_features: int, *, setting: str = "effects.latents") -> list[int]:
    """The ids as ints; an id outside [0, n_features) is one InputError naming the setting."""
    bad = [int(f) for f in latents if not 0 <= int(f) < n_features]
    if bad:
        raise InputError(
            f"{setting} names latent id(s) {', '.join(map(str, bad[:5]))} but the dictionary has {n_features} "
            f"features (ids 0–{n_features - 1}).",
            fix=f"list ids below {n_features} in {setting}, or leave it empty for every annotated latent.",
        )
    return [int(f) for f in latents]


def match_controls(
    tested: Sequence[int],
    frequency: np.ndarray,
    write_norm: np.ndarray,
    *,
    n: int,
    excluded: np.ndarray | None = None,
    atoms: np.ndarray | None = None,
) -> dict[int, list[int]]:
    """Per tested latent its `n` nearest candidates in (ln frequency, ln write norm).

    Candidates: latents that fire (frequency > 0, write norm > 0), not `excluded` (bool [F], e.g. annotated),
    whose atom is no tested latent's atom; the n picked for one latent have distinct atoms. Fewer than n come
    back only when fewer candidates exist."""
    frequency = np.asarray(frequency, np.float64)
    write_norm = np.asarray(write_norm, np.float64)
    n_features = frequency.size
    atoms = np.arange(n_features) if atoms is None else np.asarray(atoms)
    ok = (frequency > 0) & (write_norm > 0) & np.isfinite(frequency) & np.isfinite(write_norm)
    if excluded is not None:
        ok &= ~np.asarray(excluded, bool)
    ok &= ~np.isin(atoms, atoms[np.asarray(list(tested), np.int64)])
    candidates = np.flatnonzero(ok)
    with np.errstate(divide="ignore"):
        log_f, log_w = np.log(frequency), np.log(write_norm)
    out: dict[int, list[int]] = {}
    for t in tested:
        if not (frequency[t] > 0 and write_norm[t] > 0):
            out[int(t)] = []
            continue
        dist = np.hypot(log_f[candidates] - log_f[t], log_w[candidates] - log_w[t])
        order = candidates[np.lexsort((candidates, dist))]
        picked, seen = [], set()
        for c in order:
            if atoms[c] in seen:
                continue
            picked.append(int(c))
            seen.add(atoms[c])
            if len(picked) == n:
                break
        out[int(t)] = picked
    return out
