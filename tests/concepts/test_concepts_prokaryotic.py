"""Shine–Dalgarno sites and sigma70 boxes: only next to start codons / operon starts, only in prokaryotes
and plastids; positions and scores checked against hand-built sequences and hand-computed values."""

from __future__ import annotations

import math
import random

from conftest import Labelled, feat, genome_of

from dnalens.concepts import prokaryotic as pk
from dnalens.concepts.genome_data import encode


def _sd_genome() -> tuple[str, list]:
    s = list("C" * 1000)  # a C background matches no 4-mer of TAAGGAGGT
    s[200:203] = "ATG"
    s[188:194] = "AGGAGG"  # spacer 200 - 194 = 6: the site of cds1
    s[300:306] = "AGGAGG"  # no start codon near it: not a site
    s[457:460] = "CAT"  # cds2 on −: start codon's first base at 459
    s[470:476] = "CCTCCT"  # AGGAGG on −, 3' end at genome 470: spacer 470 - 460 = 10
    s[550:553] = "ATG"
    s[528:534] = "AGGAGG"  # spacer 16: too far for cds3
    s[543:547] = "GGAG"  # spacer 3: the site of cds3
    s[800:803] = "ATG"
    s[785:795] = "GGAGAGGAGG"  # own scan: AGGAGG at spacer 5; Prodigal said GGAG at 11-12 bp -> [785, 789)
    s[900:903] = "ATG"
    s[891:897] = "AGGAGG"  # Prodigal's 3-base call GGA/GAG/AGG is not used: own scan -> [891, 897)
    cds = [
        feat("c", "CDS", 200, 260, "+", "cds1", phase=0),
        feat("c", "CDS", 400, 460, "-", "cds2", phase=0),
        feat("c", "CDS", 550, 610, "+", "cds3", phase=0),
        feat("c", "CDS", 800, 860, "+", "cds4", phase=0, rbs_motif="GGAG/GAGG", rbs_spacer="11-12bp"),
        feat("c", "CDS", 900, 960, "+", "cds5", phase=0, rbs_motif="GGA/GAG/AGG", rbs_spacer="11-12bp"),
    ]
    return "".join(s), cds


def test_shine_dalgarno_sites_lie_3_to_15_nt_upstream_of_start_codons_only():
    seq, cds = _sd_genome()
    lab = Labelled(cds, genome_of({"c": seq}, kingdom="prokaryote"), include=["Shine_Dalgarno_sequence"])
    assert lab.parts("Shine_Dalgarno_sequence") == {
        ("c", 188, 194, "+"),
        ("c", 470, 476, "-"),
        ("c", 543, 547, "+"),
        ("c", 785, 789, "+"),
        ("c", 891, 897, "+"),
    }
    assert lab.col("Shine_Dalgarno_sequence", "c", "-")[470:476].all()  # a − site is sense for − reads
    assert not lab.col("Shine_Dalgarno_sequence", "c", "+")[470:476].any()
    assert lab.col("Shine_Dalgarno_sequence_antisense", "c", "+")[470:476].all()


def test_no_prokaryotic_signals_for_eukaryotes_or_unknown_kingdoms():
    seq, cds = _sd_genome()
    for kingdom in ("eukaryote", None):
        lab = Labelled(cds, genome_of({"c": seq}, kingdom=kingdom), include=["regulatory"], keep_empty=True)
        assert not {"Shine_Dalgarno_sequence", "sigma70_minus_35_box", "sigma70_minus_10_box"} & set(lab.names)
    organelle = Labelled(cds, genome_of({"c": seq}, kingdom="organelle"), include=["Shine_Dalgarno_sequence"])
    assert len(organelle.parts("Shine_Dalgarno_sequence")) == 5
    mito = Labelled(
        cds,
        genome_of({"c": seq}, kingdom="organelle"),
        include=["Shine_Dalgarno_sequence"],
        prokaryotic_signals=["prokaryote"],
        keep_empty=True,
    )
    assert "Shine_Dalgarno_sequence" not in mito.names


def test_best_sd_site_prefers_longer_then_nearer():
    up = "CCCCCCCCCCCCGGAGCCCCCAGGAGGCCCCC"  # GGAG at spacer 16 (out), AGGAGG at spacer 5
    assert pk.best_sd_site(up) == (21, 27)
    assert pk.best_sd_site("CCCCCCCGGAGCC") is None  # spacer 2: too close
    assert pk.best_sd_site("GGAG" + "C" * 15) == (0, 4)  # spacer 15: still in
    assert pk.best_sd_site("GGAG" + "C" * 16) is None  # spacer 16: out


def test_prodigal_calls_are_located_with_their_spacer():
    up = "CCCCAGGAGCCCCCCCCCC"  # AGGAG ends 10 nt before the start codon
    assert pk.prodigal_sd_site(up, "AGGAG(G)/GGAGG", "5-10bp") == (4, 9)
    assert pk.prodigal_sd_site(up, "AGGAG", "3-4bp") is None  # not at the stated spacer
    assert pk.prodigal_sd_site("CCCCAGCAGCCCCCCCCCC", "AGxAG", "5-10bp") == (4, 9)  # x: one mismatch
    assert pk.prodigal_sd_site(up, "3Base/5BMM", "13-15bp") is None
    assert pk.prodigal_sd_site(up, "None", "None") is None


def _hand_bits(box: str, consensus: str, freqs, q: dict[str, float]) -> float:
    return sum(math.log2((f if b == c else (1 - f) / 3) / q[b]) for b, c, f in zip(box, consensus, freqs))


def test_sigma70_pair_with_17_nt_spacer_matches_a_hand_computed_score():
    rng = random.Random(7)
    s = [rng.choice("ACGT") for _ in range(2000)]
    gene = 1500
    s[gene : gene + 3] = "ATG"
    box35, box10 = "TTGACA", "TATAAT"
    at35 = gene - 60
    s[at35 : at35 + 6] = box35
    s[at35 + 6 + 17 : at35 + 23 + 6] = box10  # 17-nt spacer
    seq = "".join(s)
    counts = {b: seq.count(b) for b in "ACGT"}
    total = 2 * sum(counts.values())
    comp = {"A": "T", "C": "G", "G": "C", "T": "A"}
    q = {b: (counts[b] + counts[comp[b]]) / total for b in "ACGT"}  # strand-symmetrised composition
    want = _hand_bits(box35, "TTGACA", pk.MINUS35_FREQ, q) + _hand_bits(box10, "TATAAT", pk.MINUS10_FREQ, q)
    pwms = pk.sigma70_pwms(pk.base_composition([encode(seq)]))
    bits, i35, i10 = pk.sigma70_best(encode(seq[gene - 100 : gene]), pwms)
    assert math.isclose(bits, want, rel_tol=1e-9) and want > pk.SIGMA70_MIN_BITS
    assert (i35, i10) == (40, 63)  # offsets in the 100-nt upstream segment
    cds = [feat("c", "CDS", gene, gene + 60, "+", "cds1", phase=0)]
    lab = Labelled(cds, genome_of({"c": seq}, kingdom="prokaryote"), include=["regulatory"])
    assert lab.parts("sigma70_minus_35_box") == {("c", at35, at35 + 6, "+")}
    assert lab.parts("sigma70_minus_10_box") == {("c", at35 + 23, at35 + 29, "+")}


def test_sigma70_on_the_minus_strand_maps_back_to_genome_coordinates():
    rng = random.Random(3)
    s = [rng.choice("ACGT") for _ in range(1000)]
    s[497:500] = "CAT"  # start codon of a − gene: first base at 499
    up = "TTGACA" + "G" * 17 + "TATAAT"  # read 5'→3' on −
    rc = up[::-1].translate(str.maketrans("ACGT", "TGCA"))
    s[530 : 530 + len(rc)] = rc  # on −: -10 box nearest the gene
    seq = "".join(s)
    cds = [feat("c", "CDS", 440, 500, "-", "cds1", phase=0)]
    lab = Labelled(cds, genome_of({"c": seq}, kingdom="prokaryote"), include=["regulatory"])
    assert lab.parts("sigma70_minus_10_box") == {("c", 530, 536, "-")}
    assert lab.parts("sigma70_minus_35_box") == {("c", 553, 559, "-")}
