"""Sequence logo: bits by hand on a planted motif, peaks read in read order on both strands, SVG parses."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
import scipy.sparse as sp

from dnalens.report.logo import CAP_HEIGHT, base_counts, information, logo_svg, peak_sequences, top_peaks
from dnalens.report.tokens import build_token_map

from . import mini_genome


def test_bits_of_a_planted_motif():
    # position 0: always A (2 bits); 1: half A half C (1 bit); 2: uniform (0 bits); 3: A 3/4, G 1/4
    seqs = ["AAAA", "AAGA", "ACTA", "ACCG"] * 25
    counts = base_counts(seqs)
    assert counts.tolist() == [[100, 0, 0, 0], [50, 50, 0, 0], [25, 25, 25, 25], [75, 0, 25, 0]]
    bits, heights = information(counts)
    h3 = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25))  # 0.811 bits
    assert bits == pytest.approx([2.0, 1.0, 0.0, 2 - h3])
    assert heights[1] == pytest.approx([0.5, 0.5, 0, 0]) and heights[3][0] == pytest.approx(0.75 * (2 - h3))
    assert information(np.zeros((2, 4), int))[0].tolist() == [0.0, 0.0]  # no peaks: no bits, no NaN


def test_svg_parses_and_letters_are_scaled_to_their_bits():
    counts = base_counts(["AAAA", "AAGA", "ACTA", "ACCG"] * 25)
    svg = logo_svg(counts, "f1 <logo>", height=80)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    letters = [t for t in root.iter(f"{ns}text") if "scale(" in (t.get("transform") or "")]
    # the uniform column draws nothing; the smaller letter sits at the bottom (drawn first)
    assert [t.text for t in letters] == ["A", "A", "C", "G", "A"]
    assert root.find(f"{ns}title").text == "f1 <logo>"
    plot_h = 80 - 16 - 6
    first = letters[0].get("transform")
    sy = float(first.split("scale(")[1].split(",")[1].rstrip(")"))
    assert sy * CAP_HEIGHT * 20 == pytest.approx(plot_h, rel=1e-3)  # the 2-bit A fills the whole height


def test_top_peaks_in_read_order_on_both_strands():
    win = mini_genome.windows()
    codes = sp.csc_matrix(mini_genome.codes(win))
    codes.sort_indices()
    tokens = build_token_map(win, {"chr1": mini_genome.LENGTH}, codes.shape[0])
    peaks = top_peaks(codes, 0, tokens, n=5)
    assert peaks["position"].tolist() == [119, 118, 117, 116, 115]  # activation 1 + pos/1000, duplicates once
    assert set(peaks["strand"]) == {"+"}
    minus = top_peaks(codes, 2, tokens)
    assert minus["position"].tolist() == [199] and minus["strand"].tolist() == ["-"]
    seq = peak_sequences(minus, mini_genome.sequence_of, {"chr1": mini_genome.LENGTH}, flank=2)
    genome = mini_genome.SEQ[197:202]
    assert seq == [genome[::-1].translate(str.maketrans("ACGT", "TGCA"))]  # reverse complement, peak in the middle
    edge = peaks.assign(position=[1, 118, 299, 50, 60])
    assert len(peak_sequences(edge, mini_genome.sequence_of, {"chr1": mini_genome.LENGTH}, flank=2)) == 3


def test_top_peaks_of_a_busy_latent_equal_a_full_sort():
    win = mini_genome.windows()
    tokens = build_token_map(win, {"chr1": mini_genome.LENGTH}, int(win["token_end"].max()))
    rng = np.random.default_rng(5)
    values = rng.random(tokens.n_tokens).astype(np.float32) + 0.01  # distinct, every token on
    codes = sp.csc_matrix(values[:, None])
    codes.sort_indices()
    got = top_peaks(codes, 0, tokens, n=10)  # 1,200 values > 8 × 10: the partial-sort path
    seen, want = set(), []
    for i in np.argsort(-values, kind="stable"):
        key = (bool(tokens.minus[i]), int(tokens.position[i]))
        if key not in seen:
            seen.add(key)
            want.append((int(tokens.position[i]), "-" if key[0] else "+", float(values[i])))
    assert list(zip(got["position"], got["strand"])) == [(p, s) for p, s, _ in want[:10]]
    assert got["activation"].tolist() == pytest.approx([v for _, _, v in want[:10]])
