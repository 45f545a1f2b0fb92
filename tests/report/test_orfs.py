"""A discovery candidate's ORF: frame, span, start and stop codons on hand-built sequences, checked with
Biopython's translation and against a candidate written through candidates.gff3."""

import pandas as pd
import pytest
from Bio.Seq import Seq

from dnalens.report.discovery import Chosen, candidates_gff3, find_candidates
from dnalens.report.hits import HIT_COLUMNS
from dnalens.report.orfs import candidate_orf, read_order_orf
from dnalens.report.regions import Regions

from .test_tracks import parse_gff3_strict

# read order: CCC TAA | ATG (GCT x 20) TAG | CC: the ORF is 6..72 (ATG..TAG) in frame 0
GENE = "ATG" + "GCT" * 20 + "TAG"
READ = "CCCTAA" + GENE + "CC"


def test_orf_in_read_order_by_hand():
    assert read_order_orf(READ, 15, 45) == (0, 6, 6 + len(GENE), "ATG", "TAG", 1.0)
    # no start codon between the upstream stop and the candidate: the ORF starts after the stop
    no_start = "CCCTAA" + "GCT" * 20 + "TGA"
    assert read_order_orf(no_start, 15, 45) == (0, 6, 69, "", "TGA", 1.0)
    # no stop downstream in what was read: the ORF runs to the end of the read sequence
    assert read_order_orf("CCCTAA" + "ATG" + "GCT" * 5, 9, 18)[2:5] == (24, "ATG", "")
    # table 4 (Mycoplasma) reads TGA as Trp: the ORF runs on to the next TAA/TAG
    assert read_order_orf(no_start + "GCTTAA", 15, 45, code=4)[2] == 75
    assert read_order_orf(READ, 10, 12) is None


def _genome(plus_strand: str):
    def sequence_of(contig, start, end, strand):
        piece = plus_strand[start:end]
        return str(Seq(piece).reverse_complement()) if strand == "-" else piece

    return sequence_of


@pytest.mark.parametrize("strand", ["+", "-"])
def test_candidate_orf_in_genome_coordinates(strand):
    left = "GG" + "C" * 40  # 42 nt before the read-order READ on +
    body = READ if strand == "+" else str(Seq(READ).reverse_complement())
    genome = left + body + "C" * 40
    length = len(genome)
    lo = len(left) + (15 if strand == "+" else len(READ) - 45)  # the same candidate bases, either strand
    orf = candidate_orf(_genome(genome), "c", lo, lo + 30, strand, length, search=50)
    piece = genome[orf.start : orf.end]
    protein = str(Seq(piece if strand == "+" else str(Seq(piece).reverse_complement())).translate(table=11))
    assert protein == "M" + "A" * 20 + "*"  # Biopython: a whole ORF, start to stop
    assert (orf.start_codon, orf.stop_codon, orf.covers) == ("ATG", "TAG", 1.0)
    if strand == "+":  # ATG at 42 + 6 = 48; 48 % 3 = 0: frame +1
        assert (orf.start, orf.end, orf.frame) == (48, 48 + len(GENE), "+1")
    else:  # read-order i is genome 115 - i: ORF [6, 72) -> [44, 110); (156 - 110) % 3 = 1: frame -2
        assert (length, orf.start, orf.end, orf.frame) == (156, 44, 110, "-2")


def test_candidates_gff3_carries_the_orf():
    long_gene = "ATG" + "GCT" * 40 + "TAG"  # 126 nt at 203-329: holds the 94-nt candidate (CDS needs >= 90)
    genome = "C" * 200 + "TAA" + long_gene + "C" * 300
    regions = Regions(
        pd.DataFrame(
            [("chr1", "gene", 0, 90, "+", "abcA", "g1", "ABC transporter")],
            columns=["contig", "type", "start", "end", "strand", "name", "id", "product"],
        ),
        {"chr1": len(genome)},
    )
    frame = pd.DataFrame(
        [(5, "chr1", 206, 300, "+", 900)], columns=["feature", "contig", "start", "end", "strand", "score"]
    )
    hits = frame.assign(hit=1, peak=frame["start"], activation=0.9)[list(HIT_COLUMNS)]
    chosen = Chosen({5: ("CDS", "CDS", True)}, annotated=True)
    out = find_candidates(hits, chosen, regions, sequence_of=_genome(genome))
    text = candidates_gff3(out, chosen, {"chr1": len(genome)}, "demo")
    (record,) = parse_gff3_strict("\n".join(line for line in text.splitlines() if not line.startswith("# ")))
    assert record["orf_span"] == "204-329" and record["orf_length"] == "126"  # 1-based: ATG at 0-based 203
    assert record["orf_frame"] == "+3" and 203 % 3 == 2
    assert (record["orf_start_codon"], record["orf_stop_codon"], record["orf_covers"]) == ("ATG", "TAG", "1.00")
    assert record["nearest_gene"] == "abcA (ABC transporter)" and record["distance"] == "116"
