"""One entry point for annotations: GFF3, GTF or GenBank in, the normalised feature model out.

Other stages call `load_annotation` (any user file) or `read_normalized_gff3` (results/<g>/annotation.gff3)
and never look at a raw format.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from dnalens.errors import InputError
from dnalens.genome.gff3 import parse_gff3, read_normalized_gff3, write_normalized_gff3
from dnalens.genome.model import Annotation
from dnalens.genome.textio import iter_lines

__all__ = [
    "FORMATS",
    "load_annotation",
    "read_normalized_gff3",
    "sniff_format",
    "subset_annotation",
    "write_normalized_gff3",
]

FORMATS = ("gff3", "gtf", "genbank")
_SUFFIXES = {
    ".gtf": "gtf",
    ".gff": "gff3",
    ".gff3": "gff3",
    ".gb": "genbank",
    ".gbk": "genbank",
    ".gbff": "genbank",
    ".genbank": "genbank",
}


def sniff_format(path: str | os.PathLike) -> str:
    """'gff3', 'gtf' or 'genbank' from the first lines (the file name only breaks ties)."""
    for lineno, line in iter_lines(path, "annotation file"):
        if not line.strip():
            continue
        if line.startswith("LOCUS"):
            return "genbank"
        if line.startswith("##gff-version"):
            return "gff3" if line.split()[1:2] and line.split()[1].startswith("3") else "gtf"
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) == 9:
            if "=" in cols[8] and '"' not in cols[8].split("=")[0]:
                return "gff3"
            if '"' in cols[8]:
                return "gtf"
        if lineno > 200:
            break
    suffix = Path(str(path).removesuffix(".gz")).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise InputError(
        "cannot tell the annotation format (not GFF3, GTF or GenBank).",
        path=path,
        fix="set annotation_format: gff3 | gtf | genbank in the genome config.",
    )


def load_annotation(
    path: str | os.PathLike,
    fmt: str = "auto",
    *,
    contig_lengths: Mapping[str, int] | None = None,
    circular: Collection[str] = (),
    fasta_path: str | os.PathLike | None = None,
) -> Annotation:
    """Read GFF3 / GTF / GenBank into the model, checking seqids and bounds against `contig_lengths`."""
    fmt = sniff_format(path) if fmt == "auto" else fmt
    if fmt == "gff3":
        return parse_gff3(path, contig_lengths=contig_lengths, circular=circular, fasta_path=fasta_path)
    if fmt == "gtf":
        from dnalens.genome.gtf import parse_gtf

        return parse_gtf(path, contig_lengths=contig_lengths, circular=circular, fasta_path=fasta_path)
    if fmt == "genbank":
        from dnalens.genome.genbank import read_genbank

        annotation = read_genbank(path).annotation
        if contig_lengths is not None:
            missing = sorted(set(annotation.seqids) - set(contig_lengths))
            if missing:
                raise InputError(
                    f"GenBank records {', '.join(missing)} are not contigs of the FASTA"
                    f"{'' if fasta_path is None else ' ' + str(fasta_path)}.",
                    path=path,
                    fix="use the FASTA written from this GenBank file, or matching names.",
                )
        return annotation
    raise InputError(f"unknown annotation format {fmt!r}.", fix=f"use one of: auto, {', '.join(FORMATS)}.")


def subset_annotation(annotation: Annotation, contigs: Collection[str]) -> Annotation:
    """Only features whose every row lies on `contigs` (and whose parents survive)."""
    wanted = set(contigs)
    off = {f.id for f in annotation.features if f.seqid not in wanted}
    changed = True
    while changed:  # drop children of dropped parents
        before = len(off)
        off |= {f.id for f in annotation.features if any(p in off for p in f.parents)}
        changed = len(off) != before
    kept = [f for f in annotation.features if f.id not in off]
    return Annotation(
        kept,
        genetic_code=annotation.genetic_code,
        source_path=annotation.source_path,
        circular_seqids=frozenset(annotation.circular_seqids & wanted),
    )
