"""FASTA normalisation, pyfaidx access, chrom.sizes, N masks."""

from __future__ import annotations

import gzip
import random

import numpy as np
from genome_helpers import write_fasta

from dnalens.genome.fasta import non_acgt_mask, normalize_fasta, open_fasta, read_chrom_sizes, write_chrom_sizes


def _random_seq(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


def test_normalize_crlf_lowercase_iupac(tmp_path):
    records = {"c1": _random_seq(150) + "acgtnRYKM", "c2": "NNNN" + _random_seq(61, 2)}
    src = write_fasta(tmp_path / "in.fa", records, newline="\r\n", width=70)
    out = tmp_path / "genome.fa"
    assert normalize_fasta(src, out) == {"c1": 159, "c2": 65}
    text = out.read_text()
    assert "\r" not in text and ">c1\n" in text  # header reduced to its first word
    assert max(len(line) for line in text.splitlines()) == 60
    fa = open_fasta(out)
    assert str(fa["c1"][:]) == records["c1"]  # case and IUPAC letters are kept
    assert str(fa["c2"][:]) == records["c2"]


def test_gzip_subset_and_open_fasta_on_gz(tmp_path):
    records = {"a": _random_seq(100), "b": _random_seq(80, 3), "c": _random_seq(10, 4)}
    plain = write_fasta(tmp_path / "x.fa", records)
    gz = tmp_path / "x.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    lengths = normalize_fasta(gz, tmp_path / "sub.fa", contigs=["c", "a"])
    assert lengths == {"a": 100, "b": 80, "c": 10}  # lengths of the whole file, in file order
    assert list(open_fasta(tmp_path / "sub.fa").keys()) == ["a", "c"]
    fa = open_fasta(gz)
    assert str(fa["b"][:]) == records["b"]


def test_chrom_sizes_round_trip(tmp_path):
    write_chrom_sizes({"x": 5, "y.1": 12}, tmp_path / "chrom.sizes")
    assert (tmp_path / "chrom.sizes").read_text() == "x\t5\ny.1\t12\n"
    assert read_chrom_sizes(tmp_path / "chrom.sizes") == {"x": 5, "y.1": 12}


def test_non_acgt_mask_counts_iupac_as_n():
    mask = non_acgt_mask("ACGTacgtNnRYKMSWBDHV")
    assert mask.tolist() == [False] * 8 + [True] * 12
    assert np.count_nonzero(non_acgt_mask(b"AAAN")) == 1
