"""The open reading frame around a discovery candidate: its frame, its span and its start and stop codons.

Why: a candidate CDS region outside the annotation means little without its reading frame. A run of
CDS-like latent activity that sits inside a long stop-free frame with a start codon is a gene the
annotation may have missed; one that crosses stops in every frame is not. Pure functions over read-order
sequence (the candidate's strand, 5'→3'), then mapped back to genome coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from Bio.Data import CodonTable

PRODIGAL_STARTS = frozenset({"ATG", "GTG", "TTG"})
ORF_SEARCH = 3000  # nt read on each side of a candidate to find the stops that bound its ORF
SequenceOf = Callable[[str, int, int, str], str]  # (contig, start, end, strand) → read-order bases


@dataclass(frozen=True)
class Orf:
    """An ORF in genome coordinates (0-based half-open); `frame` "+1".."+3" / "-1".."-3" counts from the
    contig's 5' end on + and from its 3' end on − (the six-frame convention); `covers` = share of the
    candidate's bases inside the ORF."""

    frame: str
    start: int
    end: int
    start_codon: str  # "" = no start codon between the upstream stop and the candidate's frame run
    stop_codon: str  # "" = no stop within the searched sequence (the ORF runs on)
    covers: float


def codons_of(code: int) -> tuple[frozenset[str], frozenset[str]]:
    """(start codons, stop codons) of an NCBI translation table; the starts are those of ATG/GTG/TTG the table
    allows (what Prodigal calls), not the rare alternatives (CTG, ATT, ...) that would open an ORF anywhere."""
    table = CodonTable.unambiguous_dna_by_id[code]
    starts = frozenset(table.start_codons) & PRODIGAL_STARTS
    return starts or frozenset(table.start_codons), frozenset(table.stop_codons)


def read_order_orf(seq: str, lo: int, hi: int, code: int = 11) -> tuple[int, int, int, str, str, float] | None:
    """The ORF that best covers read-order [lo, hi) of `seq`: per frame, the stop-free codon run holding the
    candidate's middle; the frame whose ORF covers most of the candidate wins, then one with a start codon,
    then one with a stop, then the longer (a short stretch of DNA is often open in several frames). Returns
    (frame offset 0-2 in `seq`, ORF start, ORF end incl. its stop, start codon, stop codon, covered share) in
    read-order indices; the ORF starts at the first start codon of the run when it has one, else where the
    run starts. None when the candidate is shorter than a codon."""
    starts, stops = codons_of(code)
    seq = seq.upper()
    if hi - lo < 3:
        return None
    middle = (lo + hi) // 2
    best = None
    for frame in range(3):
        codon = frame + 3 * ((middle - frame) // 3)  # the codon of this frame holding the middle base
        if codon < frame:
            continue
        run_start = codon
        while run_start - 3 >= frame and seq[run_start - 3 : run_start] not in stops:
            run_start -= 3
        run_end, stop = codon, ""
        while run_end + 3 <= len(seq):
            triplet = seq[run_end : run_end + 3]
            run_end += 3
            if triplet in stops:
                stop = triplet
                break
        first = next((i for i in range(run_start, run_end - 2, 3) if seq[i : i + 3] in starts), None)
        orf_start = run_start if first is None else first
        covered = max(0, min(hi, run_end) - max(lo, orf_start)) / (hi - lo)
        key = (round(covered, 2), first is not None, bool(stop), run_end - orf_start)
        if best is None or key > best[0]:
            best = (key, (frame, orf_start, run_end, "" if first is None else seq[first : first + 3], stop, covered))
    return None if best is None else best[1]


def candidate_orf(
    sequence_of: SequenceOf,
    contig: str,
    start: int,
    end: int,
    strand: str,
    contig_length: int,
    *,
    code: int = 11,
    search: int = ORF_SEARCH,
) -> Orf | None:
    """`read_order_orf` around genome [start, end) on `strand`, read `search` nt either side (clipped to the
    contig), in genome coordinates."""
    a, b = max(0, start - search), min(contig_length, end + search)
    seq = sequence_of(contig, a, b, strand)
    minus = strand == "-"
    lo, hi = (b - end, b - start) if minus else (start - a, end - a)
    found = read_order_orf(seq, lo, hi, code)
    if found is None:
        return None
    _, orf_lo, orf_hi, start_codon, stop_codon, covered = found
    g_lo, g_hi = (b - orf_hi, b - orf_lo) if minus else (a + orf_lo, a + orf_hi)
    frame = f"-{(contig_length - g_hi) % 3 + 1}" if minus else f"+{g_lo % 3 + 1}"
    return Orf(frame, g_lo, g_hi, start_codon, stop_codon, round(covered, 3))
