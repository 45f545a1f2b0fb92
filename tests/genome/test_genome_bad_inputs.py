"""Every bad input -> exit 2, one line naming the file (and line) and the fix, and no output files."""

from __future__ import annotations

import json

import pytest
from genome_helpers import write_fasta

from dnalens.cli import main
from dnalens.genome.annotation import read_normalized_gff3
from dnalens.genome.prepare import OUTPUT_FILES

SEQ = "ACGT" * 25  # contig c1, 100 bp
GOOD_ROW = "c1\tsrc\tgene\t10\t60\t.\t+\t.\tID=g1"


def _prepare(tmp_path, spec, capsys):
    out = tmp_path / "out"
    code = main(["prepare", "--name", "g", "--genome-settings", json.dumps(spec), "--outdir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err, out


def _assert_clean_failure(code, err, out, *needles):
    assert code == 2
    assert len(err) == 1 and err[0].startswith("dnalens prepare: error: ")
    for needle in needles:
        assert needle in err[0], err[0]
    assert "Fix:" in err[0]
    leftovers = list(out.iterdir()) if out.exists() else []
    assert not [p.name for p in leftovers if p.name in OUTPUT_FILES or p.name.startswith(".prepare-")]


def _fasta(tmp_path, text=None):
    path = tmp_path / "g.fa"
    if text is None:
        write_fasta(path, {"c1": SEQ})
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("fasta_text", "needles"),
    [
        ("hello world\n", ["g.fa:1:", "not a FASTA file"]),
        (">a\nACGT\n>b\n>c\nAC\n", ["g.fa:3:", "contig 'b' has no sequence"]),
        (">a\nMKLVEEQ\n", ["g.fa:2:", "invalid sequence character 'L'"]),
        (">a\nAC\n>a\nGT\n", ["g.fa:3:", "occurs twice"]),
    ],
)
def test_bad_fasta(tmp_path, capsys, fasta_text, needles):
    _assert_clean_failure(*_prepare(tmp_path, {"fasta": _fasta(tmp_path, fasta_text)}, capsys), *needles)


def test_missing_file(tmp_path, capsys):
    code, err, out = _prepare(tmp_path, {"fasta": str(tmp_path / "nope.fa")}, capsys)
    _assert_clean_failure(code, err, out, "nope.fa", "not found")
    gff_missing = {"fasta": _fasta(tmp_path), "annotation": str(tmp_path / "nope.gff3")}
    _assert_clean_failure(*_prepare(tmp_path, gff_missing, capsys), "nope.gff3", "not found")


@pytest.mark.parametrize(
    ("row", "needles"),
    [
        ("chrX\tsrc\tgene\t10\t60\t.\t+\t.\tID=g2", ["a.gff3", "chrX", "g.fa", "not contigs of the FASTA"]),
        ("c1\tsrc\tgene\t10\t500\t.\t+\t.\tID=g2", ["a.gff3:3:", "beyond the end of contig 'c1' (100 bp)"]),
        ("c1\tsrc\tgene\t60\t10\t.\t+\t.\tID=g2", ["a.gff3:3:", "start (60) > end (10)"]),
        ("c1\tsrc\tgene\t10\t60\t.\tx\t.\tID=g2", ["a.gff3:3:", "bad strand column 'x'"]),
        ("c1\tsrc\tCDS\t10\t60\t.\t+\t5\tID=c;Parent=g1", ["a.gff3:3:", "bad phase column '5'"]),
        ("c1\tsrc\tgene\t10\t60\t.\t+\tID=g2", ["a.gff3:3:", "expected 9 tab-separated columns, found 8"]),
        ("c1 src gene 10 60 . + . ID=g2", ["a.gff3:3:", "found 1"]),
        ("c1\tsrc\tgene\t10\t60\t.\t+\t.\tID=g2;Parent=ghost", ["a.gff3:3:", "Parent 'ghost'"]),
    ],
)
def test_bad_gff3(tmp_path, capsys, row, needles):
    gff = tmp_path / "a.gff3"
    gff.write_text(f"##gff-version 3\n{GOOD_ROW}\n{row}\n")
    spec = {"fasta": _fasta(tmp_path), "annotation": str(gff)}
    _assert_clean_failure(*_prepare(tmp_path, spec, capsys), *needles)


def test_bad_gtf_and_genbank(tmp_path, capsys):
    gtf = tmp_path / "a.gtf"
    gtf.write_text(
        'c1\tsrc\texon\t10\t60\t.\t+\t.\tgene_id "g"; transcript_id "t";\n'
        'c1\tsrc\texon\t70\t80\t.\t+\t.\tgene_id "g" transcript_id\n'
    )
    spec = {"fasta": _fasta(tmp_path), "annotation": str(gtf), "annotation_format": "gtf"}
    _assert_clean_failure(*_prepare(tmp_path, spec, capsys), "a.gtf:2:", "bad GTF attribute")
    gb = tmp_path / "bad.gb"
    gb.write_text("LOCUS       x\nFEATURES   garbage\n//\n")
    _assert_clean_failure(*_prepare(tmp_path, {"genbank": str(gb)}, capsys), "bad.gb")
    _assert_clean_failure(*_prepare(tmp_path, {"genbank": str(gb), "fasta": "x.fa"}, capsys), "exactly one of")
    spec = {"fasta": _fasta(tmp_path), "contigs": ["c9"]}
    _assert_clean_failure(*_prepare(tmp_path, spec, capsys), "c9", "not in the FASTA")


def test_crlf_and_iupac_are_accepted(tmp_path, capsys):
    seq = SEQ[:40] + "RYNNNNNNKM" + SEQ[50:]  # IUPAC letters at 40-50: inside window 25-50
    lf_dir, crlf_dir = tmp_path / "lf", tmp_path / "crlf"
    for d, nl in ((lf_dir, "\n"), (crlf_dir, "\r\n")):
        d.mkdir()
        write_fasta(d / "g.fa", {"c1": seq}, newline=nl)
        (d / "a.gff3").write_text(
            f"##gff-version 3{nl}{GOOD_ROW}{nl}c1\tsrc\tCDS\t10\t60\t.\t+\t0\tID=c;Parent=g1{nl}", newline=""
        )
        spec = {"fasta": str(d / "g.fa"), "annotation": str(d / "a.gff3")}
        assert main(["prepare", "--name", "g", "--genome-settings", json.dumps(spec), "--outdir", str(d / "out")]) == 0
    lf = read_normalized_gff3(lf_dir / "out" / "annotation.gff3")
    crlf = read_normalized_gff3(crlf_dir / "out" / "annotation.gff3")
    assert lf.features == crlf.features and [(f.start, f.end) for f in lf.by_type("CDS")] == [(9, 60)]
    assert (lf_dir / "out" / "genome.fa").read_bytes() == (crlf_dir / "out" / "genome.fa").read_bytes()
    out = crlf_dir / "out"
    bed = tmp_path / "w.bed"
    args = [
        "windows",
        "--fasta",
        str(out / "genome.fa"),
        "--genome-info",
        str(out / "genome.json"),
        "--settings",
        json.dumps({"length": 25, "strands": "+", "max_n_fraction": 0.3}),
        "--out",
        str(bed),
    ]
    assert main(args) == 0
    assert [line.split("\t")[1] for line in bed.read_text().splitlines()] == [
        "0",
        "50",
        "75",
    ]  # window 25-50: 10/25 = 0.4 > 0.3
    capsys.readouterr()
