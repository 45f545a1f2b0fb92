"""Promoters (a window upstream of each transcript or operon start) and transcription start sites."""

from __future__ import annotations

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.concepts.units import TranscriptUnit, positions

FAMILY = "regulatory"
CONCEPTS = {
    "promoter": "promoter_upstream nt upstream (+ promoter_downstream nt downstream) of each transcript "
                "start, or of each operon start (same-strand genes <= operon_max_gap apart)",
    "TSS": "5' base of each transcript that starts before its CDS (5' UTR annotated) or is non-coding "
           "(tRNA/rRNA excluded), plus TSS features",
}
TSS_TYPES = frozenset({"TSS", "transcription_start_site"})
PROCESSED = frozenset({"tRNA", "rRNA"})


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    out = []
    if "promoter" in wanted:
        out.append(Concept("promoter", FAMILY, "region", CONCEPTS["promoter"], intervals=_promoters(ctx).build()))
    if "TSS" in wanted:
        out.append(Concept("TSS", FAMILY, "position", CONCEPTS["TSS"], intervals=_tss(ctx).build()))
    return out


def five_prime(u: TranscriptUnit) -> tuple[str, int, str]:
    p = u.body[0]
    return p.seqid, (p.end - 1 if p.strand == "-" else p.start), p.strand


def _tss(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    seen: set[tuple] = set()
    for u in ctx.units:
        if u.synthetic or u.type in PROCESSED or not u.body:
            continue
        seqid, at, strand = five_prime(u)
        if u.cds and positions(u.cds[:1])[0] == at:
            continue  # transcript drawn from the start codon: its real TSS is not annotated
        if (seqid, at, strand) not in seen:
            seen.add((seqid, at, strand))
            b.add([(seqid, at, at + 1, strand)], u.id, u.name)
    for f in ctx.annotation.features:
        if f.type in TSS_TYPES and ctx.on_genome(f.seqid):
            at = f.end - 1 if f.strand == "-" else f.start
            if (f.seqid, at, f.strand) not in seen:
                seen.add((f.seqid, at, f.strand))
                b.add([(f.seqid, at, at + 1, f.strand)], f.id, f.attr("Name") or f.id)
    return b


def _promoters(ctx: ConceptContext) -> IntervalBuilder:
    s = ctx.settings
    anchors = _operon_anchors(ctx) if s.promoter_mode(ctx.genome.kingdom) == "operon" else _transcript_anchors(ctx)
    b = IntervalBuilder()
    for (seqid, at, strand), (fid, name) in anchors.items():
        size = ctx.lengths[seqid]
        if strand == "-":
            lo, hi = at + 1 - s.promoter_downstream, at + 1 + s.promoter_upstream
        else:
            lo, hi = at - s.promoter_upstream, at + s.promoter_downstream
        b.add(_clip(seqid, lo, hi, strand, size, ctx.genome.is_circular(seqid)), fid, name)
    return b


def _transcript_anchors(ctx: ConceptContext) -> dict[tuple[str, int, str], tuple[str, str]]:
    anchors: dict[tuple[str, int, str], tuple[str, str]] = {}
    for u in ctx.units:
        anchors.setdefault(five_prime(u), (u.id, u.name))
    return anchors


def _operon_anchors(ctx: ConceptContext) -> dict[tuple[str, int, str], tuple[str, str]]:
    """Group same-strand transcripts whose gaps are <= operon_max_gap; anchor at each group's first 5' end."""
    loci: dict[tuple[str, str], list[tuple[int, int, TranscriptUnit]]] = {}
    for u in ctx.units:
        seqid, at, strand = five_prime(u)
        same = [p for p in u.body if p.seqid == seqid and p.strand == strand]
        size = ctx.lengths[seqid]
        if strand == "-":  # flip so that 5'→3' runs upwards on both strands
            lo, hi = size - 1 - at, size - min(p.start for p in same)
        else:
            lo, hi = at, max(p.end for p in same)
        loci.setdefault((seqid, strand), []).append((lo, hi, u))
    anchors: dict[tuple[str, int, str], tuple[str, str]] = {}
    for (seqid, strand), items in loci.items():
        items.sort(key=lambda t: (t[0], -t[1]))
        reach = None
        for lo, hi, u in items:
            if reach is None or lo - reach > ctx.settings.operon_max_gap:
                anchors.setdefault(five_prime(u), (u.id, u.name))
                reach = hi
            else:
                reach = max(reach, hi)
    return anchors


def _clip(seqid: str, lo: int, hi: int, strand: str, size: int, circular: bool) -> list[tuple[str, int, int, str]]:
    if hi - lo >= size:
        return [(seqid, 0, size, strand)]
    if not circular:
        return [(seqid, max(lo, 0), min(hi, size), strand)]
    lo_m, hi_m = lo % size, (hi - 1) % size + 1
    if lo_m < hi_m:
        return [(seqid, lo_m, hi_m, strand)]
    return [(seqid, lo_m, size, strand), (seqid, 0, hi_m, strand)]
