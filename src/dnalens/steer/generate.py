"""Seeded sampling of new bases after a prompt, from a stepper's next-base distribution.

Why uniforms drawn up front: sequence n draws its uniforms from seed + n (numpy's default generator), and
each base is the inverse CDF of the tempered distribution at the next uniform. So the same seed under two
edits uses the same random numbers (paired rows: what differs is the model's distribution), and strength 0
reproduces plain sampling exactly (tests/steer/test_generate.py).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

BASES = "ACGT"


def sequence_uniforms(seeds: Sequence[int], length: int) -> np.ndarray:
    """[B, length] uniforms in [0, 1): row i from numpy's default_rng(seeds[i])."""
    return (
        np.stack([np.random.default_rng(int(s)).random(int(length)) for s in seeds])
        if len(seeds)
        else np.zeros((0, int(length)))
    )


def sample_bases(log_probs: np.ndarray, uniforms: np.ndarray, temperature: float) -> np.ndarray:
    """Codes 0-3 [B]: inverse-CDF samples of softmax(log_probs / temperature) (renormalised over A, C, G, T);
    temperature 0 = the most likely base."""
    logp = np.asarray(log_probs, np.float64)
    if temperature == 0:
        return logp.argmax(axis=1)
    z = logp / float(temperature)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cdf < np.asarray(uniforms)[:, None]).sum(axis=1), 3)


def generate(stepper, prompts: Sequence[str], uniforms: np.ndarray, temperature: float) -> list[str]:
    """`uniforms.shape[1]` new bases after each prompt (equal lengths), sampled from `stepper`."""
    length = uniforms.shape[1]
    if len(prompts) == 0 or length == 0:
        return ["" for _ in prompts]
    out = np.zeros((len(prompts), length), np.int64)
    logp = stepper.start(prompts)
    for t in range(length):
        out[:, t] = sample_bases(logp, uniforms[:, t], temperature)
        if t + 1 < length:
            logp = stepper.advance(out[:, t])
    letters = np.frombuffer(BASES.encode(), np.uint8)[out]
    return [row.tobytes().decode() for row in letters]
