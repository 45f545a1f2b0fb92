"""What a concept is: intervals or per-nucleotide arrays over the genome, valued per READ strand.

A concept is computed once per genome, never per window. Its value on a window read on the + strand
is `plus[start:end]`; on the − strand `minus[start:end][::-1]`. For concepts tied to an annotated
strand, `plus` holds the features on + and `minus` those on −, so the same concept read the other way
round is its antisense twin (`X_antisense`, swapped arrays) and the labels of a − window are the exact
mirror of the + window with sense and antisense swapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np

KINDS = ("region", "position", "sequence", "track")
ANTISENSE_SUFFIX = "_antisense"


@dataclass(frozen=True)
class IntervalSet:
    """Instance parts as columns: part i belongs to local instance `instance[i]` (0..n_instances-1).

    Parts never cross a contig end: a part that wraps the origin of a circular contig is two parts of
    one instance. Strand is '+', '-' or '.' ('.' counts for both read strands).
    """

    contig: np.ndarray  # str [P]
    start: np.ndarray  # int64 [P]
    end: np.ndarray  # int64 [P]
    strand: np.ndarray  # '<U1' [P]
    instance: np.ndarray  # int64 [P]
    feature_id: Sequence[str]  # [n_instances]
    name: Sequence[str]  # [n_instances]

    @property
    def n_instances(self) -> int:
        return len(self.feature_id)

    @property
    def n_parts(self) -> int:
        return len(self.start)

    @cached_property
    def _by_contig(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.n_parts:
            order = np.argsort(self.contig, kind="stable")
            names, first = np.unique(self.contig[order], return_index=True)
            bounds = list(first[1:]) + [len(order)]
            for name, a, b in zip(names, first, bounds):
                out[str(name)] = order[a:b]
        return out

    def parts_on(self, contig: str, read_strand: str) -> np.ndarray:
        """Indices of parts on `contig` that count for reads of `read_strand` ('+' or '-')."""
        idx = self._by_contig.get(contig)
        if idx is None:
            return np.zeros(0, dtype=np.int64)
        keep = (self.strand[idx] == read_strand) | (self.strand[idx] == ".")
        return idx[keep]

    @cached_property
    def instance_length(self) -> np.ndarray:
        """Total length of each instance (sum over its parts)."""
        return np.bincount(self.instance, weights=self.end - self.start, minlength=self.n_instances)


class IntervalBuilder:
    """Collects instances part by part (Python lists), then freezes them into an IntervalSet."""

    def __init__(self) -> None:
        self._contig: list[str] = []
        self._start: list[int] = []
        self._end: list[int] = []
        self._strand: list[str] = []
        self._instance: list[int] = []
        self._arrays: list[tuple[np.ndarray, ...]] = []
        self.feature_id: list[str] = []
        self.name: list[str] = []

    def add(self, parts: Sequence[tuple[str, int, int, str]], feature_id: str = "", name: str = "") -> None:
        parts = [p for p in parts if p[2] > p[1]]
        if not parts:
            return
        k = len(self.feature_id)
        self.feature_id.append(feature_id)
        self.name.append(name)
        for contig, start, end, strand in parts:
            self._contig.append(contig)
            self._start.append(int(start))
            self._end.append(int(end))
            self._strand.append(strand)
            self._instance.append(k)

    def add_runs(self, contig: str, starts: np.ndarray, ends: np.ndarray, strand: str | np.ndarray, name: str) -> None:
        """Add one single-part instance per (start, end) run, vectorised (sequence-derived concepts)."""
        n = len(starts)
        if n == 0:
            return
        k = len(self.feature_id)
        strands = np.broadcast_to(np.asarray(strand, dtype="<U1"), (n,))
        self._arrays.append(
            (
                np.full(n, contig, dtype=object),
                np.asarray(starts, np.int64),
                np.asarray(ends, np.int64),
                np.array(strands, dtype="<U1"),
                np.arange(k, k + n, dtype=np.int64),
            )
        )
        self.feature_id.extend([""] * n)
        self.name.extend([name] * n)

    def build(self) -> IntervalSet:
        cols = [
            (
                np.array(self._contig, dtype=object),
                np.array(self._start, np.int64),
                np.array(self._end, np.int64),
                np.array(self._strand, dtype="<U1"),
                np.array(self._instance, np.int64),
            )
        ] + self._arrays
        contig, start, end, strand, instance = (np.concatenate([c[i] for c in cols]) for i in range(5))
        return IntervalSet(contig.astype(str), start, end, strand.astype("<U1"), instance, self.feature_id, self.name)


@dataclass
class Concept:
    """One boolean concept: from intervals (with instances) or from per-read-strand arrays."""

    name: str
    family: str
    kind: str
    description: str
    intervals: IntervalSet | None = None
    plus: dict[str, np.ndarray] | None = None  # bool per contig, value on + reads
    minus: dict[str, np.ndarray] | None = None  # bool per contig, value on − reads
    stranded: bool = True  # gets an `_antisense` twin (swapped read strands)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"concept kind must be one of {KINDS}, not {self.kind!r}")
        if (self.intervals is None) == (self.plus is None):
            raise ValueError(f"concept {self.name}: give either intervals or plus/minus arrays")

    @property
    def has_instances(self) -> bool:
        return self.intervals is not None

    def is_empty(self) -> bool:
        if self.intervals is not None:
            return self.intervals.n_parts == 0
        return not any(a.any() for a in (*self.plus.values(), *self.minus.values()))

    def values(self, contig: str, length: int, read_strand: str) -> np.ndarray:
        """Bool [length]: this concept on reads of `read_strand` over the whole contig (genome order)."""
        if self.intervals is None:
            arrays = self.plus if read_strand == "+" else self.minus
            found = arrays.get(contig)
            return np.zeros(length, dtype=bool) if found is None else found
        idx = self.intervals.parts_on(contig, read_strand)
        return paint_bool(self.intervals.start[idx], self.intervals.end[idx], length)

    def instance_values(self, contig: str, length: int, read_strand: str, id_offset: int) -> np.ndarray:
        """Int32 [length]: global instance id per nucleotide, −1 outside; the shortest instance wins."""
        iv = self.intervals
        out = np.full(length, -1, dtype=np.int32)
        if iv is None:
            return out
        idx = iv.parts_on(contig, read_strand)
        if len(idx) == 0:
            return out
        order = idx[np.argsort(-iv.instance_length[iv.instance[idx]], kind="stable")]
        ids = (iv.instance[order] + id_offset).astype(np.int32)
        for s, e, i in zip(iv.start[order].tolist(), iv.end[order].tolist(), ids.tolist()):
            out[s:e] = i
        return out


@dataclass
class CategoricalConcept:
    """A per-nucleotide class (e.g. amino acid) for softmax probes; −1 where undefined."""

    name: str
    family: str
    description: str
    classes: list[str]
    plus: dict[str, np.ndarray] = field(default_factory=dict)  # int8 per contig, value on + reads
    minus: dict[str, np.ndarray] = field(default_factory=dict)

    def values(self, contig: str, length: int, read_strand: str) -> np.ndarray:
        found = (self.plus if read_strand == "+" else self.minus).get(contig)
        return np.full(length, -1, dtype=np.int8) if found is None else found


def paint_bool(starts: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """Union of [start, end) intervals as a bool array (difference array + cumsum, no Python loop)."""
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    if len(starts) <= 2048:  # few intervals: slice assignment beats a pass over the whole contig
        out = np.zeros(length, dtype=bool)
        for s, e in zip(starts.tolist(), ends.tolist()):
            out[s:e] = True
        return out
    diff = np.bincount(np.asarray(starts, np.int64), minlength=length + 1).astype(np.int32)
    diff -= np.bincount(np.asarray(ends, np.int64), minlength=length + 1).astype(np.int32)
    return np.cumsum(diff[:-1]) > 0


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (half-open) of the True runs of a bool array."""
    padded = np.concatenate(([False], np.asarray(mask, bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def circular_runs(mask: np.ndarray, circular: bool) -> list[list[tuple[int, int]]]:
    """Runs of True as instances; on a circular contig a run touching both ends is one two-part instance."""
    starts, ends = runs(mask)
    out = [[(int(s), int(e))] for s, e in zip(starts, ends)]
    n = len(mask)
    if circular and len(out) > 1 and out[0][0][0] == 0 and out[-1][0][1] == n:
        out[0] = out.pop() + out[0]
    return out
