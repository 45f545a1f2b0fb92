"""The `promoter` concept is an upstream window of a stated width, wide enough for psbA's -35 box."""

from __future__ import annotations

from Bio import SeqIO
from conftest import Labelled, feat, genome_of

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import GenomeSequence, encode
from dnalens.concepts.registry import compute_concepts
from dnalens.concepts.settings import concept_settings
from dnalens.genome.genbank import read_genbank

SEQ = "ACGT" * 300  # 1,200 bp


def test_default_window_is_150_nt_and_the_description_says_so():
    rows = [
        feat("c", "gene", 300, 600, "+", "g0"),
        feat("c", "CDS", 300, 600, "+", "c0", ["g0"], phase=0),
        feat("c", "gene", 700, 900, "-", "g1"),
        feat("c", "CDS", 700, 900, "-", "c1", ["g1"], phase=0),
    ]
    lab = Labelled(rows, genome_of({"c": SEQ}), promoter_anchor="transcript")
    assert lab.parts("promoter") == {("c", 150, 300, "+"), ("c", 900, 1050, "-")}
    concept = next(c for c in lab.cs.columns if c.name == "promoter").concept
    assert "not a called promoter: the 150 nt before each transcript 5' end" in concept.description
    wider = Labelled(rows, genome_of({"c": SEQ}), promoter_anchor="transcript", promoter_upstream=40)
    assert "the 40 nt before" in next(c for c in wider.cs.columns if c.name == "promoter").concept.description


def _psba_minus35(gb) -> tuple[int, int]:
    """Genome span of the TTGACA upstream of psbA's start codon, found with Biopython alone."""
    record = SeqIO.read(gb, "genbank")
    cds = next(f for f in record.features if f.type == "CDS" and f.qualifiers.get("gene") == ["psbA"])
    assert cds.location.strand == -1
    start_codon_end = int(cds.location.end)  # on −, the start codon is the last 3 bases of the span
    upstream = str(record.seq[start_codon_end : start_codon_end + 150].reverse_complement())
    at = upstream.rfind("TTGACA")  # read order: the box's first base is len - at nt before the ATG
    assert len(upstream) - at == 115  # the canonical placement: TTGACA at -115..-110
    first = start_codon_end + (len(upstream) - at) - 6
    return first, first + 6


def _psba_promoter(gb, **settings) -> list[tuple[int, int]]:
    records = read_genbank(gb)
    genome = GenomeSequence(
        {k: encode(v) for k, v in dict(records.sequences).items()}, frozenset(records.circular), 11, "organelle"
    )
    ctx = ConceptContext(records.annotation, genome, concept_settings({"include": ["promoter"], **settings}))
    iv = next(c for c in compute_concepts(ctx).columns if c.name == "promoter").concept.intervals
    return [(a, b) for a, b, s in zip(iv.start.tolist(), iv.end.tolist(), iv.strand.tolist()) if s == "-" and a == 1444]


def test_psba_minus35_box_lies_inside_the_default_promoter(genomes_dir):
    gb = genomes_dir / "NC_000932.gb"
    lo, hi = _psba_minus35(gb)
    (window,) = _psba_promoter(gb)
    assert window[0] <= lo and hi <= window[1]
    (old,) = _psba_promoter(gb, promoter_upstream=100)
    assert old[1] < hi  # the old 100-nt window ended before the box
