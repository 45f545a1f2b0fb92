"""Gene-structure concepts on hand-built annotations with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Labelled, feat, genome_of, ones

from dnalens.concepts.units import order_parts
from dnalens.genome.model import Part

SEQ = "ACGT" * 500  # 2,000 nt; base identity is irrelevant for structure concepts


def mrna(fid, exons, strand, *, gene=None, trans=False, cds=(), phases=None, seqid="c"):
    """gene + mRNA + exon rows (in the order given) + one CDS id with parts in the order given."""
    gene = gene or f"g-{fid}"
    extra = {"trans_splicing": "true"} if trans else {}
    lo = min(s for s, _ in exons)
    hi = max(e for _, e in exons)
    rows = [feat(seqid, "gene", lo, hi, strand, gene), feat(seqid, "mRNA", lo, hi, strand, fid, [gene], **extra)]
    rows += [
        feat(seqid, "exon", s, e, strand if isinstance(strand, str) else strand, f"{fid}-e{i}", [fid])
        for i, (s, e) in enumerate(exons)
    ]
    for i, (s, e) in enumerate(cds):
        rows.append(feat(seqid, "CDS", s, e, strand, f"{fid}-cds", [fid], phase=(phases or [0] * len(cds))[i]))
    return rows


def test_gff3_minus_exons_listed_ascending_are_reordered():
    parts = [Part("c", 100, 200, "-"), Part("c", 300, 400, "-")]
    assert order_parts(parts, False, {"c": 2000}, frozenset()) == tuple(parts[::-1])
    assert order_parts(parts[::-1], False, {"c": 2000}, frozenset()) == tuple(parts[::-1])
    lab = Labelled(mrna("t", [(100, 200), (300, 400)], "-"), genome_of({"c": SEQ}))
    assert lab.parts("intron") == {("c", 200, 300, "-")}
    assert lab.parts("splice_donor") == {("c", 298, 300, "-")}  # first 2 nt of the intron on −: 299, 298
    assert lab.parts("splice_acceptor") == {("c", 200, 202, "-")}
    assert lab.parts("exon_last_base") == {("c", 300, 301, "-")}  # 5'-most exon on − is [300, 400)
    assert lab.parts("exon_first_base") == {("c", 199, 200, "-")}


@pytest.mark.parametrize("flagged", [True, False])
def test_trans_splice_junctions_are_not_introns(flagged):
    # rps12-like: parts in transcription order; the first junction goes backwards on −, the second is cis.
    exons = [(1000, 1100), (1500, 1600), (800, 900)]
    rows = mrna("t1", exons, "-", trans=flagged)
    # mixed strands: − part then two + parts (cis intron between the + parts only)
    rows += [
        feat("c", "mRNA", 1200, 1900, "+", "t2", []),
        feat("c", "exon", 1200, 1300, "-", "t2-e1", ["t2"]),
        feat("c", "exon", 1700, 1800, "+", "t2-e2", ["t2"]),
        feat("c", "exon", 1850, 1900, "+", "t2-e3", ["t2"]),
    ]
    lab = Labelled(rows, genome_of({"c": SEQ}))
    # 1000-1100 -> 1500-1600 runs upstream on −: trans; 1500-1600 -> 800-900 is a cis intron 900-1500
    assert lab.parts("intron") == {("c", 900, 1500, "-"), ("c", 1800, 1850, "+")}
    assert lab.parts("splice_donor") == {("c", 1498, 1500, "-"), ("c", 1800, 1802, "+")}
    assert lab.parts("splice_acceptor") == {("c", 900, 902, "-"), ("c", 1848, 1850, "+")}
    assert lab.parts("exon_last_base") == {("c", 1500, 1501, "-"), ("c", 1799, 1800, "+")}
    assert lab.parts("exon_first_base") == {("c", 899, 900, "-"), ("c", 1850, 1851, "+")}


def test_introns_across_the_origin_of_a_circular_contig():
    genome = genome_of({"c": SEQ[:1000]}, circular=["c"])
    rows = mrna("a", [(900, 950), (20, 100)], "+")  # intron 950..1000 + 0..20
    rows += mrna("b", [(980, 1000), (0, 30), (60, 90)], "+")  # an exon split at the origin, one intron
    lab = Labelled(rows, genome)
    assert lab.parts("intron") == {("c", 950, 1000, "+"), ("c", 0, 20, "+"), ("c", 30, 60, "+")}
    assert lab.parts("splice_donor") == {("c", 950, 952, "+"), ("c", 30, 32, "+")}
    assert lab.parts("splice_acceptor") == {("c", 18, 20, "+"), ("c", 58, 60, "+")}
    # the same exons on a linear contig: the origin junction is no intron
    lab_linear = Labelled(mrna("b", [(980, 1000), (0, 30), (60, 90)], "+"), genome_of({"c": SEQ[:1000]}))
    assert lab_linear.parts("intron") == {("c", 30, 60, "+")}


def test_overlapping_genes_on_opposite_strands_label_both():
    rows = mrna("A", [(100, 400)], "+", cds=[(100, 400)]) + mrna("B", [(300, 600)], "-", cds=[(300, 600)])
    lab = Labelled(rows, genome_of({"c": SEQ}))
    assert ones(lab.col("CDS", "c", "+")) == list(range(100, 400))
    assert ones(lab.col("CDS_antisense", "c", "+")) == list(range(300, 600))
    assert ones(lab.col("CDS", "c", "-")) == list(range(300, 600))
    assert ones(lab.col("CDS_antisense", "c", "-")) == list(range(100, 400))
    ids_sense, ids_anti = lab.ids("CDS", "c", "+"), lab.ids("CDS_antisense", "c", "+")
    assert ids_sense[350] >= 0 and ids_anti[350] >= 0 and ids_sense[350] != ids_anti[350]
    assert ids_sense[350] == lab.ids("CDS_antisense", "c", "-")[350]  # same instance, other read strand
    assert lab.ids("CDS", "c", "+")[500] == -1


def test_utrs_derived_from_exons_minus_cds_on_both_strands():
    rows = mrna("P", [(100, 300), (400, 700)], "+", cds=[(150, 300), (400, 640)])
    rows += mrna("M", [(1000, 1200), (1400, 1600)], "-", cds=[(1400, 1550), (1050, 1200)])
    lab = Labelled(rows, genome_of({"c": SEQ}))
    assert lab.parts("five_prime_UTR") == {("c", 100, 150, "+"), ("c", 1550, 1600, "-")}
    assert lab.parts("three_prime_UTR") == {("c", 640, 700, "+"), ("c", 1000, 1050, "-")}
    assert lab.parts("CDS") == {
        ("c", 150, 300, "+"),
        ("c", 400, 640, "+"),
        ("c", 1400, 1550, "-"),
        ("c", 1050, 1200, "-"),
    }


def test_promoters_per_operon_and_per_transcript():
    rows = []
    for i, (s, e, strand) in enumerate([(100, 200, "+"), (210, 300, "+"), (500, 600, "+"), (700, 800, "-")]):
        rows += [feat("c", "gene", s, e, strand, f"g{i}"), feat("c", "CDS", s, e, strand, f"c{i}", [f"g{i}"], phase=0)]
    genome = genome_of({"c": SEQ})
    operon = Labelled(rows, genome, promoter_anchor="operon", promoter_upstream=50, operon_max_gap=50)
    assert operon.parts("promoter") == {("c", 50, 100, "+"), ("c", 450, 500, "+"), ("c", 800, 850, "-")}
    each = Labelled(rows, genome, promoter_anchor="transcript", promoter_upstream=50, promoter_downstream=5)
    assert each.parts("promoter") == {
        ("c", 50, 105, "+"),
        ("c", 160, 215, "+"),
        ("c", 450, 505, "+"),
        ("c", 795, 850, "-"),
    }
    # 'auto' follows the kingdom from genome.json
    auto = Labelled(rows, genome_of({"c": SEQ}, kingdom="prokaryote"), promoter_upstream=50)
    assert auto.parts("promoter") == operon.parts("promoter")


def test_tss_only_where_the_transcript_starts_before_its_cds():
    rows = mrna("U", [(100, 300)], "+", cds=[(150, 300)]) + mrna("N", [(500, 700)], "-", cds=[(500, 700)])
    lab = Labelled(rows, genome_of({"c": SEQ}))
    assert lab.parts("TSS") == {("c", 100, 101, "+")}


def test_intergenic_is_unstranded_and_wraps_on_circular_contigs():
    rows = [feat("c", "gene", 100, 300, "+", "g1"), feat("c", "gene", 500, 900, "-", "g2")]
    lab = Labelled(rows, genome_of({"c": SEQ[:1000]}, circular=["c"]))
    assert lab.parts("intergenic") == {("c", 300, 500, "."), ("c", 900, 1000, "."), ("c", 0, 100, ".")}
    assert "intergenic_antisense" not in lab.names
    ids = lab.ids("intergenic", "c", "+")
    assert ids[950] == ids[50] != ids[400]  # the run across the origin is one instance
    np.testing.assert_array_equal(lab.col("intergenic", "c", "+"), lab.col("intergenic", "c", "-"))


def test_pseudogenes_are_not_genes_and_their_cds_is_not_coding():
    rows = [
        feat("c", "gene", 100, 400, "+", "g1", pseudo="true"),
        feat("c", "CDS", 100, 400, "+", "c1", ["g1"], phase=0),
        feat("c", "gene", 500, 800, "+", "g2"),
        feat("c", "CDS", 500, 800, "+", "c2", ["g2"], phase=0),
    ]
    lab = Labelled(rows, genome_of({"c": SEQ}))
    assert lab.parts("pseudogene") == {("c", 100, 400, "+")}
    assert lab.parts("gene") == {("c", 500, 800, "+")}
    assert lab.parts("CDS") == {("c", 500, 800, "+")}


def test_rna_repeat_and_mobile_element_concepts():
    rows = [
        feat("c", "gene", 10, 90, "+", "g1"),
        feat("c", "tRNA", 10, 90, "+", "t1", ["g1"]),
        feat("c", "exon", 10, 40, "+", "t1-e1", ["t1"]),
        feat("c", "exon", 60, 90, "+", "t1-e2", ["t1"]),
        feat("c", "rRNA", 200, 400, "-", "r1"),
        feat("c", "snoRNA", 500, 550, "+", "n1"),
        feat("c", "repeat_region", 600, 700, ".", "rep1"),
        feat("c", "mobile_genetic_element", 800, 900, "-", "m1"),
    ]
    lab = Labelled(rows, genome_of({"c": SEQ}))
    assert lab.parts("tRNA") == {("c", 10, 40, "+"), ("c", 60, 90, "+")}
    assert lab.parts("intron") == {("c", 40, 60, "+")}  # tRNA intron
    assert lab.parts("rRNA") == {("c", 200, 400, "-")}
    assert lab.parts("ncRNA") == {("c", 500, 550, "+")}
    assert lab.parts("repeat_region") == {("c", 600, 700, ".")}
    assert lab.parts("mobile_genetic_element") == {("c", 800, 900, "-")}
    # an unstranded repeat counts as sense and antisense on both read strands
    assert lab.col("repeat_region_antisense", "c", "+")[650] and lab.col("repeat_region", "c", "-")[650]


def test_codon_family_on_a_genome_without_cds():
    rows = [feat("c", "tRNA", 10, 90, "+", "t1")]
    lab = Labelled(rows, genome_of({"c": SEQ}), include=["codons"], keep_empty=True)
    assert "CDS_codon_pos1" in lab.names and "start_codon_antisense" in lab.names
    assert not any(lab.col(n, "c", s).any() for n in lab.names for s in "+-")
    codes, classes = lab.cat("amino_acid", "c", "+")
    assert len(classes) == 21 and (codes == -1).all()
    assert Labelled(rows, genome_of({"c": SEQ}), include=["codons"]).names == []


def test_no_annotation_gives_sequence_concepts_only():
    lab = Labelled([], genome_of({"c": SEQ}))
    assert "intergenic" not in lab.names and "CDS" not in lab.names
    assert {"base_A", "CpG", "homopolymer"} - set(lab.names) == {"homopolymer"}  # ACGT repeats: no runs
    assert "GC_rich" not in lab.names  # uniform 50 % GC: no window departs from the mean
