"""The window table: which stretch of which contig, read on which strand.

windows.bed is BED6 (contig, start, end, name, score, strand), 0-based half-open, one line per window.
A window that wraps the origin of a circular contig keeps one line with `end > contig length`; its
bases are taken modulo the contig length. Every later stage (labels, extraction, buffers) indexes
windows by their row in this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from dnalens.atomic import atomic_path
from dnalens.errors import InputError

_COMPLEMENT = str.maketrans("ACGTRYKMSWBDHVNacgtrykmswbdhvn", "TGCAYRMKSWVHDBNtgcayrmkswvhdbn")


@dataclass(frozen=True, slots=True)
class Window:
    contig: str
    start: int
    end: int
    strand: str
    name: str

    @property
    def length(self) -> int:
        return self.end - self.start

    def intervals(self, contig_length: int) -> list[tuple[int, int]]:
        """Genome intervals covered, in ascending genome order (two when the window wraps the origin)."""
        if self.end <= contig_length:
            return [(self.start, self.end)]
        return [(self.start, contig_length), (0, self.end - contig_length)]


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


def span_sequence(fasta, contig: str, start: int, end: int, strand: str) -> str:
    """Bases [start, end) of `contig` in read order (reverse complement on −), positions taken modulo the
    contig length so spans across the origin of a circular contig read on; `fasta` is a pyfaidx.Fasta."""
    record = fasta[contig]
    n = len(record)
    pieces, pos = [], start
    while pos < end:
        a = pos % n
        b = min(n, a + (end - pos))
        pieces.append(str(record[a:b]))
        pos += b - a
    seq = "".join(pieces).upper()
    return reverse_complement(seq) if strand == "-" else seq


def window_sequence(fasta, window: Window) -> str:
    """Sequence of `window` in read order (reverse complement on −)."""
    return span_sequence(fasta, window.contig, window.start, window.end, window.strand)


def write_windows_bed(windows: Iterable[Window], path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as out:
        for w in windows:
            out.write(f"{w.contig}\t{w.start}\t{w.end}\t{w.name}\t0\t{w.strand}\n")


def read_windows_bed(path: str | Path) -> list[Window]:
    windows: list[Window] = []
    with open(path) as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 6:
                raise InputError(
                    f"expected 6 tab-separated BED columns, found {len(cols)}.",
                    path=path,
                    line=lineno,
                    fix="regenerate the window table with `dnalens windows`.",
                )
            try:
                start, end = int(cols[1]), int(cols[2])
            except ValueError:
                raise InputError("start/end are not integers.", path=path, line=lineno) from None
            if cols[5] not in {"+", "-"}:
                raise InputError(f"strand must be + or -, found {cols[5]!r}.", path=path, line=lineno)
            windows.append(Window(cols[0], start, end, cols[5], cols[3]))
    return windows


def window_lengths(windows: Sequence[Window]) -> list[int]:
    return [w.length for w in windows]
