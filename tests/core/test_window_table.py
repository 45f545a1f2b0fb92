"""Window table: read-order sequences, wrap-around windows, BED round trip (hand-computed cases)."""

import numpy as np
import pytest
from pyfaidx import Fasta

from dnalens.errors import InputError
from dnalens.formats.window_table import (
    Window,
    read_windows_bed,
    reverse_complement,
    window_sequence,
    write_windows_bed,
)


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">c1\nAACCGGTTAC\n")
    return Fasta(str(path))


def test_plus_minus_and_wraparound_sequences(fasta):
    assert window_sequence(fasta, Window("c1", 0, 4, "+", "w")) == "AACC"
    assert window_sequence(fasta, Window("c1", 0, 4, "-", "w")) == "GGTT"
    # circular contig of length 10: 8..12 reads TAC then AA across the origin
    w = Window("c1", 8, 12, "+", "wrap")
    assert window_sequence(fasta, w) == "ACAA"
    assert w.intervals(10) == [(8, 10), (0, 2)]
    assert genome_positions(w, 10) == [8, 9, 0, 1]
    assert genome_positions(Window("c1", 8, 12, "-", "wrap"), 10) == [1, 0, 9, 8]


def genome_positions(window: Window, contig_length: int) -> list[int]:
    """The coordinate rule written out per base (DESIGN.md): the oracle for formats.coordinates."""
    positions = [p % contig_length for p in range(window.start, window.end)]
    return positions[::-1] if window.strand == "-" else positions


def test_token_positions_equal_the_per_base_rule_with_trims_and_wraps():
    from dnalens.formats.coordinates import token_positions

    rng = np.random.default_rng(0)
    size = 50
    windows = [
        Window("c1", int(s), int(s) + int(n), str(rng.choice(["+", "-"])), f"w{i}")
        for i, (s, n) in enumerate(zip(rng.integers(0, 50, 40), rng.integers(1, 30, 40), strict=True))
    ]
    offset = rng.integers(0, 5, len(windows)).clip(max=[w.length - 1 for w in windows])
    count = np.array([rng.integers(0, w.length - o + 1) for w, o in zip(windows, offset, strict=True)])
    owner, pos = token_positions(
        [w.start for w in windows],
        [w.end for w in windows],
        [w.strand == "-" for w in windows],
        size,
        count=count,
        read_offset=offset,
    )
    want = [
        (i, p)
        for i, (w, o, c) in enumerate(zip(windows, offset, count, strict=True))
        for p in genome_positions(w, size)[o : o + c]
    ]
    assert list(zip(owner.tolist(), pos.tolist(), strict=True)) == want
    with pytest.raises(ValueError):
        token_positions([0], [4], [False], 10, count=[4], read_offset=[1])
    from dnalens.formats.coordinates import read_offsets

    for (i, p), k in zip(
        want, [k for w, o, c in zip(windows, offset, count, strict=True) for k in range(o, o + c)], strict=True
    ):
        w = windows[i]  # the inverse gives back each token's read offset
        assert read_offsets(p, w.start, w.end, w.strand == "-", size) == k
    _, unwrapped = token_positions([45], [55], [False], size, wrap=False)
    assert unwrapped.tolist() == list(range(45, 55))


def test_reverse_complement_handles_iupac():
    assert reverse_complement("ACGTNRY") == "RYNACGT"


def test_bed_round_trip_and_bad_strand(tmp_path):
    windows = [Window("c1", 0, 4, "+", "w0"), Window("c1", 8, 12, "-", "w1")]
    path = tmp_path / "w.bed"
    write_windows_bed(windows, path)
    assert read_windows_bed(path) == windows
    path.write_text("c1\t0\t4\tw0\t0\t*\n")
    with pytest.raises(InputError) as err:
        read_windows_bed(path)
    assert f"{path}:1" in err.value.message
