import gzip
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pyBigWig
import pysam
import scipy.sparse as sp

from dnalens.report.hits import feature_hits
from dnalens.report.top_windows import column
from dnalens.report.tracks import (
    bed9_chunks,
    bed9_lines,
    bed9_text,
    gff3_chunks,
    gff3_text,
    igv_session_xml,
    strand_maxima,
    write_bigwig,
    write_chrom_sizes,
    write_tabix,
)

from . import synthetic


def _hits():
    codes = sp.csc_matrix(synthetic.codes())
    codes.sort_indices()
    return codes, feature_hits(codes, 0, synthetic.token_map(), 0.15, 5.0)


def test_bigwig_per_strand_values_read_back(tmp_path):
    codes, _ = _hits()
    tokens = synthetic.token_map()
    rows, values = column(codes, 0)
    plus, minus = tmp_path / "f0.plus.bw", tmp_path / "f0.minus.bw"
    write_bigwig(plus, synthetic.CHROM_SIZES, strand_maxima(rows, values, tokens, minus=False))
    write_bigwig(minus, synthetic.CHROM_SIZES, strand_maxima(rows, values, tokens, minus=True))
    bw = pyBigWig.open(str(plus))
    assert bw.chroms() == synthetic.CHROM_SIZES
    got = {i[0]: i[2] for i in bw.intervals("chrA")}
    # + strand: w0 (2,3,4), w4 (3,4,5: max with w0), w2 wrapping (18,19,0,1)
    assert got == {0: 5.0, 1: 1.0, 2: 1.0, 3: 3.0, 4: 2.0, 5: 2.0, 18: 1.0, 19: 1.0}
    assert [(s, e) for s, e, _ in bw.intervals("chrA")][:2] == [(0, 1), (1, 2)]  # one base per entry
    assert bw.intervals("chrB") == ((9, 10, 0.5),)
    assert math.isnan(bw.values("chrA", 10, 11)[0])  # uncovered: no data, not zero
    bw.close()
    bw = pyBigWig.open(str(minus))
    assert {i[0]: i[2] for i in bw.intervals("chrA")} == {13: 1.0, 14: 4.0}
    assert not bw.intervals("chrB")
    bw.close()


def test_bed9_hand_computed(tmp_path):
    _, hits = _hits()
    lines = bed9_lines(hits, synthetic.CHROM_SIZES, {0: "#D55E00"}, {0: "CDS"})
    assert lines == [
        "chrA\t0\t2\tf0:CDS\t1000\t+\t0\t1\t213,94,0",  # second piece of the origin-spanning hit holds the peak
        "chrA\t2\t6\tf0:CDS\t600\t+\t3\t4\t213,94,0",
        "chrA\t13\t15\tf0:CDS\t800\t-\t14\t15\t213,94,0",
        "chrA\t18\t20\tf0:CDS\t1000\t+\t18\t18\t213,94,0",
    ]
    path = tmp_path / "hits.bed.gz"
    assert write_tabix(path, bed9_text(hits, synthetic.CHROM_SIZES, {0: "#D55E00"}, {0: "CDS"}), "bed") == [
        path,
        tmp_path / "hits.bed.gz.tbi",
    ]
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert text[0].startswith("track ") and text[1:] == lines
    for r in (line.split("\t") for line in lines):
        assert len(r) == 9 and 0 <= int(r[4]) <= 1000 and int(r[1]) <= int(r[6]) <= int(r[7]) <= int(r[2])
    # the index answers region queries like a brute-force overlap filter over the lines
    with pysam.TabixFile(str(path)) as tbx:
        for a, b in ((0, 1), (1, 3), (6, 13), (14, 19), (0, 20)):
            expected = [line for line in lines if int(line.split("\t")[1]) < b and int(line.split("\t")[2]) > a]
            assert list(tbx.fetch("chrA", a, b)) == expected, (a, b)
        assert "chrB" not in tbx.contigs


def parse_gff3_strict(text: str) -> list[dict]:
    """An independent, strict GFF3 reader: 9 columns, 1-based inclusive, escaped attributes."""
    lines = text.splitlines()
    assert lines[0] == "##gff-version 3"
    regions = {}
    records = []
    for line in lines[1:]:
        if line.startswith("##sequence-region"):
            _, seqid, a, b = line.split()
            regions[seqid] = (int(a), int(b))
            continue
        if line.startswith("# "):  # a comment (GFF3 allows them anywhere): the hit cap, stated in the file
            continue
        assert not line.startswith("#") and line.strip()
        cols = line.split("\t")
        assert len(cols) == 9, line
        seqid, source, type_, start, end, score, strand, phase, attrs = cols
        start, end = int(start), int(end)
        assert 1 <= start <= end <= regions[seqid][1]
        assert strand in "+-." and phase == "." and type_ == "sequence_feature"
        float(score)
        parsed = {}
        for pair in attrs.split(";"):
            key, value = pair.split("=")
            assert key[0].isupper() or key == key.lower(), key  # custom attributes must be lowercase
            assert not any(ch in value for ch in ";=\t,")
            parsed[key] = unquote(value)
        records.append({"seqid": seqid, "start": start, "end": end, "strand": strand, **parsed})
    return records


def test_gff3_reads_back_with_one_id_across_origin():
    _, hits = _hits()
    text = gff3_text(
        hits, synthetic.CHROM_SIZES, {0: {"best_concept": "CDS; sense", "layer": "blocks.1"}}, {0: "#0072B2"}
    )
    records = parse_gff3_strict(text)
    assert [(r["start"], r["end"], r["strand"], r["ID"]) for r in records] == [
        (1, 2, "+", "f0.hit1"),
        (3, 6, "+", "f0.hit3"),
        (14, 15, "-", "f0.hit2"),
        (19, 20, "+", "f0.hit1"),
    ]
    assert records[0]["best_concept"] == "CDS; sense" and records[0]["feature_id"] == "0"
    assert records[2]["peak"] == "15"  # 1-based


def test_igv_session_paths_are_relative(tmp_path):
    session = tmp_path / "res" / "g" / "tracks" / "igv_session.xml"
    xml = igv_session_xml(
        session,
        tmp_path / "res" / "g" / "genome.fa",
        "chrA:1-20",
        [
            (tmp_path / "res" / "g" / "annotation.gff3", "annotation", None),
            (session.parent / "f0.plus.bw", "f0 +", "#0072B2"),
        ],
    )
    root = ET.fromstring(xml)
    assert root.tag == "Session" and root.get("genome") == "../genome.fa"
    assert [r.get("path") for r in root.iter("Resource")] == ["../annotation.gff3", "f0.plus.bw"]
    assert [t.get("color") for t in root.iter("Track")] == [None, "0,114,178"]
    assert not any(Path(r.get("path")).is_absolute() for r in root.iter("Resource"))


def test_chrom_sizes(tmp_path):
    write_chrom_sizes(tmp_path / "chrom.sizes", synthetic.CHROM_SIZES)
    assert (tmp_path / "chrom.sizes").read_text() == "chrA\t20\nchrB\t30\n"


def test_gff3_origin_spanning_hit_reads_back_with_the_genome_reader(tmp_path):
    from dnalens.genome import gff3

    _, hits = _hits()
    path = tmp_path / "hits.gff3"
    path.write_text(gff3_text(hits, synthetic.CHROM_SIZES, {0: {"best_concept": "CDS"}}, {0: "#0072B2"}))
    parsed = gff3.parse_gff3(path, circular=["chrA"])
    rows = sorted((f.id, f.start, f.end, f.strand) for f in parsed.features)
    assert rows == [("f0.hit1", 0, 2, "+"), ("f0.hit1", 18, 20, "+"), ("f0.hit2", 13, 15, "-"), ("f0.hit3", 2, 6, "+")]
    assert {f.attr("best_concept") for f in parsed.features} == {"CDS"}


def test_text_built_in_slices_equals_text_built_at_once(tmp_path):
    _, hits = _hits()
    info, colours = {0: {"best_concept": "CDS"}}, {0: "#0072B2"}
    whole = gff3_text(hits, synthetic.CHROM_SIZES, info, colours)
    assert "".join(gff3_chunks(hits, synthetic.CHROM_SIZES, info, colours, rows=1)) == whole
    write_tabix(tmp_path / "hits.gff3.gz", gff3_chunks(hits, synthetic.CHROM_SIZES, info, colours), "gff")
    assert gzip.decompress((tmp_path / "hits.gff3.gz").read_bytes()).decode() == whole and whole.count("\n") == 3 + 4
    with pysam.TabixFile(str(tmp_path / "hits.gff3.gz")) as tbx:  # 1-based GFF3 start 1 = 0-based base 0
        assert [r.split("\t")[3:5] for r in tbx.fetch("chrA", 0, 1)] == [["1", "2"]]
    sliced = [line for chunk in bed9_chunks(hits, synthetic.CHROM_SIZES, colours, {}, rows=3) for line in chunk]
    assert sliced == bed9_lines(hits, synthetic.CHROM_SIZES, colours, {}) and len(sliced) == 4


def test_igv_goto_url_is_one_based_and_escaped():
    """0-based [99, 200) is 1-based 100-200; `|` and `:` in a contig name are escaped; a window across the origin
    of a 1,000-bp circular contig shows its part up to the contig end."""
    from dnalens.report.tokens import igv_goto_url

    assert igv_goto_url("chr1", 99, 200) == "http://localhost:60151/goto?locus=chr1%3A100-200"
    assert igv_goto_url("gi|123|", 0, 10) == "http://localhost:60151/goto?locus=gi%7C123%7C%3A1-10"
    assert igv_goto_url("c", 990, 1010, length=1000) == "http://localhost:60151/goto?locus=c%3A991-1000"
    assert igv_goto_url("c", 1005, 1010, length=1000) == "http://localhost:60151/goto?locus=c%3A6-10"
