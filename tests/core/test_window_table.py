"""Window table: read-order sequences, wrap-around windows, BED round trip (hand-computed cases)."""

import pytest
from pyfaidx import Fasta

from dnalens.errors import InputError
from dnalens.genome.window_table import (
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
    assert w.genome_positions(10) == [8, 9, 0, 1]
    assert Window("c1", 8, 12, "-", "wrap").genome_positions(10) == [1, 0, 9, 8]


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
