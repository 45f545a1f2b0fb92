"""GenBank -> feature model, checked against the bundled curated records and Biopython's own view."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqFeature import CompoundLocation, SeqFeature, SimpleLocation
from Bio.SeqRecord import SeqRecord
from genome_helpers import cds_sequence, translate

from dnalens.genome.annotation import load_annotation, read_normalized_gff3, write_normalized_gff3
from dnalens.genome.genbank import read_genbank


@pytest.fixture(scope="module")
def chloroplast(genomes_dir):
    return read_genbank(genomes_dir / "NC_000932.gb")


def _transcripts(annotation, ttype):
    return [t for t in annotation.transcripts() if t.type == ttype]


def test_chloroplast_counts(chloroplast):
    a = chloroplast.annotation
    assert len(_transcripts(a, "tRNA")) == 37
    assert len(_transcripts(a, "rRNA")) == 7
    assert len({f.id for f in a.by_type("CDS")}) == 85
    assert len({f.id for f in a.by_type("gene")}) == 129
    assert a.genetic_code == 11
    assert a.circular_seqids == {"NC_000932.1"}
    assert chloroplast.sequences[0][0] == "NC_000932.1" and len(chloroplast.sequences[0][1]) == 154478
    # Every transcript has exons and a gene; every CDS row has a phase.
    for t in a.transcripts():
        assert t.exons and t.gene_id
    assert all(f.phase in (0, 1, 2) for f in a.by_type("CDS"))
    assert a.validate_structure() == []


def test_every_chloroplast_cds_translates_to_the_genbank_translation(chloroplast, genomes_dir):
    """Parts in transcription order + phases are right iff the spliced CDS gives /translation."""
    genome = dict(chloroplast.sequences)
    record = SeqIO.read(genomes_dir / "NC_000932.gb", "genbank")
    expected = {
        f.qualifiers["protein_id"][0]: f.qualifiers["translation"][0] for f in record.features if f.type == "CDS"
    }
    checked = 0
    for t in _transcripts(chloroplast.annotation, "mRNA"):
        protein = translate(cds_sequence(genome, t.cds)).rstrip("*")
        want = expected[t.id.removeprefix("rna-")]
        assert protein[1:] == want[1:], t.name  # first codon may be an alternative start (GTG -> M)
        checked += 1
    assert checked == 85


def test_rps12_trans_splicing_and_intron_joins(chloroplast):
    a = chloroplast.annotation
    rps12 = sorted((t for t in a.transcripts() if t.name == "rps12"), key=lambda t: t.id)
    assert len(rps12) == 2
    same_strand, mixed = rps12  # ArthCp001 (both copies on -) and ArthCp047 (- then +)
    # complement(join(97999..98024,98562..98793,69611..69724)) -> transcription order 69611.., 98562.., 97999..
    assert [(p.start, p.end, p.strand) for p in same_strand.cds] == [
        (69610, 69724, "-"),
        (98561, 98793, "-"),
        (97998, 98024, "-"),
    ]
    assert [p.phase for p in same_strand.cds] == [0, 0, 2]  # 114 bp, then 232 bp: (3 - 346 % 3) % 3 = 2
    assert same_strand.trans_spliced and mixed.trans_spliced
    assert [(p.start, p.strand) for p in mixed.cds] == [(69610, "-"), (139855, "+"), (140624, "+")]
    # The trans-spliced gene is one ID with one row per piece.
    gene_rows = a.rows(same_strand.gene_id)
    assert [(r.start, r.end) for r in gene_rows] == [(69610, 69724), (97998, 98793)]
    # An intron-containing tRNA: trnK complement(join(1717..1751,4311..4347)) -> exons 4311.., then 1717..
    trnk = next(t for t in a.transcripts() if t.name == "trnK")
    assert [(e.start, e.end) for e in trnk.exons] == [(4310, 4347), (1716, 1751)]
    assert a.rows(trnk.id)[0].start == 1716 and a.rows(trnk.id)[0].end == 4347


def test_plasmid_cds(genomes_dir):
    records = read_genbank(genomes_dir / "NC_005816.gb")
    a = records.annotation
    assert len({f.id for f in a.by_type("CDS")}) == 10
    assert len(_transcripts(a, "mRNA")) == 10
    genome = dict(records.sequences)
    record = SeqIO.read(genomes_dir / "NC_005816.gb", "genbank")
    expected = sorted(f.qualifiers["translation"][0][1:] for f in record.features if f.type == "CDS")
    got = sorted(translate(cds_sequence(genome, t.cds)).rstrip("*")[1:] for t in a.transcripts())
    assert got == expected
    # Insertion-site variations (5933^5934) cover no base: dropped, never a start > end row.
    assert all(f.start < f.end for f in a.features)


def test_crlf_and_gzip_genbank_read_the_same(genomes_dir, tmp_path):
    import gzip

    text = (genomes_dir / "NC_005816.gb").read_text()
    crlf = tmp_path / "p.gb"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    gz = tmp_path / "p.gb.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    reference = read_genbank(genomes_dir / "NC_005816.gb")
    for path in (crlf, gz):
        again = read_genbank(path)
        assert again.sequences == reference.sequences
        assert again.annotation.features == reference.annotation.features


def test_normalized_gff3_round_trip(chloroplast, tmp_path):
    a = chloroplast.annotation
    lengths = {n: len(s) for n, s in chloroplast.sequences}
    path = tmp_path / "annotation.gff3"
    write_normalized_gff3(a, path, lengths)
    back = read_normalized_gff3(path)
    assert back.features == a.features
    assert back.genetic_code == 11 and back.circular_seqids == a.circular_seqids
    assert load_annotation(path).features == a.features  # auto-detected as GFF3


def _origin_record() -> str:
    seq = "ATG" + "GCT" * 30 + "TAA" + "C" * 100 + "TTA" + "AGC" * 30 + "CAT"  # 292 bp
    n = len(seq)
    rec = SeqRecord(Seq(seq), id="circ.1", name="circ", annotations={"molecule_type": "DNA", "topology": "circular"})
    # CDS on + spanning the origin: the last 60 bp and the first 36 bp.
    plus = CompoundLocation([SimpleLocation(n - 60, n, 1), SimpleLocation(0, 36, 1)])
    rotated = seq[-60:] + seq[:36]
    # CDS on - spanning the origin (complement(join(n-30..n, 1..60))): read from 60 down to n-30.
    minus = CompoundLocation([SimpleLocation(0, 60, -1), SimpleLocation(n - 30, n, -1)])
    rec.features = [
        SeqFeature(plus, type="CDS", qualifiers={"locus_tag": ["P1"], "codon_start": ["1"]}),
        SeqFeature(minus, type="CDS", qualifiers={"locus_tag": ["M1"], "codon_start": ["2"]}),
        SeqFeature(SimpleLocation(100, 150, 1), type="tRNA", qualifiers={"locus_tag": ["T1"]}),
    ]
    handle = StringIO()
    SeqIO.write(rec, handle, "genbank")
    assert len(rotated) == 96
    return handle.getvalue()


def test_origin_spanning_features_from_genbank(tmp_path):
    path = tmp_path / "circ.gb"
    path.write_text(_origin_record())
    a = read_genbank(path).annotation
    n = 292
    plus = a.rows("cds-P1")
    assert [(r.start, r.end, r.phase) for r in plus] == [(n - 60, n, 0), (0, 36, 0)]
    minus = a.rows("cds-M1")
    assert [(r.start, r.end) for r in minus] == [(0, 60), (n - 30, n)]
    assert [r.phase for r in minus] == [1, (3 - (60 - 1) % 3) % 3]
    # The synthesised mRNA's exon is one feature of two rows (one exon across the origin).
    tx = {t.id: t for t in a.transcripts()}
    mrna = next(t for t in tx.values() if t.cds and t.cds[0].strand == "+")
    exon_ids = a.children(mrna.id, "exon")
    assert len(exon_ids) == 1 and len(a.rows(exon_ids[0])) == 2
    assert Counter(t.type for t in tx.values()) == {"mRNA": 2, "tRNA": 1}
    assert a.validate_structure() == []


def test_validate_structure_reports_broken_models():
    from dnalens.genome.model import Annotation, Feature

    broken = Annotation([Feature("c", "gene", 0, 10, "+", "g"), Feature("c", "CDS", 0, 9, "+", "x", ("g",), None)])
    assert broken.validate_structure() == ["x: CDS without a transcript parent", "x: CDS row without phase 0/1/2"]
