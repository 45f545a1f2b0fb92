"""A GTF without gene/transcript lines gives the same introns, UTRs and codon labels as its GFF3.

Both files describe two spliced genes (+ and −) with UTRs and CDS phases 0/2; the expected labels
are also written out by hand, so the test fails if both parsers agree on a wrong answer.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import genome_of

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.registry import compute_concepts
from dnalens.concepts.settings import concept_settings
from dnalens.genome.annotation import load_annotation

COMPARED = [
    "CDS",
    "exon",
    "intron",
    "five_prime_UTR",
    "three_prime_UTR",
    "splice_donor",
    "splice_acceptor",
    "exon_first_base",
    "exon_last_base",
    "start_codon",
    "stop_codon",
    "CDS_codon_pos1",
    "CDS_codon_pos2",
    "CDS_codon_pos3",
]


def _sequence() -> str:
    rng = random.Random(7)
    seq = list("".join(rng.choice("ACGT") for _ in range(3000)))

    def put(at: int, text: str) -> None:
        seq[at : at + len(text)] = list(text)

    put(150, "ATG")  # gene A (+): start codon
    put(946, "TAA")  # gene A: stop codon (last 3 nt of the CDS 800..949)
    put(300, "T")  # codon split by the first intron: T | GG -> TGG (Trp)
    put(400, "GG")
    put(2198, "CAT")  # gene B (−): start codon ATG read on −
    put(1602, "TTA")  # gene B: stop codon TAA read on −
    return "".join(seq)


# 1-based closed coordinates. Gene A (+): exons 101-301, 401-700, 801-1000; CDS 151-301 (phase 0),
# 401-700 (phase 2), 801-949 (phase 2). Gene B (−): exons 1501-1700, 1901-2300; CDS 1901-2201 (phase 0,
# first in transcription order), 1603-1700 (phase 2).
GFF3 = """##gff-version 3
chr\ttest\tgene\t101\t1000\t.\t+\t.\tID=gA
chr\ttest\tmRNA\t101\t1000\t.\t+\t.\tID=tA;Parent=gA
chr\ttest\texon\t101\t301\t.\t+\t.\tID=eA1;Parent=tA
chr\ttest\texon\t401\t700\t.\t+\t.\tID=eA2;Parent=tA
chr\ttest\texon\t801\t1000\t.\t+\t.\tID=eA3;Parent=tA
chr\ttest\tfive_prime_UTR\t101\t150\t.\t+\t.\tID=u5A;Parent=tA
chr\ttest\tCDS\t151\t301\t.\t+\t0\tID=cA;Parent=tA
chr\ttest\tCDS\t401\t700\t.\t+\t2\tID=cA;Parent=tA
chr\ttest\tCDS\t801\t949\t.\t+\t2\tID=cA;Parent=tA
chr\ttest\tthree_prime_UTR\t950\t1000\t.\t+\t.\tID=u3A;Parent=tA
chr\ttest\tgene\t1501\t2300\t.\t-\t.\tID=gB
chr\ttest\tmRNA\t1501\t2300\t.\t-\t.\tID=tB;Parent=gB
chr\ttest\texon\t1501\t1700\t.\t-\t.\tID=eB1;Parent=tB
chr\ttest\texon\t1901\t2300\t.\t-\t.\tID=eB2;Parent=tB
chr\ttest\tCDS\t1603\t1700\t.\t-\t2\tID=cB;Parent=tB
chr\ttest\tCDS\t1901\t2201\t.\t-\t0\tID=cB;Parent=tB
chr\ttest\tfive_prime_UTR\t2202\t2300\t.\t-\t.\tID=u5B;Parent=tB
chr\ttest\tthree_prime_UTR\t1501\t1602\t.\t-\t.\tID=u3B;Parent=tB
"""

_A = 'gene_id "gA"; transcript_id "tA";'
_B = 'gene_id "gB"; transcript_id "tB";'
GTF = (
    "\n".join(
        "\t".join(row)
        for row in [
            ["chr", "test", "exon", "801", "1000", ".", "+", ".", _A],  # deliberately out of order
            ["chr", "test", "exon", "101", "301", ".", "+", ".", _A],
            ["chr", "test", "exon", "401", "700", ".", "+", ".", _A],
            ["chr", "test", "CDS", "151", "301", ".", "+", "0", _A],
            ["chr", "test", "CDS", "401", "700", ".", "+", "2", _A],
            ["chr", "test", "CDS", "801", "946", ".", "+", "2", _A],  # GTF CDS excludes the stop codon
            ["chr", "test", "start_codon", "151", "153", ".", "+", "0", _A],
            ["chr", "test", "stop_codon", "947", "949", ".", "+", "0", _A],
            ["chr", "test", "exon", "1501", "1700", ".", "-", ".", _B],
            ["chr", "test", "exon", "1901", "2300", ".", "-", ".", _B],
            ["chr", "test", "CDS", "1606", "1700", ".", "-", "2", _B],
            ["chr", "test", "CDS", "1901", "2201", ".", "-", "0", _B],
            ["chr", "test", "start_codon", "2199", "2201", ".", "-", "0", _B],
            ["chr", "test", "stop_codon", "1603", "1605", ".", "-", "0", _B],
        ]
    )
    + "\n"
)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    d = tmp_path_factory.mktemp("gtf")
    (d / "a.gff3").write_text(GFF3)
    (d / "a.gtf").write_text(GTF)
    genome = genome_of({"chr": _sequence()})
    out = {}
    for fmt in ("gff3", "gtf"):
        ann = load_annotation(d / f"a.{fmt}", fmt, contig_lengths=genome.lengths)
        out[fmt] = compute_concepts(ConceptContext(ann, genome, concept_settings({"keep_empty": True})))
    return genome, out


def _arrays(cs, name, n):
    col = next(c for c in cs.columns if c.name == name)
    return {s: col.values("chr", n, s) for s in "+-"}


@pytest.mark.parametrize("name", COMPARED)
def test_same_labels_from_gtf_and_gff3(both, name):
    genome, cs = both
    n = genome.lengths["chr"]
    gff, gtf = _arrays(cs["gff3"], name, n), _arrays(cs["gtf"], name, n)
    assert gff["+"].any() and gff["-"].any(), f"{name} should be present on both strands"
    for s in "+-":
        np.testing.assert_array_equal(gff[s], gtf[s], err_msg=f"{name} on {s} reads")


def test_same_categoricals(both):
    genome, cs = both
    n = genome.lengths["chr"]
    for name in ("amino_acid", "codon_position"):
        a = next(c for c in cs["gff3"].categoricals if c.name == name)
        b = next(c for c in cs["gtf"].categoricals if c.name == name)
        for s in "+-":
            np.testing.assert_array_equal(a.values("chr", n, s), b.values("chr", n, s))


def test_hand_computed_labels(both):
    genome, cs = both
    n = genome.lengths["chr"]
    get = lambda name, s: np.flatnonzero(_arrays(cs["gtf"], name, n)[s]).tolist()  # noqa: E731
    assert get("intron", "+") == list(range(301, 400)) + list(range(700, 800))
    assert get("intron", "-") == list(range(1700, 1900))
    assert get("five_prime_UTR", "+") == list(range(100, 150))
    assert get("three_prime_UTR", "+") == list(range(949, 1000))
    assert get("five_prime_UTR", "-") == list(range(2201, 2300))
    assert get("three_prime_UTR", "-") == list(range(1500, 1602))
    assert get("start_codon", "+") == [150, 151, 152] and get("stop_codon", "+") == [946, 947, 948]
    assert get("start_codon", "-") == [2198, 2199, 2200] and get("stop_codon", "-") == [1602, 1603, 1604]
    assert get("splice_donor", "-") == [1898, 1899] and get("splice_acceptor", "-") == [1700, 1701]
    pos = {k: set(get(f"CDS_codon_pos{k}", "+")) for k in (1, 2, 3)}
    assert 300 in pos[1] and 400 in pos[2] and 401 in pos[3] and 402 in pos[1]  # frame kept across the intron
    pos_minus = {k: set(get(f"CDS_codon_pos{k}", "-")) for k in (1, 2, 3)}
    assert 2200 in pos_minus[1] and 1900 in pos_minus[1] and 1699 in pos_minus[2] and 1698 in pos_minus[3]
    aa = next(c for c in cs["gtf"].categoricals if c.name == "amino_acid")
    classes = aa.classes
    plus = aa.values("chr", n, "+")
    assert [classes[plus[i]] for i in (300, 400, 401)] == ["W"] * 3  # the split TGG codon
    assert [classes[plus[i]] for i in (150, 946)] == ["M", "stop"]
    assert classes[aa.values("chr", n, "-")[2200]] == "M"
