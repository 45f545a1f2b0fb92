"""One feature model for every annotation format (GFF3, GTF, GenBank, pyrodigal predictions).

Everything downstream (labels, reports) reads this model, never a raw format, so a format quirk is
fixed once, in its parser. Coordinates are 0-based half-open; strands are '+', '-' or '.'.

Invariants after normalisation (checked by `Annotation.validate_structure`):
- a discontinuous feature (spliced CDS, origin-spanning exon, trans-spliced gene) is several `Feature`
  rows sharing one `id`; rows of one id keep *transcription order* (the order of a GenBank join);
- every exon / CDS / UTR has a transcript parent (mRNA, tRNA, rRNA, ncRNA, ...), every transcript a
  gene parent (or none);
- every CDS row has a phase (0, 1, 2): bases to skip from the row's 5' end to reach a codon start.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Iterator

#: non-coding RNA transcript types (SO names): transcripts here, the `ncRNA` concept in concepts/rna.py.
NCRNA_TYPES = frozenset(
    {
        "ncRNA",
        "lnc_RNA",
        "misc_RNA",
        "snRNA",
        "snoRNA",
        "miRNA",
        "tmRNA",
        "RNase_P_RNA",
        "RNase_MRP_RNA",
        "SRP_RNA",
        "antisense_RNA",
        "scRNA",
        "guide_RNA",
        "piRNA",
        "Y_RNA",
        "vault_RNA",
        "telomerase_RNA",
    }
)
TRANSCRIPT_TYPES = (
    frozenset({"mRNA", "transcript", "primary_transcript", "tRNA", "rRNA", "pseudogenic_transcript"}) | NCRNA_TYPES
)
GENE_TYPES = frozenset({"gene", "pseudogene", "ncRNA_gene"})
PART_TYPES = frozenset({"exon", "CDS", "five_prime_UTR", "three_prime_UTR", "start_codon", "stop_codon"})


@dataclass(frozen=True, slots=True)
class Feature:
    """One row of the normalised annotation (one part of a possibly discontinuous feature)."""

    seqid: str
    type: str
    start: int
    end: int
    strand: str
    id: str
    parents: tuple[str, ...] = ()
    phase: int | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    source: str = "dnalens"

    def attr(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.attributes:
            if k == key:
                return v
        return default

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Part:
    """A stranded interval; the unit that concepts label."""

    seqid: str
    start: int
    end: int
    strand: str
    phase: int | None = None


@dataclass(frozen=True)
class Transcript:
    """A transcript with its exons and CDS parts, both in transcription order."""

    id: str
    type: str
    gene_id: str | None
    exons: tuple[Part, ...]
    cds: tuple[Part, ...]
    name: str | None = None
    trans_spliced: bool = False


@dataclass
class Annotation:
    """All features of one genome plus genome-level facts read from the annotation."""

    features: list[Feature]
    genetic_code: int | None = None
    source_path: str | None = None
    circular_seqids: frozenset[str] = field(default_factory=frozenset)

    def by_type(self, *types: str) -> list[Feature]:
        wanted = set(types)
        return [f for f in self.features if f.type in wanted]

    @cached_property
    def _rows_by_id(self) -> dict[str, list[Feature]]:
        rows: dict[str, list[Feature]] = defaultdict(list)
        for f in self.features:
            rows[f.id].append(f)
        return dict(rows)

    @cached_property
    def _children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        for f in self.features:
            for p in f.parents:
                if (p, f.id) not in seen:
                    seen.add((p, f.id))
                    kids[p].append(f.id)
        return dict(kids)

    def rows(self, feature_id: str) -> list[Feature]:
        """All rows (parts) of one feature id, in transcription order."""
        return self._rows_by_id.get(feature_id, [])

    def children(self, feature_id: str, *types: str) -> list[str]:
        ids = self._children.get(feature_id, [])
        if not types:
            return list(ids)
        wanted = set(types)
        return [i for i in ids if self._rows_by_id[i][0].type in wanted]

    def transcripts(self) -> Iterator[Transcript]:
        """Transcripts with exon and CDS parts in transcription order."""
        done: set[str] = set()
        for f in self.features:
            if f.type not in TRANSCRIPT_TYPES or f.id in done:
                continue
            done.add(f.id)
            exons: list[Part] = []
            cds: list[Part] = []
            for child in self.children(f.id, "exon", "CDS"):
                rows = self.rows(child)
                target = exons if rows[0].type == "exon" else cds
                target.extend(Part(r.seqid, r.start, r.end, r.strand, r.phase) for r in rows)
            gene_id = f.parents[0] if f.parents else None
            strands = {p.strand for p in exons + cds}
            trans = len(strands) > 1 or any(r.attr("trans_splicing") for r in self.rows(f.id))
            yield Transcript(
                id=f.id,
                type=f.type,
                gene_id=gene_id,
                exons=tuple(exons),
                cds=tuple(cds),
                name=f.attr("Name") or f.attr("gene"),
                trans_spliced=trans,
            )

    @property
    def seqids(self) -> list[str]:
        return sorted({f.seqid for f in self.features})

    def validate_structure(self) -> list[str]:
        """Broken invariants (see module docstring) as readable strings; empty when all hold."""
        problems: list[str] = []
        for fid, rows in self._rows_by_id.items():
            first = rows[0]
            if len({r.type for r in rows}) > 1:
                problems.append(f"{fid}: rows of different types")
            if any(r.start >= r.end or r.start < 0 for r in rows):
                problems.append(f"{fid}: empty or negative interval")
            parents = [self._rows_by_id.get(p, [None])[0] for p in first.parents]
            if None in parents:
                problems.append(f"{fid}: unknown parent")
                continue
            if first.type in PART_TYPES and not any(p.type in TRANSCRIPT_TYPES for p in parents):
                problems.append(f"{fid}: {first.type} without a transcript parent")
            if first.type in TRANSCRIPT_TYPES and any(p.type not in GENE_TYPES for p in parents):
                problems.append(f"{fid}: transcript parent is not a gene")
            if first.type == "CDS" and any(r.phase not in (0, 1, 2) for r in rows):
                problems.append(f"{fid}: CDS row without phase 0/1/2")
        return problems


def transcription_order(parts: Iterable[Part]) -> list[Part]:
    """Sort same-strand parts 5'→3' (ascending on +, descending on −); mixed strands keep their order."""
    parts = list(parts)
    strands = {p.strand for p in parts}
    if len(strands) != 1:
        return parts
    return sorted(parts, key=lambda p: p.start, reverse=strands == {"-"})
