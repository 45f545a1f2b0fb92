"""k-th order Markov model of DNA: the baseline a language model's bits/nucleotide must beat.

Fitted on both strands of the same training DNA the model saw (it was trained with reverse-complement
augmentation); additive smoothing. Scored only where the target and its k preceding bases are ACGT.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

_CODE = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i
    _CODE[_c + 32] = _i


def base_codes(seq: np.ndarray | bytes | str) -> np.ndarray:
    """0..3 for ACGT (either case), 4 for anything else."""
    if isinstance(seq, str):
        seq = seq.encode()
    if isinstance(seq, bytes):
        seq = np.frombuffer(seq, dtype=np.uint8)
    return _CODE[np.asarray(seq, dtype=np.uint8)]


def _contexts(codes: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """(index of the (order+1)-mer ending at each scorable position, valid mask) for positions >= order."""
    n = len(codes)
    if n <= order:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    idx = np.zeros(n - order, dtype=np.int64)
    valid = np.ones(n - order, dtype=bool)
    for j in range(order + 1):
        part = codes[j : n - order + j]
        valid &= part < 4
        idx = idx * 4 + np.minimum(part, 3)
    return idx, valid


class MarkovModel:
    def __init__(self, order: int = 5, alpha: float = 0.5) -> None:
        self.order = order
        self.alpha = alpha
        self.counts = np.zeros(4 ** (order + 1), dtype=np.float64)

    def fit(self, sequences: Iterable[np.ndarray], both_strands: bool = True) -> "MarkovModel":
        for seq in sequences:
            codes = base_codes(seq)
            strands = [codes, np.where(codes < 4, 3 - codes, 4)[::-1]] if both_strands else [codes]
            for c in strands:
                idx, valid = _contexts(c, self.order)
                self.counts += np.bincount(idx[valid], minlength=len(self.counts))
        return self

    def log2_probs(self) -> np.ndarray:
        table = self.counts.reshape(-1, 4) + self.alpha
        return np.log2(table / table.sum(1, keepdims=True)).reshape(-1)

    def position_bits(self, seq) -> tuple[np.ndarray, np.ndarray]:
        """(bits for each position >= order, valid mask) — position i scored from bases i-order..i-1."""
        idx, valid = _contexts(base_codes(seq), self.order)
        return -self.log2_probs()[idx], valid

    def bits_per_nt(self, seqs: Iterable) -> float:
        total, count = 0.0, 0
        for seq in seqs:
            bits, valid = self.position_bits(seq)
            total += float(bits[valid].sum())
            count += int(valid.sum())
        return total / count if count else math.nan
