"""Gene structure regions: gene, CDS, exon, UTRs, pseudogene, intergenic (one instance per feature)."""

from __future__ import annotations

import numpy as np

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder, circular_runs, paint_bool
from dnalens.concepts.units import TranscriptUnit, feature_name, is_pseudo, positions, positions_to_parts
from dnalens.genome.model import GENE_TYPES, PART_TYPES, TRANSCRIPT_TYPES, Part

FAMILY = "genes"
CONCEPTS = {
    "gene": "annotated gene (all its parts; a trans-spliced gene has parts on both strands)",
    "CDS": "coding sequence of each transcript (stop codon included), pseudogenes excluded",
    "exon": "annotated exons; a spliced transcript without exon rows uses its parts as exons",
    "five_prime_UTR": "exonic bases upstream of the CDS (annotated, else exons minus CDS)",
    "three_prime_UTR": "exonic bases downstream of the CDS (annotated, else exons minus CDS)",
    "pseudogene": "pseudogene (type pseudogene or a gene with a pseudo attribute)",
    "intergenic": "bases covered by no gene, transcript, exon, CDS or UTR on either strand (unstranded)",
}
GENIC_TYPES = GENE_TYPES | TRANSCRIPT_TYPES | PART_TYPES | {"pseudogene", "intron", "UTR", "pseudogenic_exon"}
UTR_TYPES = {"five_prime_UTR": "five_prime_UTR", "three_prime_UTR": "three_prime_UTR"}


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    makers = {
        "gene": lambda: _genes(ctx, pseudo=False),
        "pseudogene": lambda: _genes(ctx, pseudo=True),
        "CDS": lambda: _cds(ctx),
        "exon": lambda: _exons(ctx),
        "five_prime_UTR": lambda: _utrs(ctx, five=True),
        "three_prime_UTR": lambda: _utrs(ctx, five=False),
        "intergenic": lambda: _intergenic(ctx),
    }
    out = []
    for name in CONCEPTS:
        if name in wanted:
            stranded = name != "intergenic"
            out.append(
                Concept(name, FAMILY, "region", CONCEPTS[name], intervals=makers[name]().build(), stranded=stranded)
            )
    return out


def _genes(ctx: ConceptContext, pseudo: bool) -> IntervalBuilder:
    b = IntervalBuilder()
    done: set[str] = set()
    found_any_gene = False
    for f in ctx.annotation.features:
        if f.type not in GENE_TYPES or f.id in done:
            continue
        found_any_gene = True
        done.add(f.id)
        rows = ctx.annotation.rows(f.id)
        if (f.type == "pseudogene" or is_pseudo(rows)) == pseudo:
            b.add(_known(ctx, [(r.seqid, r.start, r.end, r.strand) for r in rows]), f.id, feature_name(rows) or f.id)
    if not found_any_gene:  # GTF without gene lines: a gene spans its transcripts, per contig and strand
        for gene_id, units in _by_gene(ctx.units).items():
            if all(u.pseudo for u in units) == pseudo:
                b.add(_span_parts([p for u in units for p in u.body]), gene_id, units[0].name)
    return b


def _cds(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    seen: set[tuple] = set()
    for u in ctx.units:
        if u.cds and not u.pseudo:
            key = tuple(u.cds)
            if key not in seen:
                seen.add(key)
                b.add([(p.seqid, p.start, p.end, p.strand) for p in u.cds], u.id, u.name)
    return b


def unit_exons(u: TranscriptUnit) -> tuple[Part, ...]:
    """Exon rows, else the body parts of a spliced transcript (GenBank joins carry no exon rows)."""
    if u.exons:
        return u.exons
    return u.body if len(u.body) > 1 else ()


def _exons(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    seen: set[tuple] = set()
    for u in ctx.units:
        for p in unit_exons(u):
            key = (p.seqid, p.start, p.end, p.strand)
            if key not in seen:
                seen.add(key)
                b.add([key], u.id, u.name)
    return b


def _utrs(ctx: ConceptContext, five: bool) -> IntervalBuilder:
    utr_type = "five_prime_UTR" if five else "three_prime_UTR"
    b = IntervalBuilder()
    seen: set[tuple] = set()
    for u in ctx.units:
        explicit = [] if u.synthetic else ctx.annotation.children(u.id, utr_type)
        if explicit:
            for child in explicit:
                rows = ctx.annotation.rows(child)
                key = tuple((r.seqid, r.start, r.end, r.strand) for r in rows)
                if key not in seen:
                    seen.add(key)
                    b.add(_known(ctx, list(key)), child, u.name)
            continue
        for part_list in derived_utr_parts(u, five):
            key = tuple(part_list)
            if key not in seen:
                seen.add(key)
                b.add(part_list, u.id, u.name)
    return b


def derived_utr_parts(u: TranscriptUnit, five: bool) -> list[list[tuple[str, int, int, str]]]:
    """Exonic positions before the first (after the last) CDS base, as one instance's parts."""
    if not u.exons or not u.cds or u.trans_spliced:
        return []
    exon_pos, cds_pos = positions(u.exons), positions(u.cds)
    hit = np.flatnonzero(exon_pos == (cds_pos[0] if five else cds_pos[-1]))
    if len(hit) == 0:
        return []
    utr = exon_pos[: hit[0]] if five else exon_pos[hit[0] + 1 :]
    parts = positions_to_parts(u.exons[0].seqid, utr, u.exons[0].strand)
    return [parts] if parts else []


def _intergenic(ctx: ConceptContext) -> IntervalBuilder:
    b = IntervalBuilder()
    by_contig: dict[str, list[tuple[int, int]]] = {c: [] for c in ctx.lengths}
    for f in ctx.annotation.features:
        if f.type in GENIC_TYPES and f.seqid in by_contig:
            by_contig[f.seqid].append((f.start, f.end))
    for u in ctx.units:
        for p in u.body:
            by_contig[p.seqid].append((p.start, p.end))
    if not any(by_contig.values()):  # no annotation at all: nothing is known to be intergenic
        return b
    for contig, spans in by_contig.items():
        arr = np.array(spans, dtype=np.int64).reshape(-1, 2)
        genic = paint_bool(arr[:, 0], arr[:, 1], ctx.lengths[contig])
        for k, inst in enumerate(circular_runs(~genic, ctx.genome.is_circular(contig))):
            b.add([(contig, s, e, ".") for s, e in inst], f"intergenic:{contig}:{k + 1}", "intergenic")
    return b


def _known(ctx: ConceptContext, parts: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int, str]]:
    return [p for p in parts if ctx.on_genome(p[0])]


def _by_gene(units: list[TranscriptUnit]) -> dict[str, list[TranscriptUnit]]:
    groups: dict[str, list[TranscriptUnit]] = {}
    for u in units:
        groups.setdefault(u.gene_id or u.id, []).append(u)
    return groups


def _span_parts(parts: list[Part]) -> list[tuple[str, int, int, str]]:
    spans: dict[tuple[str, str], list[int]] = {}
    for p in parts:
        s = spans.setdefault((p.seqid, p.strand), [p.start, p.end])
        s[0], s[1] = min(s[0], p.start), max(s[1], p.end)
    return [(seqid, a, b, strand) for (seqid, strand), (a, b) in spans.items()]
