"""Codons: start/stop codons, codon positions 1/2/3 and the amino acid of every codon.

The frame comes from each CDS part's phase (GFF3 semantics: bases to skip from the part's 5' end to
the next codon start), walking parts in transcription order, so spliced and trans-spliced CDSs keep
their frame across junctions. Amino acids come from biopython's codon table for the genome's code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from Bio.Data import CodonTable

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import BASES, COMPLEMENT_CODE, N_CODE
from dnalens.concepts.model import CategoricalConcept, Concept, IntervalBuilder
from dnalens.concepts.units import TranscriptUnit, positions_to_parts
from dnalens.errors import InputError

FAMILY = "codons"
CONCEPTS = {
    "start_codon": "first codon of a CDS when the genetic code lists it as a start codon (3 nt)",
    "stop_codon": "last codon of a CDS when it is a stop codon of the genetic code (3 nt)",
    "CDS_codon_pos1": "first base of each codon (frame from CDS phases)",
    "CDS_codon_pos2": "second base of each codon",
    "CDS_codon_pos3": "third base of each codon",
}
CATEGORICAL = {
    "amino_acid": "amino acid of the codon each CDS base belongs to (21 classes, stop included)",
    "codon_position": "position of a CDS base in its codon (3 classes)",
}
AMINO_ACIDS = list("ACDEFGHIKLMNPQRSTVWY") + ["stop"]
STOP_CLASS = len(AMINO_ACIDS) - 1


@dataclass(frozen=True)
class CodeTables:
    """Genetic code as lookups over codon index 16*b1 + 4*b2 + b3 (bases coded A0 C1 G2 T3)."""

    amino_acid: np.ndarray  # int8 [64] class index into AMINO_ACIDS
    is_start: np.ndarray  # bool [64]

    @classmethod
    def for_code(cls, table_id: int) -> "CodeTables":
        try:
            table = CodonTable.unambiguous_dna_by_id[table_id]
        except KeyError:
            raise InputError(
                f"unknown genetic code {table_id}.",
                fix="use an NCBI translation table id, e.g. 11 for bacteria and plastids.",
            ) from None
        aa = np.full(64, -1, dtype=np.int8)
        start = np.zeros(64, dtype=bool)
        for i in range(64):
            codon = BASES[i // 16] + BASES[(i // 4) % 4] + BASES[i % 4]
            if codon in table.stop_codons:
                aa[i] = STOP_CLASS
            else:
                aa[i] = AMINO_ACIDS.index(table.forward_table[codon])
            start[i] = codon in table.start_codons
        return cls(aa, start)


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept | CategoricalConcept]:
    tables = CodeTables.for_code(ctx.genome.genetic_code)
    coding, seen = [], set()
    for u in ctx.units:
        if u.cds and not u.pseudo and len({p.seqid for p in u.cds}) == 1 and tuple(u.cds) not in seen:
            seen.add(tuple(u.cds))
            coding.append(u)
    coding.sort(key=lambda u: -sum(p.end - p.start for p in u.cds))  # shorter CDSs come last and win
    walk = cds_walk(coding, ctx.genome.codes)
    at = walk.codon_starts()
    idx = walk.codon_index(at)
    classes = np.where(idx >= 0, tables.amino_acid[np.maximum(idx, 0)], -1).astype(np.int8)
    entry = np.concatenate([at, at + 1, at + 2])  # every base of every complete codon
    entry_class = np.concatenate([classes] * 3)
    order = np.argsort(entry, kind="stable")
    entry, entry_class = entry[order], entry_class[order]

    out: list[Concept | CategoricalConcept] = []
    starts, stops = IntervalBuilder(), IntervalBuilder()
    first = walk.unit_start[:-1]
    last = walk.unit_start[1:] - 3
    # codon number of each CDS's first / last codon (-1: none starts there); a sorted lookup, since a
    # dict of every codon start costs ~100 bytes per codon (150 MB for E. coli)
    first_codon, last_codon = _index_in(at, first), _index_in(at, last)
    for i, u in enumerate(coding):
        c0, c1 = int(first_codon[i]), int(last_codon[i])
        if c0 >= 0 and idx[c0] >= 0 and tables.is_start[idx[c0]]:
            starts.add(walk.parts(int(first[i])), u.id, u.name)
        if c1 >= 0 and classes[c1] == STOP_CLASS:
            stops.add(walk.parts(int(last[i])), u.id, u.name)
    if "start_codon" in wanted:
        out.append(Concept("start_codon", FAMILY, "position", CONCEPTS["start_codon"], intervals=starts.build()))
    if "stop_codon" in wanted:
        out.append(Concept("stop_codon", FAMILY, "position", CONCEPTS["stop_codon"], intervals=stops.build()))
    for k in range(3):
        name = f"CDS_codon_pos{k + 1}"
        if name in wanted:
            arrays = {s: walk.paint_bool(ctx.lengths, s, walk.frame == k) for s in "+-"}
            out.append(Concept(name, FAMILY, "position", CONCEPTS[name], plus=arrays["+"], minus=arrays["-"]))
    if "amino_acid" in wanted:
        aa = {s: walk.paint_class(ctx.lengths, s, entry, entry_class) for s in "+-"}
        out.append(CategoricalConcept("amino_acid", FAMILY, CATEGORICAL["amino_acid"], AMINO_ACIDS, aa["+"], aa["-"]))
    if "codon_position" in wanted:
        every = np.arange(len(walk.pos))
        cpos = {s: walk.paint_class(ctx.lengths, s, every, walk.frame) for s in "+-"}
        out.append(
            CategoricalConcept(
                "codon_position", FAMILY, CATEGORICAL["codon_position"], ["1", "2", "3"], cpos["+"], cpos["-"]
            )
        )
    return out


def _index_in(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Position of each query in `sorted_values` (ascending, unique), -1 where it is absent."""
    j = np.searchsorted(sorted_values, queries)
    found = j < len(sorted_values)
    found[found] = sorted_values[j[found]] == queries[found]
    return np.where(found, j, -1)


@dataclass
class CdsWalk:
    """All CDSs as one set of arrays, each CDS in transcription order (`unit_start` marks where each
    begins): contig, genome position, strand, frame (0, 1, 2) and the base as read on its strand."""

    contigs: list[str]
    contig: np.ndarray  # int index into contigs
    pos: np.ndarray
    minus: np.ndarray  # bool
    frame: np.ndarray
    base: np.ndarray
    unit: np.ndarray
    unit_start: np.ndarray  # [n_units + 1]

    def codon_starts(self) -> np.ndarray:
        """Indices where three consecutive bases of one CDS have frames 0, 1, 2 (a complete codon)."""
        f, u = self.frame, self.unit
        if len(f) < 3:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero((f[:-2] == 0) & (f[1:-1] == 1) & (f[2:] == 2) & (u[:-2] == u[2:]))

    def codon_index(self, at: np.ndarray) -> np.ndarray:
        b1, b2, b3 = (self.base[at + k].astype(np.int64) for k in range(3))
        idx = 16 * b1 + 4 * b2 + b3
        return np.where((b1 < N_CODE) & (b2 < N_CODE) & (b3 < N_CODE), idx, -1)

    def parts(self, at: int) -> list[tuple[str, int, int, str]]:
        """Genome parts of the codon starting at entry `at` (split where a junction cuts it)."""
        contig = self.contigs[self.contig[at]]
        pos, minus = self.pos[at : at + 3], self.minus[at : at + 3]
        if minus[0] == minus[1] == minus[2] and abs(int(pos[2]) - int(pos[0])) == 2:  # the usual, unsplit codon
            return [(contig, int(min(pos[0], pos[2])), int(max(pos[0], pos[2])) + 1, "-" if minus[0] else "+")]
        out = []
        for minus in (False, True):
            on = self.minus[at : at + 3] == minus
            out += positions_to_parts(contig, self.pos[at : at + 3][on], "-" if minus else "+")
        return out

    def paint_bool(self, lengths: dict[str, int], strand: str, mask: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for ci, contig in enumerate(self.contigs):
            arr = np.zeros(lengths[contig], dtype=bool)
            arr[self.pos[mask & (self.contig == ci) & (self.minus == (strand == "-"))]] = True
            out[contig] = arr
        return out

    def paint_class(
        self, lengths: dict[str, int], strand: str, entries: np.ndarray, values: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Per-base class; where entries share a base, the last entry (the shorter CDS) wins."""
        out = {}
        for ci, contig in enumerate(self.contigs):
            arr = np.full(lengths[contig], -1, dtype=np.int8)
            keep = (self.contig[entries] == ci) & (self.minus[entries] == (strand == "-"))
            pos, val = self.pos[entries[keep]], np.asarray(values)[keep]
            ix = np.int32 if len(pos) < 2**31 else np.int64
            latest = np.full(len(arr), -1, dtype=ix)
            np.maximum.at(latest, pos, np.arange(len(pos), dtype=ix))  # index of the last entry on each base
            hit = latest >= 0
            arr[hit] = val[latest[hit]]
            out[contig] = arr
        return out


def cds_walk(units: list[TranscriptUnit], codes: dict[str, np.ndarray]) -> CdsWalk:
    """Walk every CDS part in transcription order; a part without phase continues the frame."""
    contigs = list(codes)
    rank = {c: i for i, c in enumerate(contigs)}
    p_start, p_end, p_minus, p_phase, p_unit, p_contig = [], [], [], [], [], []
    for i, u in enumerate(units):
        done, first_phase = 0, u.cds[0].phase or 0
        for p in u.cds:
            p_start.append(p.start)
            p_end.append(p.end)
            p_minus.append(p.strand == "-")
            p_phase.append(p.phase if p.phase is not None else (first_phase - done) % 3)
            p_unit.append(i)
            p_contig.append(rank[p.seqid])
            done += p.end - p.start
    start, end = np.array(p_start, np.int64), np.array(p_end, np.int64)
    minus, phase = np.array(p_minus, bool), np.array(p_phase, np.int8)
    sizes = end - start
    total = int(sizes.sum())
    # One entry per CDS base of the genome: int32 halves the walk's memory (E. coli: 4 M entries).
    ix = np.int32 if max(total, int(end.max(initial=0))) < 2**31 else np.int64
    part_of = np.repeat(np.arange(len(sizes), dtype=ix), sizes)
    k = np.arange(total, dtype=ix) - np.repeat((np.cumsum(sizes) - sizes).astype(ix), sizes)
    on_minus = minus[part_of]
    pos = np.where(on_minus, end.astype(ix)[part_of] - 1 - k, start.astype(ix)[part_of] + k)
    contig = np.array(p_contig, ix)[part_of]
    seq = np.zeros(len(pos), dtype=np.uint8)
    for ci, name in enumerate(contigs):
        here = contig == ci
        seq[here] = codes[name][pos[here]]
    unit = np.array(p_unit, ix)[part_of]
    unit_start = np.searchsorted(unit, np.arange(len(units) + 1))
    return CdsWalk(
        contigs,
        contig,
        pos,
        on_minus,
        ((k - phase[part_of]) % 3).astype(np.int8),
        np.where(on_minus, COMPLEMENT_CODE[seq], seq),
        unit,
        unit_start,
    )
