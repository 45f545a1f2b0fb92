"""The one token -> genome-position rule (docs/ARCHITECTURE.md, `formats/coordinates.py`), vectorised.

Token k of a window (k counted in read order from the window's first base) lies at genome position
`start + k` on the + strand and `end - 1 - k` on the − strand, modulo the contig length (a window on a
circular contig may run past the origin). A window whose first bases were trimmed holds tokens from read
offset `read_offset` on. Every stage that maps buffer rows, label rows or hits to the genome calls this.
"""

from __future__ import annotations

import numpy as np


def token_positions(
    start, end, minus, contig_length, *, count=None, read_offset=None, wrap: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position): for every token of every window in order, its window index and genome position.

    Arrays are per window: 0-based half-open `start`/`end`, `minus` strand flags, `contig_length`; `count`
    tokens per window (default: all bases) starting at read offset `read_offset` (default 0). With
    `wrap=False` positions past the origin of a circular contig stay >= the contig length (runs of
    neighbouring tokens stay contiguous)."""
    start = np.asarray(start, np.int64)
    end = np.asarray(end, np.int64)
    count = end - start if count is None else np.asarray(count, np.int64)
    offset = np.zeros_like(start) if read_offset is None else np.asarray(read_offset, np.int64)
    if (count < 0).any() or (offset < 0).any() or (offset + count > end - start).any():
        raise ValueError("a window holds more tokens than bases")
    owner, k = token_read_offsets(count, offset)
    return owner, offset_positions(owner, k, start, end, minus, contig_length, wrap=wrap)


def token_read_offsets(count, read_offset) -> tuple[np.ndarray, np.ndarray]:
    """(owner, k): each token's window index and read offset in it, for windows of `count` tokens whose
    first token sits at read offset `read_offset`. (Not `models.window_pass.token_offsets`, the row at
    which each window's tokens start in a shard.)"""
    count = np.asarray(count, np.int64)
    owner = np.repeat(np.arange(len(count), dtype=np.int64), count)
    first = np.zeros(len(count) + 1, np.int64)
    np.cumsum(count, out=first[1:])
    k = np.arange(int(first[-1]), dtype=np.int64) - np.repeat(first[:-1] - np.asarray(read_offset, np.int64), count)
    return owner, k


def offset_positions(owner, k, start, end, minus, contig_length, *, wrap: bool = True) -> np.ndarray:
    """The rule itself: genome position of read offset `k` in window `owner` (per-window arrays as above)."""
    start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
    size = np.broadcast_to(np.asarray(contig_length, np.int64), start.shape)
    position = np.where(np.asarray(minus, bool)[owner], end[owner] - 1 - k, start[owner] + k)
    wraps = position >= size[owner]
    if wrap and wraps.any():  # past the origin of a circular contig (windows never exceed one contig length)
        position[wraps] -= size[owner][wraps]
    return position


def read_offsets(position, start, end, minus, contig_length) -> np.ndarray:
    """The inverse: read offset of genome `position` in each window (the same rule solved for k); an
    offset >= the window's length means the position lies outside that window."""
    start, end = np.asarray(start, np.int64), np.asarray(end, np.int64)
    position = np.asarray(position, np.int64)
    k = np.where(np.asarray(minus, bool), end - 1 - position, position - start)
    return np.mod(k, np.asarray(contig_length, np.int64))
