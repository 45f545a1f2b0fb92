"""What a variant does to the annotated genes: one consequence class per allele, the most severe over the
transcripts it touches (Sequence Ontology names, VEP's order of severity).

The genome's normalised annotation (results/<g>/annotation.gff3) is read through `concepts.units`, so the
transcripts, CDS parts in transcription order, their phases and the introns are the ones the labels use.
Codons are read from the CDS in transcription order starting at the first part's phase, and translated
with the genome's genetic code (genome.json; 11 for bacteria and plastids) through biopython's tables.

Rules (documented here once):
- Alleles are trimmed of their shared suffix, then prefix (VCF pads indels with one base), so `AT -> A` is a
  deletion of the T.
- An indel touching a CDS is `frameshift` when its length change is not a multiple of 3, else `inframe_indel`.
- A substitution (SNV or MNV) is judged per codon it touches: the first codon of a CDS that starts with a
  start codon gives `start_lost` when the new codon is not ATG, GTG or TTG (the starts Prodigal calls; ATG ->
  ATA is start_lost although table 11 lists ATA as a rare start), else `synonymous`; the last codon, a stop,
  gives `stop_lost` when the new codon is no stop; elsewhere a new stop is `stop_gained`, another amino acid
  `missense`, the same one `synonymous`. A codon cut by the CDS ends (partial genes) is `coding_sequence_variant`.
- `splice_region`: within 3 exon or 8 intron bases of an intron end; `intron` elsewhere inside an intron;
  `utr`: an exon base of a coding transcript outside its CDS; `ncrna_gene`: a non-coding transcript (tRNA,
  rRNA, ncRNA, ...); `intergenic`: no transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from dnalens.concepts.units import TranscriptUnit, junctions, positions
from dnalens.errors import InputError
from dnalens.formats.variants import CONSEQUENCES, NON_SYNONYMOUS  # noqa: F401  (the vocabulary)

SEVERITY = {name: rank for rank, name in enumerate(CONSEQUENCES)}

#: consequence classes, most severe first (the order that picks one class per allele)
KEPT_STARTS = frozenset({"ATG", "GTG", "TTG"})
SPLICE_EXON, SPLICE_INTRON = 3, 8
_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


@dataclass(frozen=True)
class Consequence:
    consequence: str
    gene: str = ""  # the touched transcript's gene name ("" when intergenic)
    codon_change: str = ""  # e.g. TGG>TAG (CDS strand)
    protein_change: str = ""  # e.g. W45* (1-based codon number)

    @property
    def severity(self) -> int:
        return SEVERITY[self.consequence]


def trim_alleles(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    """(0-based start, ref, alt) without the bases the alleles share: suffix first, then prefix."""
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while ref and alt and ref[0] == alt[0]:
        start, ref, alt = start + 1, ref[1:], alt[1:]
    return start, ref, alt


@dataclass(frozen=True)
class _Unit:
    unit: TranscriptUnit
    contig: str
    lo: int
    hi: int  # inclusive bounds of all parts (a coarse filter)
    cds_pos: np.ndarray  # CDS genome positions in transcription order (empty: non-coding)
    phase: int
    strand: str
    body: tuple  # exon (or body) parts
    introns: tuple  # (start, end) genome intervals of its introns


class ConsequenceModel:
    """Consequences of alleles on one genome: transcripts indexed per contig, codons from the sequence."""

    def __init__(
        self,
        units: Sequence[TranscriptUnit],
        sequences: Mapping[str, str],
        genetic_code: int,
        lengths: Mapping[str, int],
        circular: frozenset[str] = frozenset(),
    ) -> None:
        from Bio.Data import CodonTable

        try:
            self.table = CodonTable.unambiguous_dna_by_id[int(genetic_code)]
        except KeyError:
            raise InputError(f"unknown genetic code {genetic_code}.", fix="use an NCBI translation table id.") from None
        self.sequences = sequences
        self.by_contig: dict[str, list[_Unit]] = {}
        for u in units:
            parts = [*u.cds, *u.body]
            if u.pseudo or not parts or len({p.seqid for p in parts}) != 1:
                continue
            contig = parts[0].seqid
            coding = bool(u.cds) and len({p.strand for p in u.cds}) == 1
            intr = tuple(iv for j in junctions(u.body, dict(lengths), circular, u.trans_spliced) for iv in j.parts)
            self.by_contig.setdefault(contig, []).append(
                _Unit(
                    unit=u,
                    contig=contig,
                    lo=min(p.start for p in parts + [_P(a, b) for a, b in intr]),
                    hi=max(p.end for p in parts + [_P(a, b) for a, b in intr]) - 1,
                    cds_pos=positions(u.cds) if coding else np.zeros(0, np.int64),
                    phase=int(u.cds[0].phase or 0) if coding else 0,
                    strand=parts[0].strand,
                    body=tuple(u.body),
                    introns=intr,
                )
            )

    def classify(self, contig: str, start: int, ref: str, alt: str) -> Consequence:
        """The most severe consequence of REF -> ALT at 0-based `start` over the transcripts it touches."""
        s, r, a = trim_alleles(start, ref.upper(), alt.upper())
        touched = np.arange(s, s + len(r)) if r else np.array([s - 1, s])  # an insertion: its two flanks
        lo, hi = int(touched.min()), int(touched.max())
        best = Consequence("intergenic")
        for unit in self.by_contig.get(contig, []):
            if unit.hi < lo - SPLICE_INTRON or unit.lo > hi + SPLICE_INTRON:
                continue
            for found in self._on_unit(unit, touched, s, r, a):
                if found.severity < best.severity:
                    best = found
        return best

    # ---- one transcript -------------------------------------------------------------------------
    def _on_unit(self, unit: _Unit, touched: np.ndarray, s: int, r: str, a: str) -> list[Consequence]:
        name = unit.unit.name
        out: list[Consequence] = []
        in_body = any(_overlaps(touched, p.start, p.end) for p in unit.body)
        for i_start, i_end in unit.introns:
            if _overlaps(touched, i_start - SPLICE_EXON, i_start + SPLICE_INTRON) or _overlaps(
                touched, i_end - SPLICE_INTRON, i_end + SPLICE_EXON
            ):
                out.append(Consequence("splice_region", name))
            elif _overlaps(touched, i_start, i_end):
                out.append(Consequence("intron", name))
        if not len(unit.cds_pos):
            if in_body:
                out.append(Consequence("ncrna_gene", name))
            return out
        hits = np.flatnonzero(np.isin(unit.cds_pos, touched))
        if len(hits):
            if len(r) != len(a):
                out.append(Consequence("frameshift" if (len(a) - len(r)) % 3 else "inframe_indel", name))
            else:
                out.append(self._codons(unit, hits, s, a, name))
        elif in_body:
            out.append(Consequence("utr", name))
        return out

    def _codons(self, unit: _Unit, hits: np.ndarray, s: int, a: str, name: str) -> Consequence:
        """A substitution's consequence over the codons it changes (the most severe one)."""
        seq = self.sequences[unit.contig]
        minus = unit.strand == "-"
        ref_cds = [_COMPLEMENT.get(seq[p], "N") if minus else seq[p] for p in unit.cds_pos]
        alt_cds = list(ref_cds)
        for i in hits:
            base = a[int(unit.cds_pos[i]) - s]
            alt_cds[i] = _COMPLEMENT[base] if minus else base
        n_codons = (len(ref_cds) - unit.phase) // 3
        best = None
        for c in sorted({(int(i) - unit.phase) // 3 if i >= unit.phase else -1 for i in hits}):
            lo = unit.phase + 3 * c
            if c < 0 or c >= n_codons:
                found = Consequence("coding_sequence_variant", name)
            else:
                found = self._codon(
                    c, n_codons, "".join(ref_cds[lo : lo + 3]), "".join(alt_cds[lo : lo + 3]), unit, name
                )
            if best is None or found.severity < best.severity:
                best = found
        return best

    def _codon(self, c: int, n_codons: int, ref: str, alt: str, unit: _Unit, name: str) -> Consequence:
        stops = self.table.stop_codons
        ref_aa, alt_aa = self._aa(ref), self._aa(alt)
        change = f"{ref}>{alt}"
        protein = f"{ref_aa}{c + 1}{alt_aa}"
        if c == 0 and unit.phase == 0 and ref in self.table.start_codons:
            kind = "synonymous" if alt in KEPT_STARTS else "start_lost"
            return Consequence(kind, name, change, f"M1{'M' if alt in KEPT_STARTS else alt_aa}")
        if ref in stops:
            kind = "synonymous" if alt in stops else "stop_lost"
        elif alt in stops:
            kind = "stop_gained"
        else:
            kind = "missense" if ref_aa != alt_aa else "synonymous"
        return Consequence(kind, name, change, protein)

    def _aa(self, codon: str) -> str:
        if codon in self.table.stop_codons:
            return "*"
        return self.table.forward_table.get(codon, "X")


@dataclass(frozen=True)
class _P:
    start: int
    end: int


def _overlaps(touched: np.ndarray, start: int, end: int) -> bool:
    return bool(np.any((touched >= start) & (touched < end)))


def load_consequence_model(annotation_path, fasta, genome_json) -> ConsequenceModel:
    """The model for a prepared genome: results/<g>/annotation.gff3, genome.fa (pyfaidx) and genome.json."""
    from dnalens.concepts.units import transcript_units
    from dnalens.genome.annotation import load_annotation
    from dnalens.genome.prepare import read_genome_info

    info = read_genome_info(genome_json)
    lengths = info.lengths
    circular = frozenset(c.name for c in info.contigs if c.topology == "circular")
    annotation = load_annotation(annotation_path, "gff3", contig_lengths=lengths, circular=circular)
    units = transcript_units(annotation, lengths, circular)
    sequences = {c: str(fasta[c][:]).upper() for c in lengths}
    return ConsequenceModel(units, sequences, info.genetic_code, lengths, circular)
