"""Window tiling (hand-computed), wrap-around, N filter, strands, genes mode, determinism."""

from __future__ import annotations

import random

import pytest
from genome_helpers import write_fasta

from dnalens.errors import InputError
from dnalens.formats.window_table import reverse_complement, window_sequence
from dnalens.genome.fasta import open_fasta
from dnalens.genome.model import Annotation, Feature
from dnalens.genome.windows import WindowSettings, run_windows, tile_intervals


def _seq(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(n))


@pytest.mark.parametrize(
    ("n", "circular", "stride", "expected"),
    [
        (10, False, 3, [(0, 4), (3, 7), (6, 10)]),
        (11, False, 3, [(0, 4), (3, 7), (6, 10), (7, 11)]),  # tail covered by an end-flush window
        (10, True, 3, [(0, 4), (3, 7), (6, 10), (9, 13)]),  # last window wraps the origin
        (10, False, 4, [(0, 4), (4, 8), (6, 10)]),
        (10, True, 4, [(0, 4), (4, 8), (8, 12)]),
        (3, False, 3, [(0, 3)]),  # contig shorter than a window: one window, whole contig
        (3, True, 3, [(0, 3)]),
    ],
)
def test_tiling_hand_computed(n, circular, stride, expected):
    got = tile_intervals({"c": n}, frozenset({"c"} if circular else ()), 4, stride)
    assert [(s, e) for _, s, e in got] == expected


@pytest.fixture()
def genome(tmp_path):
    seqs = {"lin": _seq(23, 1), "circ": _seq(20, 2)}
    return seqs, open_fasta(write_fasta(tmp_path / "g.fa", seqs))


def test_both_strands_wraparound_sequences(genome):
    seqs, fa = genome
    windows = run_windows(fa, {"lin": 23, "circ": 20}, frozenset({"circ"}), WindowSettings(length=8))
    # lin: 0,8,15(end-flush) ; circ: 0,8,16(wraps to 24); two strands each, + before -.
    assert [(w.contig, w.start, w.end, w.strand) for w in windows[:2]] == [("lin", 0, 8, "+"), ("lin", 0, 8, "-")]
    assert [(w.start, w.end) for w in windows if w.contig == "lin" and w.strand == "+"] == [(0, 8), (8, 16), (15, 23)]
    circ = [w for w in windows if w.contig == "circ"]
    assert [(w.start, w.end) for w in circ if w.strand == "+"] == [(0, 8), (8, 16), (16, 24)]
    wrap_plus, wrap_minus = circ[-2], circ[-1]
    assert window_sequence(fa, wrap_plus) == (seqs["circ"][16:] + seqs["circ"][:4])
    assert window_sequence(fa, wrap_minus) == reverse_complement(seqs["circ"][16:] + seqs["circ"][:4])
    assert len({w.name for w in windows}) == len(windows) == 12
    plus_only = run_windows(fa, {"lin": 23, "circ": 20}, frozenset({"circ"}), WindowSettings(length=8, strands="+"))
    assert [w for w in windows if w.strand == "+"] == plus_only


def test_n_filter_counts_iupac_as_n(tmp_path):
    # Windows of 10: [clean] [2 N + 1 R = 0.3] [2 N = 0.2] [clean]
    seq = "ACGTACGTAC" + "ANNCGRACGT" + "ACNNTACGTA" + "ACGTACGTAC"
    fa = open_fasta(write_fasta(tmp_path / "n.fa", {"c": seq}))
    got = run_windows(fa, {"c": 40}, frozenset(), WindowSettings(length=10, strands="+", max_n_fraction=0.2))
    assert [w.start for w in got] == [0, 20, 30]
    strict = run_windows(fa, {"c": 40}, frozenset(), WindowSettings(length=10, strands="+", max_n_fraction=0.0))
    assert [w.start for w in strict] == [0, 30]


def _genes_annotation(n: int) -> Annotation:
    spans = [(1000, 1600, "+"), (5000, 9000, "-"), (15000, 15100, "+"), (n - 50, n, "+")]
    return Annotation([Feature("c", "gene", s, e, strand, f"g{i}") for i, (s, e, strand) in enumerate(spans)])


def test_genes_mode_covers_genes_samples_intergenic_and_is_deterministic(tmp_path):
    n = 40_000
    fa = open_fasta(write_fasta(tmp_path / "g.fa", {"c": _seq(n, 5)}))
    ann = _genes_annotation(n)
    settings = WindowSettings(length=1000, mode="genes", flank=100, intergenic_fraction=0.25, strands="+", seed=7)
    first = run_windows(fa, {"c": n}, frozenset(), settings, ann)
    again = run_windows(fa, {"c": n}, frozenset(), settings, ann)
    other = run_windows(fa, {"c": n}, frozenset(), WindowSettings(**{**settings.__dict__, "seed": 8}), ann)
    assert first == again
    assert first != other
    covered = set()
    for w in first:
        covered.update(range(w.start, w.end))
    for f in ann.features:
        assert set(range(f.start, f.end)) <= covered
    assert all(w.length == 1000 for w in first)
    gene_windows = [w for w in first if any(w.start < f.end + 100 and f.start - 100 < w.end for f in ann.features)]
    share = 1 - len(gene_windows) / len(first)
    assert 0.15 <= share <= 0.35  # ~25 % intergenic tokens
    budget = run_windows(
        fa, {"c": n}, frozenset(), WindowSettings(**{**settings.__dict__, "max_tokens": 4000, "strands": "both"}), ann
    )
    assert 0 < sum(w.length for w in budget) <= 4000


def test_genes_mode_without_genes_is_an_input_error(tmp_path):
    fa = open_fasta(write_fasta(tmp_path / "g.fa", {"c": _seq(100)}))
    with pytest.raises(InputError, match="needs genes"):
        run_windows(fa, {"c": 100}, frozenset(), WindowSettings(length=10, mode="genes"), Annotation([]))
