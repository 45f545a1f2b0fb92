"""Concepts read off the sequence itself: base identity, GC-rich/poor stretches, homopolymers, CpG."""

from __future__ import annotations

import numpy as np

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import BASES, COMPLEMENT_CODE, N_CODE
from dnalens.concepts.model import CategoricalConcept, Concept, IntervalBuilder, runs

FAMILY = "sequence"
CONCEPTS = {
    **{f"base_{b}": f"the read base is {b} (read strand: base_A on a − read is T on the + strand)" for b in BASES},
    "GC_rich": "GC fraction of the gc_window-nt window centred on the base >= genome mean + gc_delta",
    "GC_poor": "GC fraction of the gc_window-nt window centred on the base <= genome mean - gc_delta",
    "homopolymer": "runs of one base at least homopolymer_min nt long",
    "CpG": "both bases of each CG dinucleotide",
}
CATEGORICAL = {"base": "read base (A, C, G, T; −1 for N and other letters)"}


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept | CategoricalConcept]:
    codes = ctx.genome.codes
    out: list[Concept | CategoricalConcept] = []
    for i, b in enumerate(BASES):
        name = f"base_{b}"
        if name in wanted:
            plus = {c: a == i for c, a in codes.items()}
            minus = {c: a == COMPLEMENT_CODE[i] for c, a in codes.items()}
            out.append(Concept(name, FAMILY, "sequence", CONCEPTS[name], plus=plus, minus=minus, stranded=False))
    if "GC_rich" in wanted or "GC_poor" in wanted:
        rich, poor = _gc(ctx)
        for name, builder in (("GC_rich", rich), ("GC_poor", poor)):
            if name in wanted:
                out.append(Concept(name, FAMILY, "sequence", CONCEPTS[name], intervals=builder.build(), stranded=False))
    if "homopolymer" in wanted:
        out.append(
            Concept(
                "homopolymer",
                FAMILY,
                "sequence",
                CONCEPTS["homopolymer"],
                intervals=_homopolymers(ctx).build(),
                stranded=False,
            )
        )
    if "CpG" in wanted:
        out.append(Concept("CpG", FAMILY, "sequence", CONCEPTS["CpG"], intervals=_cpg(ctx).build(), stranded=False))
    if "base" in wanted:
        # codes are uint8: cast to int8 before -1 enters (numpy >= 2.5 refuses -1 as a uint8 value)
        plus = {c: np.where(a < N_CODE, a.astype(np.int8), np.int8(-1)) for c, a in codes.items()}
        minus = {c: np.where(a < N_CODE, COMPLEMENT_CODE[a].astype(np.int8), np.int8(-1)) for c, a in codes.items()}
        out.append(CategoricalConcept("base", FAMILY, CATEGORICAL["base"], list(BASES), plus, minus))
    return out


def gc_fraction(codes: np.ndarray, window: int, circular: bool) -> np.ndarray:
    """GC fraction of the window centred on each base (ignoring N); wraps on circular contigs."""
    gc = ((codes == 1) | (codes == 2)).astype(np.int32)
    valid = (codes < N_CODE).astype(np.int32)
    n, half = len(codes), window // 2
    if circular and window <= n:
        tail = window - half
        gc_cs = _prefix_sums(np.concatenate((gc[n - half :], gc, gc[:tail])))
        va_cs = _prefix_sums(np.concatenate((valid[n - half :], valid, valid[:tail])))
        lo, hi = np.arange(n), np.arange(n) + window
    else:
        gc_cs, va_cs = _prefix_sums(gc), _prefix_sums(valid)
        lo = np.clip(np.arange(n) - half, 0, n)
        hi = np.clip(np.arange(n) - half + window, 0, n)
    counted = va_cs[hi] - va_cs[lo]
    return np.where(counted > 0, (gc_cs[hi] - gc_cs[lo]) / np.maximum(counted, 1), np.nan)


def _prefix_sums(values: np.ndarray) -> np.ndarray:
    return np.concatenate((np.zeros(1, np.int32), np.cumsum(values, dtype=np.int32)))


def _gc(ctx: ConceptContext) -> tuple[IntervalBuilder, IntervalBuilder]:
    s = ctx.settings
    codes = ctx.genome.codes
    total_gc = sum(int(((a == 1) | (a == 2)).sum()) for a in codes.values())
    total = sum(int((a < N_CODE).sum()) for a in codes.values())
    mean = total_gc / max(total, 1)
    rich, poor = IntervalBuilder(), IntervalBuilder()
    for contig, a in codes.items():
        frac = gc_fraction(a, s.gc_window, ctx.genome.is_circular(contig))
        with np.errstate(invalid="ignore"):
            for builder, mask, label in (
                (rich, frac >= mean + s.gc_delta, "GC_rich"),
                (poor, frac <= mean - s.gc_delta, "GC_poor"),
            ):
                starts, ends = runs(mask)
                builder.add_runs(contig, starts, ends, ".", label)
    return rich, poor


def _homopolymers(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    for contig, a in ctx.genome.codes.items():
        if len(a) == 0:
            continue
        change = np.flatnonzero(np.diff(a) != 0) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(a)]))
        keep = ((ends - starts) >= ctx.settings.homopolymer_min) & (a[starts] < N_CODE)
        b.add_runs(contig, starts[keep], ends[keep], ".", "homopolymer")
    return b


def _cpg(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    for contig, a in ctx.genome.codes.items():
        at = np.flatnonzero((a[:-1] == 1) & (a[1:] == 2))
        b.add_runs(contig, at, at + 2, ".", "CpG")
        if ctx.genome.is_circular(contig) and len(a) > 1 and a[-1] == 1 and a[0] == 2:
            b.add([(contig, len(a) - 1, len(a), "."), (contig, 0, 1, ".")], "", "CpG")
    return b
