"""The genome as numpy arrays: one uint8 code per nucleotide (A=0, C=1, G=2, T=3, other=4) per contig.

Sequence-derived concepts (base identity, GC, homopolymers, codons) work on these arrays, vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnalens.errors import InputError

BASES = "ACGT"
N_CODE = 4
_LOOKUP = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
COMPLEMENT_CODE = np.array([3, 2, 1, 0, N_CODE], dtype=np.uint8)


def encode(seq: str | bytes) -> np.ndarray:
    data = seq.encode("ascii", "replace") if isinstance(seq, str) else seq
    return _LOOKUP[np.frombuffer(data, dtype=np.uint8)]


@dataclass
class GenomeSequence:
    """Contigs in FASTA order with their codes; which are circular; the genetic code (NCBI table id)."""

    codes: dict[str, np.ndarray]
    circular: frozenset[str] = field(default_factory=frozenset)
    genetic_code: int = 11
    kingdom: str | None = None
    _text: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def contigs(self) -> list[str]:
        return list(self.codes)

    @property
    def lengths(self) -> dict[str, int]:
        return {c: len(a) for c, a in self.codes.items()}

    @property
    def total_length(self) -> int:
        return sum(len(a) for a in self.codes.values())

    def is_circular(self, contig: str) -> bool:
        return contig in self.circular

    def text(self, contig: str) -> str:
        """Upper-case sequence of a contig (for Bio.motifs scans); N for anything but ACGT."""
        if contig not in self._text:
            self._text[contig] = _LETTERS[self.codes[contig]].tobytes().decode("ascii")
        return self._text[contig]


def load_genome_sequence(
    fasta_path: str | Path,
    *,
    circular: frozenset[str] | set[str] = frozenset(),
    genetic_code: int = 11,
    kingdom: str | None = None,
) -> GenomeSequence:
    """Read every contig of an (indexed or plain, optionally bgzipped) FASTA with pyfaidx."""
    fasta = _open_fasta(fasta_path)
    codes = {name: encode(str(fasta[name][:])) for name in fasta.keys()}
    if not codes:
        raise InputError("FASTA has no sequences.", path=fasta_path, fix="check the file.")
    return GenomeSequence(codes, frozenset(circular), genetic_code, kingdom)


def _open_fasta(path: str | Path):
    try:
        from dnalens.genome.fasta import open_fasta
    except ImportError:  # genome stage not installed yet: plain pyfaidx
        import pyfaidx

        if not Path(path).exists():
            raise InputError("FASTA not found.", path=path) from None
        return pyfaidx.Fasta(str(path), sequence_always_upper=True, rebuild=False)
    return open_fasta(path)
