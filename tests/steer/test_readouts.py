"""Readouts against hand-computed values and a real gene (rbcL of the bundled chloroplast GenBank)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnalens.steer import readouts


def test_gc_and_frame_gc_by_hand():
    assert readouts.gc_fraction("GGCCAT") == pytest.approx(4 / 6)
    assert readouts.gc_fraction("GCNNAT") == pytest.approx(2 / 4)  # N is not a base
    assert math.isnan(readouts.gc_fraction("NNN"))
    # phases of "GAAGATGCT": 0 -> G,G,G (1.0); 1 -> A,A,C (1/3); 2 -> A,T,T (0)
    got = readouts.frame_gc("GAAGATGCT")
    assert got["gc_frame_high"] == pytest.approx(1.0)
    assert got["gc_frame_mid"] == pytest.approx(1 / 3)
    assert got["gc_frame_low"] == 0.0
    assert got["gc_frame_skew"] == pytest.approx(1.0)


def test_period3_power_codon_repeat_and_flat_signal():
    # N = 12: all power of a pure period-3 signal sits at k = 4; mean over k = 1..6 is 1/6 of it
    assert readouts.period3_power("ATG" * 4) == pytest.approx(6.0)
    assert readouts.period3_power("ATG" * 100 + "A") == pytest.approx(150.0)  # cut to 300 nt
    # period 2 has no power at 1/3
    assert readouts.period3_power("AT" * 30) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(readouts.period3_power("ACG"))


def test_homopolymer_fraction_by_hand():
    assert readouts.homopolymer_fraction("AAAAACGT") == pytest.approx(5 / 8)
    assert readouts.homopolymer_fraction("AAAACGT") == 0.0  # a run of 4 is not one
    # TTTTTT (6) counts, NNNNN (N is no base) does not: 6 / 17
    assert readouts.homopolymer_fraction("AAAACGTTTTTTNNNNN") == pytest.approx(6 / 17)


def test_kmer_counts_and_jsd_by_hand():
    counts = readouts.kmer_counts("AACGTN", 4)
    assert counts.sum() == 2  # AACG, ACGT; CGTN skipped
    assert counts[0b00000110] == 1  # AACG = 0,0,1,2 in base 4 = 6
    assert counts[0 * 64 + 1 * 16 + 2 * 4 + 3] == 1  # ACGT
    p = np.array([1, 0, 0, 0])
    q = np.array([0, 1, 0, 0])
    assert readouts.jensen_shannon(p, q) == pytest.approx(1.0)
    assert readouts.jensen_shannon(p, 3 * p) == pytest.approx(0.0)
    # p = (1/2, 1/2), q = (1, 0): m = (3/4, 1/4); KL(p||m) = .5 log2(2/3) + .5 log2 2; KL(q||m) = log2(4/3)
    half = 0.5 * (0.5 * np.log2(2 / 3) + 0.5) + 0.5 * np.log2(4 / 3)
    assert readouts.jensen_shannon([1, 1], [1, 0]) == pytest.approx(half)


def test_bits_per_base_and_mean_activation():
    assert readouts.bits_per_base(np.array([np.nan, np.log(0.5), np.log(0.25)])) == pytest.approx(-1.5)
    assert readouts.mean_latent_activation(np.array([0.0, 2.0, 0.0, 2.0])) == 1.0


def test_pyrodigal_finds_the_real_rbcL_gene(genomes_dir):
    from Bio import SeqIO

    rec = SeqIO.read(genomes_dir / "NC_000932.gb", "genbank")
    (cds,) = [f for f in rec.features if f.type == "CDS" and f.qualifiers.get("gene") == ["rbcL"]]
    start, end = int(cds.location.start), int(cds.location.end)
    seq = str(rec.seq[start - 200 : end + 200])
    import pyrodigal

    genes = pyrodigal.GeneFinder(meta=True).find_genes(seq.encode())
    # the annotated stop (1-based end 200 + 1,440) is called on the + strand
    assert any(g.strand == 1 and g.end == 200 + (end - start) for g in genes)
    got = readouts.gene_calls(seq)
    assert got["genes_per_kb"] == pytest.approx(len(genes) / (len(seq) / 1000))
    assert got["mean_orf_length"] == pytest.approx(np.mean([g.end - g.begin + 1 for g in genes]))
    assert got["mean_orf_length"] > 700  # rbcL is 1,440 nt
