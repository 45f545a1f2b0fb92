"""Which window each variant is read in: variants close together share one window and its reference pass.

Why share: scoring a variant needs the reference window read forward and reverse-complemented as well as
the alt; when neighbouring variants use one window, the cost is two passes per alt allele plus two per
window (issue #32), not four per allele. Variants of a contig are grouped greedily in position order while a
group spans at most `shared_span` nt; the window is centred on the group, so a variant sits at most
shared_span / 2 off its centre (0 = a window centred on each variant, as Evo 2 scores variants).
Circular contigs wrap (positions modulo the length); on linear contigs the window is moved inside the contig.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from dnalens.errors import InputError
from dnalens.formats.window_table import span_sequence
from dnalens.variants.vcf_input import Allele


@dataclass(frozen=True)
class SharedWindow:
    contig: str
    start: int  # 0-based; end may pass the contig length on a circular contig (read modulo the length)
    end: int
    alleles: tuple[int, ...]  # indices into the allele list

    def offset(self, allele: Allele, contig_length: int) -> int:
        """Index of the allele's first REF base in the window's sequence."""
        return (allele.start - self.start) % contig_length


def plan_windows(
    alleles: Sequence[Allele],
    lengths: Mapping[str, int],
    circular: frozenset[str],
    window: int,
    shared_span: int,
) -> list[SharedWindow]:
    """Windows in contig then position order, each with the alleles it scores (see module docstring)."""
    if 2 * shared_span > window:
        raise InputError(
            f"variants.shared_span ({shared_span}) is more than half of variants.window ({window}): a variant could "
            "fall outside its window.",
            fix="lower variants.shared_span or raise variants.window.",
        )
    order = sorted(range(len(alleles)), key=lambda i: (alleles[i].contig, alleles[i].start, i))
    groups: list[list[int]] = []
    for i in order:
        a = alleles[i]
        if groups:
            first = alleles[groups[-1][0]]
            if first.contig == a.contig and a.start + len(a.ref) - first.start <= max(shared_span, 1):
                groups[-1].append(i)
                continue
        groups.append([i])
    return [
        _window(alleles, g, lengths[alleles[g[0]].contig], alleles[g[0]].contig in circular, window) for g in groups
    ]


def _window(alleles: Sequence[Allele], group: list[int], n: int, circular: bool, window: int) -> SharedWindow:
    first = alleles[group[0]]
    last_end = max(alleles[i].start + len(alleles[i].ref) for i in group)
    size = min(window, n)
    start = (first.start + last_end) // 2 - size // 2
    if circular:
        start %= n
    else:
        start = min(max(start, 0), n - size)
    return SharedWindow(first.contig, start, start + size, tuple(group))


def window_sequences(fasta, win: SharedWindow, alleles: Sequence[Allele], contig_length: int) -> tuple[str, list[str]]:
    """(reference sequence, one alt sequence per allele of the window): each alt is the window with only its
    own allele applied (the others stay reference)."""
    ref = span_sequence(fasta, win.contig, win.start, win.end, "+")
    alts = []
    for i in win.alleles:
        a = alleles[i]
        off = win.offset(a, contig_length)
        if ref[off : off + len(a.ref)] != a.ref:  # the reader checked REF; this guards the window arithmetic
            raise AssertionError(f"{a.contig}:{a.pos} REF {a.ref} not at offset {off} of its window")
        alts.append(ref[:off] + a.alt + ref[off + len(a.ref) :])
    return ref, alts
