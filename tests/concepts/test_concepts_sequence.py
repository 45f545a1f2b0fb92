"""Sequence-derived concepts, motif scans and user tracks against brute-force Python references."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from conftest import Labelled, feat, genome_of, ones

from dnalens.errors import InputError

COMP = str.maketrans("ACGT", "TGCA")


def _random_seq(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.fixture(scope="module")
def seq() -> str:
    s = list(_random_seq(3000, 1))
    s[100:112] = "GGGGGGCCCCCC"  # a GC-rich stretch and two homopolymers
    s[500:520] = "A" * 20
    s[1000:1006] = "AGGAGG"  # Shine–Dalgarno on +
    s[2000:2006] = "CCTCCT"  # Shine–Dalgarno on −
    s[2500:2508] = "TATAAAAG"  # TATA box on +
    s[1500:1512] = "ACGTTGCAGTCA"  # the PWM-file motif
    s[2990:3000] = "TATTTATAAC"  # TATA box on − near the end; the last C pairs with s[0] across the origin
    s[0] = "G"
    return "".join(s)


def test_base_identity_is_relative_to_the_read_strand(seq):
    lab = Labelled([], genome_of({"c": seq}), include=["sequence"])
    for b in "ACGT":
        assert ones(lab.col(f"base_{b}", "c", "+")) == [i for i, x in enumerate(seq) if x == b]
        assert ones(lab.col(f"base_{b}", "c", "-")) == [i for i, x in enumerate(seq) if x == b.translate(COMP)]
    codes, classes = lab.cat("base", "c", "-")
    assert classes == list("ACGT") and classes[codes[5]] == seq[5].translate(COMP)


@pytest.mark.parametrize("circular", [False, True])
def test_gc_windows_homopolymers_and_cpg_match_brute_force(seq, circular):
    lab = Labelled(
        [],
        genome_of({"c": seq}, circular=["c"] if circular else []),
        include=["sequence"],
        gc_window=50,
        gc_delta=0.1,
        homopolymer_min=5,
    )
    n, half, mean = len(seq), 25, sum(x in "GC" for x in seq) / len(seq)
    rich, poor = [], []
    for i in range(n):
        idx = [j % n for j in range(i - half, i - half + 50)] if circular else range(max(0, i - half), min(n, i + 25))
        frac = sum(seq[j] in "GC" for j in idx) / len(idx)
        (rich if frac >= mean + 0.1 else poor if frac <= mean - 0.1 else []).append(i)
    assert ones(lab.col("GC_rich", "c", "+")) == rich
    assert ones(lab.col("GC_poor", "c", "-")) == poor
    runs = [(m.start(), m.end()) for m in re.finditer(r"A{5,}|C{5,}|G{5,}|T{5,}", seq)]
    assert lab.parts("homopolymer") == {("c", s, e, ".") for s, e in runs}
    cpg = {("c", m.start(), m.start() + 2, ".") for m in re.finditer(r"(?=CG)", seq)}
    if circular:
        cpg |= {("c", n - 1, n, "."), ("c", 0, 1, ".")}  # the C at the end pairs with the G at the start
    assert lab.parts("CpG") == cpg


def test_builtin_tata_matches_its_consensus_exactly_in_eukaryotes_only(seq):
    lab = Labelled([], genome_of({"c": seq}, kingdom="eukaryote"), include=["motifs"])
    assert "Shine_Dalgarno_sequence" not in lab.names  # no genome-wide SD scan any more
    tata_plus = {("c", m.start(), m.start() + 8, "+") for m in re.finditer(r"(?=TATA[AT]A[AT][AG])", seq)}
    tata_minus = {("c", m.start(), m.start() + 8, "-") for m in re.finditer(r"(?=[CT][AT]T[AT]TATA)", seq)}
    assert lab.parts("TATA_box") == tata_plus | tata_minus
    assert ("c", 2990, 2998, "-") in tata_minus
    tata = lab.col("TATA_box", "c", "+")
    np.testing.assert_array_equal(lab.col("TATA_box_antisense", "c", "-"), tata)
    for kingdom in ("prokaryote", "organelle", None):  # a eukaryotic element is never labelled elsewhere
        other = Labelled([], genome_of({"c": seq}, kingdom=kingdom), include=["motifs"], keep_empty=True)
        assert "TATA_box" not in other.names


def _pwm_file(tmp_path, fmt: str, site: str):
    if fmt == "jaspar":
        rows = {b: [20 if x == b else 0 for x in site] for b in "ACGT"}
        text = ">MA9999.1 testmotif\n" + "".join(f"{b} [ {' '.join(map(str, rows[b]))} ]\n" for b in "ACGT")
        return tmp_path / "m.jaspar", text, "motif_testmotif"
    probs = "\n".join(" ".join("1.0" if b == x else "0.0" for b in "ACGT") for x in site)
    text = (
        "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n"
        "A 0.25 C 0.25 G 0.25 T 0.25\n\nMOTIF M1 testmotif\n"
        f"letter-probability matrix: alength= 4 w= {len(site)} nsites= 20 E= 0\n{probs}\n"
    )
    return tmp_path / "m.meme", text, "motif_M1"


@pytest.mark.parametrize("fmt", ["jaspar", "meme"])
def test_pwm_file_becomes_a_concept(seq, tmp_path, fmt):
    site = "ACGTTGCAGTCA"  # planted at 1500; not its own reverse complement
    path, text, name = _pwm_file(tmp_path, fmt, site)
    path.write_text(text)
    lab = Labelled(
        [],
        genome_of({"c": seq}),
        include=["motifs"],
        exclude=["TATA_box"],
        motifs=[{"path": str(path), "threshold": 0.95}],
    )
    assert lab.names == [name, name + "_antisense"]
    rc = site.translate(COMP)[::-1]
    want = {("c", m.start(), m.start() + 12, "+") for m in re.finditer(f"(?={site})", seq)}
    want |= {("c", m.start(), m.start() + 12, "-") for m in re.finditer(f"(?={rc})", seq)}
    assert ("c", 1500, 1512, "+") in want and lab.parts(name) == want


def test_unreadable_motif_file_is_an_input_error(seq, tmp_path):
    (tmp_path / "m.jaspar").write_text("not a motif\n")
    with pytest.raises(InputError, match="no motif could be read"):
        Labelled([], genome_of({"c": seq}), include=["motifs"], motifs=[str(tmp_path / "m.jaspar")])


def test_user_tracks_from_bed_and_gff3(seq, tmp_path):
    (tmp_path / "peaks.bed").write_text("c\t10\t20\tp1\t0\t+\nc\t30\t40\tp2\t0\t.\nother\t1\t5\tx\t0\t+\n")
    (tmp_path / "sites.gff3").write_text(
        "##gff-version 3\nc\tx\tbinding_site\t101\t110\t.\t-\t.\tID=b1;Name=site1\n"
        "c\tx\tenhancer\t201\t250\t.\t+\t.\tID=e1\n"
    )
    lab = Labelled(
        [],
        genome_of({"c": seq}),
        include=["tracks"],
        tracks=[
            {"path": str(tmp_path / "peaks.bed")},
            {"path": str(tmp_path / "sites.gff3"), "name": "bs", "type": ["binding_site"]},
        ],
    )
    assert lab.names == ["track_peaks", "bs"]
    assert lab.parts("track_peaks") == {("c", 10, 20, "+"), ("c", 30, 40, ".")}
    assert lab.parts("bs") == {("c", 100, 110, "-")}
    assert ones(lab.col("track_peaks", "c", "-")) == list(range(30, 40))
    assert {c.name for c in lab.cs.region_columns} == {"track_peaks", "bs"}


def test_track_past_the_contig_end_is_an_input_error(seq, tmp_path):
    (tmp_path / "bad.bed").write_text("c\t10\t99999\n")
    with pytest.raises(InputError, match="past the contig end"):
        Labelled([], genome_of({"c": seq}), include=["tracks"], tracks=[str(tmp_path / "bad.bed")])


def test_unknown_concept_names_and_families_are_rejected(seq):
    with pytest.raises(InputError, match="unknown concept or family 'CDSs'"):
        Labelled([], genome_of({"c": seq}), include=["CDSs"])


def test_include_exclude_antisense_and_keep_empty(seq):
    rows = [feat("c", "gene", 10, 100, "+", "g"), feat("c", "CDS", 10, 100, "+", "cds", ["g"], phase=0)]
    genome = genome_of({"c": seq})
    assert Labelled(rows, genome, include=["genes"]).names == [
        "gene",
        "gene_antisense",
        "CDS",
        "CDS_antisense",
        "intergenic",
    ]
    assert Labelled(rows, genome, include=["genes"], exclude=["CDS_antisense", "intergenic"]).names == [
        "gene",
        "gene_antisense",
        "CDS",
    ]
    assert Labelled(rows, genome, include=["genes"], exclude=["CDS"]).names == [
        "gene",
        "gene_antisense",
        "intergenic",
    ]  # naming a concept names its twin too
    assert Labelled(rows, genome, include=["genes"], antisense=False).names == ["gene", "CDS", "intergenic"]
    kept = Labelled(rows, genome, include=["genes"], keep_empty=True).names
    assert "five_prime_UTR" in kept and "pseudogene_antisense" in kept
    lab = Labelled(rows, genome, include=["CDS", "amino_acid"])
    assert lab.names == ["CDS", "CDS_antisense"] and [c.name for c in lab.cs.categoricals] == ["amino_acid"]
