"""Small builders for genome tests (hand-made FASTA files, translation of model CDS)."""

from __future__ import annotations

from pathlib import Path

from Bio.Seq import Seq

from dnalens.formats.window_table import reverse_complement


def write_fasta(path: Path, records: dict[str, str], newline: str = "\n", width: int = 70) -> Path:
    lines = []
    for name, seq in records.items():
        lines.append(f">{name} some description")
        lines.extend(seq[i : i + width] for i in range(0, len(seq), width))
    path.write_text(newline.join(lines) + newline, newline="")
    return path


def cds_sequence(genome: dict[str, str], parts) -> str:
    """Spliced CDS in transcription order, from the model's parts (phase of the first part skipped)."""
    pieces = []
    for p in parts:
        s = genome[p.seqid][p.start : p.end]
        pieces.append(reverse_complement(s) if p.strand == "-" else s)
    return "".join(pieces)[parts[0].phase or 0 :]


def translate(seq: str, table: int = 11) -> str:
    return str(Seq(seq[: len(seq) // 3 * 3]).translate(table=table))
