"""Upstream windows ("promoter"), transcription start sites, and, for prokaryotes and plastids, the
Shine–Dalgarno site of each start codon and the sigma70 -35/-10 boxes upstream of each operon
(definitions and sources in concepts/prokaryotic.py).

"promoter" is not a called promoter: it is a fixed window upstream of each annotated 5' end. With
predicted genes (no UTRs) that 5' end is the start codon, so the window is the `promoter_upstream` nt
(default 150) before the CDS: wide enough for a sigma70 -35 box placed like psbA's on the Arabidopsis
chloroplast (TTGACA 110-115 nt before the start codon; a 100-nt window missed it). The built concept's
description names the window it used (`promoter_description`).
"""

from __future__ import annotations

import logging

from dnalens.concepts import prokaryotic as pk
from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import BASES
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.concepts.units import TranscriptUnit, positions

log = logging.getLogger(__name__)
FAMILY = "regulatory"
CONCEPTS = {
    "promoter": "upstream window, not a called promoter: concepts.promoter_upstream nt (default 150) upstream "
    "(+ promoter_downstream nt downstream) of each transcript 5' end (the start codon when no UTR is annotated), "
    "or of each operon's first 5' end (same-strand genes <= operon_max_gap apart)",
    "TSS": "5' base of each transcript that starts before its CDS (5' UTR annotated) or is non-coding "
    "(tRNA/rRNA excluded), plus TSS features",
    "Shine_Dalgarno_sequence": "ribosome binding site 3-15 nt upstream of each start codon: the longest >= 4-nt exact "
    "match to TAAGGAGGT (complement of the 16S anti-SD 3'-AUUCCUCCA-5'), or Prodigal's "
    "own RBS call for predicted genes; kingdoms in concepts.prokaryotic_signals only",
    "sigma70_minus_35_box": "sigma70 -35 box (TTGACA PWM, Hawley & McClure 1983) of the best -35/-10 pair (spacer "
    "15-19 nt, >= 10 bits) within promoter_upstream nt upstream of each operon/transcript "
    "start; kingdoms in concepts.prokaryotic_signals only",
    "sigma70_minus_10_box": "sigma70 -10 box (TATAAT PWM, Hawley & McClure 1983) of that same pair",
}
SIGMA70 = ("sigma70_minus_35_box", "sigma70_minus_10_box")
TSS_TYPES = frozenset({"TSS", "transcription_start_site"})
PROCESSED = frozenset({"tRNA", "rRNA"})


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    out = []
    if "promoter" in wanted:
        description = promoter_description(ctx.settings.promoter_upstream, ctx.settings.promoter_downstream)
        out.append(Concept("promoter", FAMILY, "region", description, intervals=_promoters(ctx).build()))
    if "TSS" in wanted:
        out.append(Concept("TSS", FAMILY, "position", CONCEPTS["TSS"], intervals=_tss(ctx).build()))
    prokaryotic = ctx.settings.has_prokaryotic_signals(ctx.genome.kingdom)
    if not prokaryotic and (wanted & ({"Shine_Dalgarno_sequence"} | set(SIGMA70))):
        log.info("kingdom %s: no Shine-Dalgarno / sigma70 labels (concepts.prokaryotic_signals)", ctx.genome.kingdom)
    if prokaryotic and "Shine_Dalgarno_sequence" in wanted:
        out.append(
            Concept(
                "Shine_Dalgarno_sequence",
                FAMILY,
                "sequence",
                CONCEPTS["Shine_Dalgarno_sequence"],
                intervals=shine_dalgarno(ctx).build(),
            )
        )
    if prokaryotic and wanted & set(SIGMA70):
        b35, b10 = sigma70_boxes(ctx)
        for name, b in zip(SIGMA70, (b35, b10)):
            if name in wanted:
                out.append(Concept(name, FAMILY, "sequence", CONCEPTS[name], intervals=b.build()))
    return out


def start_codons(ctx: ConceptContext) -> dict[tuple[str, int, str], tuple[str, str]]:
    """(seqid, first base of the start codon, strand) → (id, name) of each complete, non-pseudo CDS."""
    out: dict[tuple[str, int, str], tuple[str, str]] = {}
    for u in ctx.units:
        if u.cds and not u.pseudo and (u.cds[0].phase or 0) == 0:
            first = u.cds[0]
            out.setdefault((first.seqid, int(positions(u.cds[:1])[0]), first.strand), (u.id, u.name))
    return out


def _prodigal_calls(ctx: ConceptContext) -> dict[tuple[str, int, str], tuple[str, str]]:
    calls = {}
    for f in ctx.annotation.by_type("CDS"):
        if f.attr("rbs_motif") is not None:
            at = f.end - 1 if f.strand == "-" else f.start
            calls[(f.seqid, at, f.strand)] = (f.attr("rbs_motif"), f.attr("rbs_spacer") or "")
    return calls


def shine_dalgarno(ctx: ConceptContext) -> IntervalBuilder:
    """One SD site per start codon (see concepts/prokaryotic.py), Prodigal's call first when it made one."""
    b = IntervalBuilder()
    calls = _prodigal_calls(ctx)
    span = pk.SD_SPACER[1] + len(pk.ANTI_SD_TARGET)
    for (seqid, at, strand), (fid, name) in start_codons(ctx).items():
        codes = ctx.genome.codes[seqid]
        lo, hi = pk.upstream_span(at, strand, span)
        seg = pk.oriented(codes, lo, hi, strand, ctx.genome.is_circular(seqid))
        if seg is None:
            continue
        text = "".join(BASES[c] if c < 4 else "N" for c in seg.tolist())
        call = calls.get((seqid, at, strand))
        site = (pk.prodigal_sd_site(text, *call) if call else None) or pk.best_sd_site(text)
        if site is not None:
            g0, g1 = pk.to_genome(lo, hi, site[0], site[1], strand)
            b.add(pk.wrap_parts(seqid, g0, g1, strand, len(codes)), fid, name)
    return b


def sigma70_boxes(ctx: ConceptContext) -> tuple[IntervalBuilder, IntervalBuilder]:
    """The best sigma70 -35/-10 pair upstream of each operon (or transcript) start, when it scores enough."""
    s = ctx.settings
    anchors = _operon_anchors(ctx) if s.promoter_mode(ctx.genome.kingdom) == "operon" else _transcript_anchors(ctx)
    pwms = pk.sigma70_pwms(pk.base_composition(ctx.genome.codes.values()))
    b35, b10 = IntervalBuilder(), IntervalBuilder()
    for (seqid, at, strand), (fid, name) in anchors.items():
        pk.add_sigma70(
            b35,
            b10,
            ctx.genome.codes[seqid],
            seqid,
            at,
            strand,
            s.promoter_upstream,
            ctx.genome.is_circular(seqid),
            fid,
            name,
            pwms,
        )
    return b35, b10


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


def promoter_description(upstream: int, downstream: int = 0) -> str:
    """The promoter concept as what it is, with the window this run used."""
    into = f" and the first {downstream} nt of the transcript" if downstream else ""
    return (
        f"upstream window, not a called promoter: the {upstream} nt before each transcript 5' end{into} (the start "
        "codon when no UTR is annotated), or before each operon's first 5' end (same-strand genes <= "
        "operon_max_gap apart); concepts.promoter_upstream sets the window"
    )


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
