"""Fast exact-repeat check: long duplicated regions (direct or inverted) that a split must keep together.

A chloroplast's two inverted repeats (~26 kb) or a bacterium's rRNA operons are near-identical copies;
with one copy in training and one held out, held-out scores would measure memorised sequence. We find
stretches ≥ min_length where every canonical k-mer (k ≤ 32, 2 bits per base, strand-free) occurs
elsewhere too, then pair each stretch with the positions sharing its k-mers. Everything is numpy
over 64-bit k-mer codes: one np.unique of all k-mers, no alignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i
    _CODE[ord(chr(_b).lower())] = _i


@dataclass(frozen=True)
class RepeatCopy:
    contig: str
    start: int
    end: int


def canonical_kmers(seq: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, valid) of the canonical k-mer starting at each position (valid: no N, fits the sequence)."""
    if not 1 <= k <= 32:
        raise ValueError("k must be in 1..32")
    base = _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    n = base.size - k + 1
    if n <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    bad = np.concatenate(([0], np.cumsum(base == 4)))
    valid = bad[k:] - bad[:n] == 0
    b = np.where(base == 4, 0, base).astype(np.uint64)
    fwd = np.zeros(n, np.uint64)
    rev = np.zeros(n, np.uint64)
    for j in range(k):
        fwd = (fwd << np.uint64(2)) | b[j : j + n]
        rev |= (np.uint64(3) - b[j : j + n]) << np.uint64(2 * j)
    return np.minimum(fwd, rev), valid


def find_repeats(
    sequences: Mapping[str, str], min_length: int = 1000, k: int = 32, max_copies: int = 16
) -> list[tuple[RepeatCopy, RepeatCopy]]:
    """Pairs of copies of exact repeats ≥ min_length (either orientation), as genome intervals.

    A k-mer seen more than max_copies times (low-complexity sequence) never anchors a pair.
    """
    names = list(sequences)
    codes, contig_of, pos_of = [], [], []
    for ci, name in enumerate(names):
        km, valid = canonical_kmers(sequences[name], k)
        idx = np.flatnonzero(valid)
        codes.append(km[idx])
        contig_of.append(np.full(idx.size, ci, np.int32))
        pos_of.append(idx)
    if not codes or sum(c.size for c in codes) == 0:
        return []
    allk, contig, pos = np.concatenate(codes), np.concatenate(contig_of), np.concatenate(pos_of)
    order = np.argsort(allk, kind="stable")
    sorted_k = allk[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_k[1:] != sorted_k[:-1])))
    sizes = np.diff(np.concatenate((starts, [sorted_k.size])))
    size_of = np.repeat(sizes, sizes)
    repeated = np.zeros(allk.size, bool)
    repeated[order] = (size_of >= 2) & (size_of <= max_copies)
    pairs: list[tuple[RepeatCopy, RepeatCopy]] = []
    step = max(1, (min_length - k + 1) // 4)
    for run_contig, run_start, run_end in _runs(repeated, contig, pos, min_length - k + 1):
        anchors = np.arange(run_start, run_end, step)
        sel = np.flatnonzero((contig == run_contig) & np.isin(pos, anchors))
        for entry in sel:
            lo = np.searchsorted(sorted_k, allk[entry], side="left")
            hi = np.searchsorted(sorted_k, allk[entry], side="right")
            for other in order[lo:hi]:
                if other == entry:
                    continue
                a = RepeatCopy(names[run_contig], int(run_start), int(run_end + k - 1))
                b = RepeatCopy(names[contig[other]], int(pos[other]), int(pos[other]) + k)
                pairs.append((a, b))
    return pairs


def _runs(flags: np.ndarray, contig: np.ndarray, pos: np.ndarray, min_run: int):
    """(contig, first, last+1) of maximal runs of consecutive flagged positions, at least min_run long."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return
    c, p = contig[idx], pos[idx]
    breaks = np.flatnonzero((np.diff(p) != 1) | (np.diff(c) != 0)) + 1
    for s, e in zip(np.concatenate(([0], breaks)), np.concatenate((breaks, [idx.size]))):
        if e - s >= max(1, min_run):
            yield int(c[s]), int(p[s]), int(p[e - 1]) + 1
