"""Held-out splits by contiguous genome blocks (never random tokens), duplicated regions on one side.

Neighbouring nucleotides share labels and context, so a random token split leaks; instead each contig
is cut into blocks of `block_size` bp, and whole blocks go to train or test. A token's side follows
its genome position, so windows on both strands of a region land on the same side. Blocks that hold
copies of one repeat (user-listed, or found by `repeats.find_repeats`) are tied into one unit first.
Optionally tokens within `gap` bp of a train/test boundary are left out of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dnalens.errors import InputError
from dnalens.probe.repeats import RepeatCopy

TRAIN, TEST, EXCLUDED = 0, 1, -1
_REGION = re.compile(r"^(?P<contig>.+):(?P<start>[\d,_]+)-(?P<end>[\d,_]+)$")


@dataclass(frozen=True)
class Block:
    contig: str
    start: int
    end: int


@dataclass
class Split:
    """Side of every block and token; rows are sorted token indices."""

    blocks: list[Block]
    block_side: np.ndarray  # [B] TRAIN / TEST
    block_unit: np.ndarray  # [B] tied unit id
    token_side: np.ndarray  # [N] TRAIN / TEST / EXCLUDED
    settings: dict = field(default_factory=dict)

    @property
    def train_rows(self) -> np.ndarray:
        return np.flatnonzero(self.token_side == TRAIN)

    @property
    def test_rows(self) -> np.ndarray:
        return np.flatnonzero(self.token_side == TEST)

    def to_json(self) -> dict:
        return {
            "settings": self.settings,
            "n_train_tokens": int((self.token_side == TRAIN).sum()),
            "n_test_tokens": int((self.token_side == TEST).sum()),
            "n_excluded_tokens": int((self.token_side == EXCLUDED).sum()),
            "blocks": [
                {
                    "contig": b.contig,
                    "start": b.start,
                    "end": b.end,
                    "side": "test" if s == TEST else "train",
                    "unit": int(u),
                }
                for b, s, u in zip(self.blocks, self.block_side, self.block_unit)
            ],
        }


def parse_region(text: str) -> RepeatCopy:
    """`contig:start-end`, BED-style (0-based, end exclusive); commas/underscores in numbers allowed."""
    m = _REGION.match(text.strip())
    if not m:
        raise InputError(
            f"region {text!r} is not contig:start-end.",
            fix="write e.g. NC_000932.1:84170-110434 (0-based, end exclusive).",
        )
    start, end = (int(m.group(g).replace(",", "").replace("_", "")) for g in ("start", "end"))
    if end <= start:
        raise InputError(f"region {text!r} ends before it starts.")
    return RepeatCopy(m.group("contig"), start, end)


def genome_blocks(contig_lengths: Mapping[str, int], block_size: int) -> list[Block]:
    if block_size <= 0:
        raise InputError(f"probe.block_size must be > 0, got {block_size}.")
    return [
        Block(contig, s, min(s + block_size, length))
        for contig, length in contig_lengths.items()
        for s in range(0, length, block_size)
    ]


def _block_index(blocks: Sequence[Block]) -> dict[str, tuple[int, int]]:
    """contig -> (first block id, block size)."""
    out: dict[str, tuple[int, int]] = {}
    for i, b in enumerate(blocks):
        if b.contig not in out:
            out[b.contig] = (i, b.end - b.start)
    return out


def blocks_of(region: RepeatCopy, blocks: Sequence[Block], index=None) -> list[int]:
    index = index or _block_index(blocks)
    if region.contig not in index:
        return []
    first, size = index[region.contig]
    lo, hi = region.start // size, (region.end - 1) // size
    return [i for i in range(first + lo, first + hi + 1) if i < len(blocks) and blocks[i].contig == region.contig]


def tie_units(blocks: Sequence[Block], groups: Iterable[Sequence[RepeatCopy]]) -> np.ndarray:
    """Connected components of blocks linked by sharing a group (each group: copies of one repeat)."""
    index = _block_index(blocks)
    a, b = [], []
    for group in groups:
        ids = sorted({i for region in group for i in blocks_of(region, blocks, index)})
        a.extend(ids[:-1])
        b.extend(ids[1:])
    n = len(blocks)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def assign_sides(unit: np.ndarray, weight: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Side per block: units in seeded random order go to test while that brings test nearer its share."""
    if not 0 < test_fraction < 1:
        raise InputError(f"probe.test_fraction must be between 0 and 1, got {test_fraction}.")
    n_units = int(unit.max()) + 1 if unit.size else 0
    unit_weight = np.bincount(unit, weights=weight, minlength=n_units)
    present = np.flatnonzero(unit_weight > 0)
    if present.size < 2:
        raise InputError(
            f"only {present.size} block unit(s) hold tokens; a held-out split needs at least 2.",
            fix="lower probe.block_size (or list fewer duplicated regions).",
        )
    target = test_fraction * unit_weight.sum()
    rng = np.random.default_rng(seed)
    is_test = np.zeros(n_units, bool)
    total = 0.0
    for u in rng.permutation(present):
        if abs(total + unit_weight[u] - target) < abs(total - target) and is_test[present].sum() < present.size - 1:
            is_test[u] = True
            total += unit_weight[u]
    if not is_test.any():  # every unit is larger than the target: hold out the smallest
        is_test[present[np.argmin(unit_weight[present])]] = True
    return np.where(is_test[unit], TEST, TRAIN)


def make_split(
    token_contig: np.ndarray,
    token_position: np.ndarray,
    contig_names: Sequence[str],
    contig_lengths: Mapping[str, int],
    *,
    block_size: int,
    test_fraction: float,
    seed: int = 0,
    gap: int = 0,
    duplicate_groups: Iterable[Sequence[RepeatCopy]] = (),
) -> Split:
    """Split tokens (contig index into contig_names, genome position) into train/test blocks."""
    blocks = genome_blocks({c: contig_lengths[c] for c in contig_names}, block_size)
    index = _block_index(blocks)
    first = np.array([index[c][0] for c in contig_names], np.int64)
    token_block = first[token_contig] + token_position // block_size
    weight = np.bincount(token_block, minlength=len(blocks)).astype(float)
    unit = tie_units(blocks, duplicate_groups)
    side = assign_sides(unit, weight, test_fraction, seed)
    token_side = side[token_block].astype(np.int8)
    if gap > 0:
        token_side[_near_other_side(token_block, token_position, side, blocks, gap)] = EXCLUDED
    settings = {"block_size": block_size, "test_fraction": test_fraction, "seed": seed, "gap": gap}
    return Split(blocks, side, unit, token_side, settings)


def _near_other_side(token_block, token_position, side, blocks, gap) -> np.ndarray:
    starts = np.array([b.start for b in blocks])
    ends = np.array([b.end for b in blocks])
    contigs = np.array([b.contig for b in blocks], dtype=object)
    n = len(blocks)
    prev_differs = np.zeros(n, bool)
    next_differs = np.zeros(n, bool)
    same_prev = np.concatenate(([False], contigs[1:] == contigs[:-1]))
    prev_differs[1:] = same_prev[1:] & (side[1:] != side[:-1])
    next_differs[:-1] = same_prev[1:] & (side[:-1] != side[1:])
    near_start = (token_position - starts[token_block] < gap) & prev_differs[token_block]
    near_end = (ends[token_block] - token_position <= gap) & next_differs[token_block]
    return near_start | near_end
