"""Transcript units: exons and CDS parts in transcription order, and which junctions are introns.

Every family reads transcripts through here, so "what is an intron" is decided once:
a junction between consecutive parts is an intron only when both parts lie on the same contig and
strand and the second follows the first downstream (a trans-splice junction between parts on different
strands, or out of order, is not an intron). On a circular contig a junction may cross the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from dnalens.genome.model import Annotation, Part

PSEUDO_KEYS = ("pseudo", "pseudogene", "Pseudo")


@dataclass(frozen=True)
class TranscriptUnit:
    """One transcript (or a CDS without transcript parent) ready for labelling."""

    id: str
    type: str
    gene_id: str | None
    name: str
    exons: tuple[Part, ...]
    cds: tuple[Part, ...]
    rows: tuple[Part, ...]  # the transcript feature's own rows
    trans_spliced: bool
    pseudo: bool
    synthetic: bool  # True when made from a CDS with no transcript parent

    @property
    def body(self) -> tuple[Part, ...]:
        """The parts of the mature transcript: exons; else the CDS parts when they are more pieces than
        the transcript's own rows (a GenBank mRNA drawn as one span around a spliced CDS); else its rows."""
        if self.exons:
            return self.exons
        if len(self.cds) > len(self.rows):
            return self.cds
        return self.rows or self.cds


@dataclass(frozen=True)
class Junction:
    """An intron between body parts `upstream` and `downstream` (transcription order)."""

    seqid: str
    strand: str
    parts: tuple[tuple[int, int], ...]  # genome intervals of the intron, ascending
    upstream_last: int  # genome position of the last exon base before the intron
    downstream_first: int  # genome position of the first exon base after it
    length: int


def transcript_units(annotation: Annotation, lengths: dict[str, int], circular: frozenset[str]) -> list[TranscriptUnit]:
    """All transcripts plus CDS groups whose parent is no transcript (GenBank/prokaryotic gene→CDS)."""
    units: list[TranscriptUnit] = []
    transcript_ids: set[str] = set()
    for t in annotation.transcripts():
        transcript_ids.add(t.id)
        rows = annotation.rows(t.id)
        own = tuple(Part(r.seqid, r.start, r.end, r.strand) for r in rows)
        trans = t.trans_spliced or _mixed(own)
        gene_rows = annotation.rows(t.gene_id) if t.gene_id else []
        pseudo = (
            t.type == "pseudogenic_transcript"
            or is_pseudo(rows)
            or any(r.type == "pseudogene" or is_pseudo([r]) for r in gene_rows)
        )
        units.append(
            TranscriptUnit(
                id=t.id,
                type=t.type,
                gene_id=t.gene_id,
                name=t.name or feature_name(gene_rows) or t.id,
                exons=order_parts(t.exons, trans, lengths, circular),
                cds=order_parts(t.cds, trans, lengths, circular),
                rows=order_parts(own, trans, lengths, circular),
                trans_spliced=trans,
                pseudo=pseudo,
                synthetic=False,
            )
        )
    seen: set[str] = set()
    for f in annotation.features:
        if f.type != "CDS" or f.id in seen or any(p in transcript_ids for p in f.parents):
            continue
        seen.add(f.id)
        rows = annotation.rows(f.id)
        parts = tuple(Part(r.seqid, r.start, r.end, r.strand, r.phase) for r in rows)
        parent_rows = annotation.rows(f.parents[0]) if f.parents else []
        trans = _mixed(parts) or any(r.attr("trans_splicing") is not None for r in [*rows, *parent_rows])
        units.append(
            TranscriptUnit(
                id=f.id,
                type="mRNA",
                gene_id=f.parents[0] if f.parents else None,
                name=feature_name(rows) or feature_name(parent_rows) or f.id,
                exons=(),
                cds=order_parts(parts, trans, lengths, circular),
                rows=(),
                trans_spliced=trans,
                pseudo=is_pseudo(rows) or any(r.type == "pseudogene" or is_pseudo([r]) for r in parent_rows),
                synthetic=True,
            )
        )
    return units


def order_parts(
    parts: Sequence[Part], trans_spliced: bool, lengths: dict[str, int], circular: frozenset[str]
) -> tuple[Part, ...]:
    """Transcription order: keep the given order when it is one, else its reverse (GFF3 lists − exons
    ascending); when both are consistent (circular contigs) take the shorter span; trans-spliced or
    mixed-strand parts keep the given order."""
    parts = tuple(parts)
    if len(parts) < 2 or trans_spliced or _mixed(parts):
        return parts
    contig = parts[0].seqid
    size = lengths.get(contig) if contig in circular else None
    given = _span_if_ordered(parts, size)
    backwards = _span_if_ordered(parts[::-1], size)
    if backwards is not None and (given is None or backwards < given):
        return parts[::-1]
    return parts


def junctions(
    body: Sequence[Part], lengths: dict[str, int], circular: frozenset[str], trans_spliced: bool
) -> list[Junction]:
    """Introns between consecutive body parts (see module docstring for the rule)."""
    out: list[Junction] = []
    for a, b in zip(body, body[1:]):
        if a.seqid != b.seqid or a.strand != b.strand:
            continue
        size = lengths.get(a.seqid, 0)
        minus = a.strand == "-"
        gap = (a.start - b.end) if minus else (b.start - a.end)
        if gap < 0:
            if a.seqid not in circular or trans_spliced:
                continue
            gap %= size
            if gap * 2 >= size:  # "downstream" only by going most of the way round: not an intron
                continue
        if gap <= 0:
            continue
        first = (b.end if minus else a.end) % size
        out.append(
            Junction(
                seqid=a.seqid,
                strand=a.strand,
                parts=_wrap(first, first + gap, size),
                upstream_last=a.start if minus else a.end - 1,
                downstream_first=b.end - 1 if minus else b.start,
                length=gap,
            )
        )
    return out


def positions(parts: Iterable[Part]) -> np.ndarray:
    """Genome positions of the parts, in transcription order (descending within − parts)."""
    chunks = [np.arange(p.end - 1, p.start - 1, -1) if p.strand == "-" else np.arange(p.start, p.end) for p in parts]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def positions_to_parts(seqid: str, pos: np.ndarray, strand: str) -> list[tuple[str, int, int, str]]:
    """Genome positions (any order) → ascending contiguous parts (seqid, start, end, strand)."""
    if len(pos) == 0:
        return []
    p = np.unique(np.asarray(pos, np.int64))
    breaks = np.flatnonzero(np.diff(p) != 1)
    starts = np.concatenate(([p[0]], p[breaks + 1]))
    ends = np.concatenate((p[breaks], [p[-1]])) + 1
    return [(seqid, int(s), int(e), strand) for s, e in zip(starts, ends)]


def _wrap(start: int, end: int, size: int) -> tuple[tuple[int, int], ...]:
    if end <= size:
        return ((start, end),)
    return ((start, size), (0, end - size))


def _span_if_ordered(parts: Sequence[Part], size: int | None) -> int | None:
    """Length from the first part's 5' end to the last part's 3' end if the parts run 5'→3' without
    overlap (modulo `size` on a circular contig), else None."""
    minus = parts[0].strand == "-"
    origin = parts[0].end if minus else parts[0].start
    reach = 0
    for p in parts:
        key = (origin - p.end) if minus else (p.start - origin)
        if size:
            key %= size
        if key < reach:
            return None
        reach = key + (p.end - p.start)
    if size and reach > size:
        return None
    return reach


def _mixed(parts: Sequence[Part]) -> bool:
    return len({p.strand for p in parts}) > 1 or len({p.seqid for p in parts}) > 1


def is_pseudo(rows) -> bool:
    for r in rows:
        for key in PSEUDO_KEYS:
            value = r.attr(key)
            if value is not None and value.lower() not in {"false", "0", "no"}:
                return True
    return False


def feature_name(rows) -> str | None:
    for r in rows:
        for key in ("Name", "gene", "locus_tag", "product"):
            value = r.attr(key)
            if value:
                return value
    return None
