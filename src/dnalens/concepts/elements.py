"""Annotated repeats and mobile elements (present only when the annotation has them)."""

from __future__ import annotations

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder

FAMILY = "elements"
TYPES = {
    "repeat_region": frozenset(
        {
            "repeat_region",
            "inverted_repeat",
            "direct_repeat",
            "tandem_repeat",
            "dispersed_repeat",
            "terminal_inverted_repeat",
            "long_terminal_repeat",
            "microsatellite",
            "minisatellite",
            "satellite_DNA",
            "CRISPR",
            "repeat_unit",
        }
    ),
    "mobile_genetic_element": frozenset(
        {
            "mobile_genetic_element",
            "mobile_element",
            "transposable_element",
            "insertion_sequence",
            "transposon",
            "integron",
            "prophage",
            "integrated_mobile_genetic_element",
            "retrotransposon",
        }
    ),
}
CONCEPTS = {
    "repeat_region": "annotated repeats: " + ", ".join(sorted(TYPES["repeat_region"])),
    "mobile_genetic_element": "annotated mobile elements: " + ", ".join(sorted(TYPES["mobile_genetic_element"])),
}


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    out = []
    for name, types in TYPES.items():
        if name not in wanted:
            continue
        b = IntervalBuilder()
        done: set[str] = set()
        for f in ctx.annotation.features:
            if f.type in types and f.id not in done and ctx.on_genome(f.seqid):
                done.add(f.id)
                rows = ctx.annotation.rows(f.id)
                label = f.attr("Name") or f.attr("rpt_family") or f.attr("mobile_element_type") or f.type
                b.add([(r.seqid, r.start, r.end, r.strand) for r in rows], f.id, label)
        out.append(Concept(name, FAMILY, "region", CONCEPTS[name], intervals=b.build()))
    return out
