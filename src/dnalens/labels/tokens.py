"""Token layout: windows concatenated in table order, each in read order (reversed on −).

Token t of the store is window `w` (its row), base k of the read; its genome position is
start + k (+) or end − 1 − k (−), modulo the contig length (a window may wrap a circular origin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.coordinates import token_positions
from dnalens.formats.window_table import Window


@dataclass(frozen=True)
class TokenLayout:
    offsets: np.ndarray  # int64 [W+1]
    window_of_token: np.ndarray  # int64 [N]
    position: np.ndarray  # int64 [N], genome position of each token

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def groups(self, windows: Sequence[Window]) -> dict[tuple[str, str], np.ndarray]:
        """Token indices per (contig, read strand), in token order."""
        keys: dict[tuple[str, str], list[int]] = {}
        for i, w in enumerate(windows):
            keys.setdefault((w.contig, w.strand), []).append(i)
        return {k: ranges_to_indices(self.offsets[v], self.offsets[np.asarray(v) + 1]) for k, v in keys.items()}


def check_windows(windows: Sequence[Window], lengths: dict[str, int], circular: frozenset[str]) -> None:
    for i, w in enumerate(windows):
        size = lengths.get(w.contig)
        if size is None:
            raise InputError(
                f"window {i + 1} ({w.name}) is on contig {w.contig!r}, which the FASTA lacks.",
                fix="build windows.bed from the same FASTA.",
            )
        limit = 2 * size if w.contig in circular else size
        if w.start < 0 or w.end <= w.start or w.end > limit or w.length > size:
            raise InputError(
                f"window {i + 1} ({w.contig}:{w.start}-{w.end}) lies outside the contig "
                f"(length {size}{', circular' if w.contig in circular else ''}).",
                fix="rebuild windows.bed with `dnalens windows` for this genome.",
            )


def token_layout(windows: Sequence[Window], lengths: dict[str, int]) -> TokenLayout:
    """Genome position of every token (formats.coordinates.token_positions; no per-nucleotide Python loop)."""
    starts = np.array([w.start for w in windows], dtype=np.int64)
    ends = np.array([w.end for w in windows], dtype=np.int64)
    offsets = np.zeros(len(windows) + 1, dtype=np.int64)
    np.cumsum(ends - starts, out=offsets[1:])
    owner, pos = token_positions(starts, ends, [w.strand == "-" for w in windows], [lengths[w.contig] for w in windows])
    return TokenLayout(offsets, owner, pos)


def ranges_to_indices(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenate np.arange(s, e) for each pair, vectorised."""
    starts = np.asarray(starts, np.int64)
    lengths = np.asarray(ends, np.int64) - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return first + np.arange(total, dtype=np.int64)


def window_positions(window: Window, size: int) -> np.ndarray:
    """Genome position of each token of one window, in read order."""
    return token_positions([window.start], [window.end], [window.strand == "-"], size)[1]
