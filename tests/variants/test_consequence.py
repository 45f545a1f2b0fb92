"""Consequence classes against hand-computed cases on both strands (a GFF3 read by the genome parser)."""

from __future__ import annotations

import pytest

from dnalens.concepts.units import transcript_units
from dnalens.formats.window_table import reverse_complement
from dnalens.genome.annotation import load_annotation
from dnalens.variants.consequence import ConsequenceModel, trim_alleles

# + gene, CDS 21..50 (1-based) = ATG AAA TGG CAA GGC CTG TTT GAA CCC TAA (M K W Q G L F E P *)
PLUS_CDS = "ATGAAATGGCAAGGCCTGTTTGAACCCTAA"
# − gene, CDS 101..130 (1-based); its coding strand reads ATG GCT TGG AAA CTG CAG GGT TTA GAT TGA
MINUS_CDS = "ATGGCTTGGAAACTGCAGGGTTTAGATTGA"
FILLER = "C" * 200


def _genome() -> str:
    seq = list(FILLER)
    seq[20:50] = PLUS_CDS
    seq[100:130] = reverse_complement(MINUS_CDS)
    return "".join(seq)


GFF = """##gff-version 3
c\tt\tgene\t21\t50\t.\t+\t.\tID=g1;Name=plusgene
c\tt\tmRNA\t21\t50\t.\t+\t.\tID=m1;Parent=g1
c\tt\texon\t21\t50\t.\t+\t.\tID=e1;Parent=m1
c\tt\tCDS\t21\t50\t.\t+\t0\tID=cds1;Parent=m1
c\tt\tgene\t101\t130\t.\t-\t.\tID=g2;Name=minusgene
c\tt\tmRNA\t101\t130\t.\t-\t.\tID=m2;Parent=g2
c\tt\texon\t101\t130\t.\t-\t.\tID=e2;Parent=m2
c\tt\tCDS\t101\t130\t.\t-\t0\tID=cds2;Parent=m2
c\tt\tgene\t151\t190\t.\t+\t.\tID=g3;Name=rnagene
c\tt\tncRNA\t151\t190\t.\t+\t.\tID=r3;Parent=g3
c\tt\texon\t151\t160\t.\t+\t.\tID=e3a;Parent=r3
c\tt\texon\t181\t190\t.\t+\t.\tID=e3b;Parent=r3
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("csq") / "a.gff3"
    path.write_text(GFF)
    seq = _genome()
    annotation = load_annotation(path, "gff3", contig_lengths={"c": len(seq)})
    units = transcript_units(annotation, {"c": len(seq)}, frozenset())
    return ConsequenceModel(units, {"c": seq}, 11, {"c": len(seq)})


def _minus(cds_index: int, cds_base: str) -> tuple[int, str, str]:
    """0-based genome position, genome REF, genome ALT of changing coding-strand base `cds_index` of the − gene."""
    pos = 129 - cds_index
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    return pos, comp[MINUS_CDS[cds_index]], comp[cds_base]


@pytest.mark.parametrize(
    "pos, ref, alt, expected, gene, protein",
    [
        (22, "G", "A", "start_lost", "plusgene", "M1I"),  # ATG -> ATA
        (20, "A", "G", "synonymous", "plusgene", "M1M"),  # ATG -> GTG, a start Prodigal calls
        (25, "A", "G", "synonymous", "plusgene", "K2K"),  # AAA -> AAG
        (24, "A", "T", "missense", "plusgene", "K2I"),  # AAA -> ATA
        (27, "G", "A", "stop_gained", "plusgene", "W3*"),  # TGG -> TAG
        (48, "A", "C", "stop_lost", "plusgene", "*10S"),  # TAA -> TCA
        (49, "A", "G", "synonymous", "plusgene", "*10*"),  # TAA -> TAG
        (*_minus(2, "A"), "start_lost", "minusgene", "M1I"),  # ATG -> ATA on the − strand
        (*_minus(7, "A"), "stop_gained", "minusgene", "W3*"),  # TGG -> TAG
        (*_minus(11, "G"), "synonymous", "minusgene", "K4K"),  # AAA -> AAG
        (*_minus(9, "C"), "missense", "minusgene", "K4Q"),  # AAA -> CAA
        (5, "C", "A", "intergenic", "", ""),
        (155, "C", "A", "ncrna_gene", "rnagene", ""),
        (161, "C", "A", "splice_region", "rnagene", ""),  # 2nd intron base
        (158, "C", "A", "splice_region", "rnagene", ""),  # 3rd-last exon base
        (170, "C", "A", "intron", "rnagene", ""),
    ],
)
def test_substitutions(model, pos, ref, alt, expected, gene, protein):
    assert model.sequences["c"][pos] == ref
    got = model.classify("c", pos, ref, alt)
    assert (got.consequence, got.gene, got.protein_change) == (expected, gene, protein)


def test_indels_and_allele_trimming(model):
    seq = model.sequences["c"]
    assert trim_alleles(29, seq[29:31], seq[29]) == (30, seq[30], "")
    assert model.classify("c", 29, seq[29:31], seq[29]).consequence == "frameshift"  # 1-nt deletion in the CDS
    assert model.classify("c", 29, seq[29:33], seq[29]).consequence == "inframe_indel"  # 3-nt deletion
    assert model.classify("c", 110, seq[110], seq[110] + "AA").consequence == "frameshift"  # − gene insertion
    assert model.classify("c", 60, seq[60:62], seq[60]).consequence == "intergenic"
    # an MNV over two codons takes the most severe: K2I (missense) and W3* (stop) -> stop_gained
    assert model.classify("c", 24, seq[24:28], "ATTA").consequence == "stop_gained"
