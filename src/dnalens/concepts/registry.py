"""The concept registry: one line per family module; selection by include/exclude; column layout.

A family module defines `FAMILY`, `CONCEPTS` (name → description), optionally `CATEGORICAL` and
`extra_concepts(settings, base_dir)` (names read from the config, e.g. PWM files), and
`build(ctx, wanted) -> list[Concept | CategoricalConcept]`. Adding a family = one module + one line here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from dnalens.concepts import codons, elements, genes, motifs, regulatory, rna, sequence, splicing, tracks
from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import ANTISENSE_SUFFIX, CategoricalConcept, Concept
from dnalens.concepts.settings import ConceptSettings
from dnalens.errors import InputError

log = logging.getLogger(__name__)

CONCEPT_FAMILIES: dict[str, ModuleType] = {
    "genes": genes,
    "rna": rna,
    "splicing": splicing,
    "codons": codons,
    "regulatory": regulatory,
    "elements": elements,
    "sequence": sequence,
    "motifs": motifs,
    "tracks": tracks,
}
REGION_KINDS = ("region", "track")


@dataclass(frozen=True)
class Column:
    """One label column: a concept read as is, or its antisense twin (read strands swapped)."""

    name: str
    concept: Concept
    antisense: bool

    @property
    def sense_name(self) -> str:
        return self.concept.name

    def values(self, contig: str, length: int, read_strand: str):
        return self.concept.values(contig, length, _flip(read_strand) if self.antisense else read_strand)

    def instance_values(self, contig: str, length: int, read_strand: str, id_offset: int):
        strand = _flip(read_strand) if self.antisense else read_strand
        return self.concept.instance_values(contig, length, strand, id_offset)


@dataclass
class ConceptSet:
    """Selected concepts in column order, categoricals, and global instance ids (offset per concept)."""

    columns: list[Column]
    categoricals: list[CategoricalConcept]
    id_offsets: dict[str, int]

    @property
    def concept_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def region_columns(self) -> list[Column]:
        return [c for c in self.columns if c.concept.kind in REGION_KINDS]

    @property
    def concepts(self) -> list[Concept]:
        """Distinct concepts (a twin shares its concept), in column order."""
        seen: dict[str, Concept] = {}
        for c in self.columns:
            seen.setdefault(c.concept.name, c.concept)
        return list(seen.values())

    @property
    def n_instances(self) -> int:
        return sum(c.intervals.n_instances for c in self.concepts if c.intervals is not None)


def available_concepts(settings: ConceptSettings, base_dir: Path = Path(".")) -> dict[str, dict[str, str]]:
    """Family → {concept name → description}, categoricals included, config-defined names included."""
    out: dict[str, dict[str, str]] = {}
    for family, module in CONCEPT_FAMILIES.items():
        names = dict(module.CONCEPTS)
        names.update(getattr(module, "CATEGORICAL", {}))
        if hasattr(module, "extra_concepts"):
            names.update(module.extra_concepts(settings, base_dir))
        out[family] = names
    return out


def selected_names(settings: ConceptSettings, base_dir: Path = Path(".")) -> set[str]:
    """Column and categorical names the config asks for (twins named `X_antisense`)."""
    catalogue = available_concepts(settings, base_dir)
    stranded = _stranded_names()
    every: dict[str, set[str]] = {}
    for family, names in catalogue.items():
        cols = set(names)
        if settings.antisense:
            cols |= {n + ANTISENSE_SUFFIX for n in names if n in stranded or family == "motifs"}
        every[family] = cols
    known = set().union(*every.values())

    def expand(items: tuple[str, ...], key: str) -> set[str]:
        out: set[str] = set()
        for item in items:
            if item in every:
                out |= every[item]
            elif item in known:  # a concept brings its twin along; `X_antisense` names the twin alone
                out |= {item, item + ANTISENSE_SUFFIX} & known
            else:
                raise InputError(
                    f"concepts.{key}: unknown concept or family {item!r}.",
                    fix=f"use a family ({', '.join(every)}) or a concept listed in config/README.md.",
                )
        return out

    chosen = expand(settings.include, "include") if settings.include else set(known)
    return chosen - expand(settings.exclude, "exclude")


def compute_concepts(ctx: ConceptContext) -> ConceptSet:
    """Run every family with at least one selected concept; lay out columns; number instances."""
    wanted = selected_names(ctx.settings, ctx.base_dir)
    base_wanted = {n.removesuffix(ANTISENSE_SUFFIX) for n in wanted}
    columns: list[Column] = []
    categoricals: list[CategoricalConcept] = []
    catalogue = available_concepts(ctx.settings, ctx.base_dir)
    for family, module in CONCEPT_FAMILIES.items():
        names = set(catalogue[family]) & base_wanted
        if not names:
            continue
        for item in module.build(ctx, names):
            if isinstance(item, CategoricalConcept):
                if item.name in wanted:
                    categoricals.append(item)
                continue
            if item.is_empty() and not ctx.settings.keep_empty:
                log.info("concept %s: nothing annotated, dropped (concepts.keep_empty keeps it)", item.name)
                continue
            if item.name in wanted:
                columns.append(Column(item.name, item, antisense=False))
            twin = item.name + ANTISENSE_SUFFIX
            if item.stranded and twin in wanted:
                columns.append(Column(twin, item, antisense=True))
    offsets: dict[str, int] = {}
    next_id = 0
    for c in columns:
        if c.concept.intervals is not None and c.concept.name not in offsets:
            offsets[c.concept.name] = next_id
            next_id += c.concept.intervals.n_instances
    return ConceptSet(columns, categoricals, offsets)


def _stranded_names() -> set[str]:
    """Concepts tied to an annotated strand (they get `_antisense` twins); sequence ones are not."""
    unstranded = set(sequence.CONCEPTS) | {"intergenic"}
    names: set[str] = set()
    for module in (genes, rna, splicing, codons, regulatory, elements):
        names |= set(module.CONCEPTS) - unstranded
    return names


def _flip(strand: str) -> str:
    return "-" if strand == "+" else "+"
