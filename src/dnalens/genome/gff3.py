"""GFF3 in (NCBI and Ensembl styles) and the normalised GFF3 dnalens writes (annotation.gff3).

GFF3 is 1-based closed on disk and 0-based half-open inside. The normalised file is plain GFF3 that
genome browsers read, plus two `#!` directives so it reads back exactly: rows of one ID stay in
transcription order, and the genetic code travels with the annotation.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from urllib.parse import quote, unquote

from dnalens.atomic import atomic_path
from dnalens.errors import InputError
from dnalens.genome.assemble import RawRow, assemble
from dnalens.genome.model import Annotation
from dnalens.genome.textio import iter_lines, nine_columns

NORMALIZED_MARK = "#!dnalens-normalized"
GENETIC_CODE_MARK = "#!dnalens-genetic-code"
LANDMARK_TYPES = frozenset({"region", "chromosome", "supercontig", "scaffold", "databank_entry"})
MULTI_VALUED = frozenset({"Dbxref", "Alias", "Ontology_term", "Note", "tag"})
VALID_STRANDS = {"+": "+", "-": "-", ".": ".", "?": "."}
_ATTR_SAFE = " :/()|^*!@$[]{}'\"<>~`+#?"  # characters left unescaped in attribute values


def parse_attributes(text: str, path, lineno: int) -> list[tuple[str, str]]:
    """GFF3 column 9 (`key=value;key=v1,v2`) -> [(key, value)] with %XX escapes decoded."""
    out: list[tuple[str, str]] = []
    if text.strip() in ("", "."):
        return out
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            gtf_like = " " in item and '"' in item
            raise InputError(
                f"attribute {item[:40]!r} is not key=value.",
                path=path,
                line=lineno,
                fix="this looks like GTF: set annotation_format: gtf."
                if gtf_like
                else "write column 9 as key=value;key=value.",
            )
        out.append((unquote(key.strip()), ",".join(unquote(v) for v in value.split(","))))
    return out


def parse_columns(cols: list[str], path, lineno: int) -> tuple[str, str, str, int, int, str, int | None]:
    """Columns 1-8 shared by GFF3 and GTF -> (seqid, source, type, start0, end, strand, phase)."""
    seqid, source, ftype, start_s, end_s, _score, strand, phase_s = cols[:8]
    try:
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise InputError(
            f"start/end ({start_s!r}, {end_s!r}) are not integers.",
            path=path,
            line=lineno,
            fix="columns 4 and 5 hold 1-based integer coordinates.",
        ) from None
    if start < 1:
        raise InputError(f"start {start} is below 1.", path=path, line=lineno, fix="GFF3 coordinates start at 1.")
    if start > end:
        raise InputError(
            f"start ({start}) > end ({end}).",
            path=path,
            line=lineno,
            fix="write start <= end; give the orientation in the strand column.",
        )
    if strand not in VALID_STRANDS:
        raise InputError(f"bad strand column {strand!r}.", path=path, line=lineno, fix="column 7 must be +, - or '.'.")
    if phase_s not in (".", "0", "1", "2"):
        raise InputError(
            f"bad phase column {phase_s!r}.", path=path, line=lineno, fix="column 8 must be 0, 1, 2 (CDS) or '.'."
        )
    phase = None if phase_s == "." or ftype != "CDS" else int(phase_s)
    return unquote(seqid), source, ftype, start - 1, end, VALID_STRANDS[strand], phase


def _parse_row(cols: list[str], path, lineno: int) -> RawRow:
    seqid, source, ftype, start, end, strand, phase = parse_columns(cols, path, lineno)
    attrs = parse_attributes(cols[8], path, lineno)
    fid = next((v for k, v in attrs if k == "ID"), None)
    parents = tuple(p for k, v in attrs if k == "Parent" for p in v.split(",") if p)
    rest = [(k, v) for k, v in attrs if k not in ("ID", "Parent")]
    return RawRow(seqid, ftype, start, end, strand, fid, parents, phase, rest, source, lineno)


def parse_gff3(
    path: str | os.PathLike,
    *,
    contig_lengths: Mapping[str, int] | None = None,
    circular: Collection[str] = (),
    fasta_path: str | os.PathLike | None = None,
) -> Annotation:
    """Read any GFF3 (NCBI, Ensembl, ours) into the normalised model; stops at ##FASTA."""
    rows: list[RawRow] = []
    circular_ids = set(circular)
    region_lengths: dict[str, int] = {}
    normalized = False
    genetic_code: int | None = None
    for lineno, line in iter_lines(path, "GFF3 file"):
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith("##FASTA"):
                break
            if line.startswith(NORMALIZED_MARK):
                normalized = True
            elif line.startswith(GENETIC_CODE_MARK):
                genetic_code = int(line.split()[1])
            elif line.startswith("##sequence-region"):
                parts = line.split()
                if len(parts) == 4 and parts[3].isdigit():
                    region_lengths[unquote(parts[1])] = int(parts[3])
            continue
        cols = nine_columns(line, path, lineno, "GFF3")
        row = _parse_row(cols, path, lineno)
        if row.type in LANDMARK_TYPES:
            if dict(row.attributes).get("Is_circular", "").lower() == "true":
                circular_ids.add(row.seqid)
            continue
        rows.append(row)
    lengths = contig_lengths if contig_lengths is not None else (region_lengths or None)
    features = assemble(
        rows, path=path, contig_lengths=lengths, circular=circular_ids, keep_order=normalized, fasta_path=fasta_path
    )
    return Annotation(
        features, genetic_code=genetic_code, source_path=str(path), circular_seqids=frozenset(circular_ids)
    )


def read_normalized_gff3(path: str | os.PathLike) -> Annotation:
    """Read annotation.gff3 as written by `write_normalized_gff3` (row order is kept as written)."""
    return parse_gff3(path)


def _escape(value: str) -> str:
    return quote(value, safe=_ATTR_SAFE)


def format_attributes(fid: str, parents: tuple[str, ...], attributes) -> str:
    items = [f"ID={_escape(fid)}"]
    if parents:
        items.append("Parent=" + ",".join(_escape(p) for p in parents))
    for k, v in attributes:
        if k in MULTI_VALUED:  # list attributes keep their commas as separators
            items.append(f"{_escape(k)}={','.join(_escape(x) for x in v.split(','))}")
        elif k not in ("ID", "Parent"):
            items.append(f"{_escape(k)}={_escape(v)}")
    return ";".join(items)


def write_normalized_gff3(annotation: Annotation, path: str | os.PathLike, contig_lengths: Mapping[str, int]) -> None:
    """Write the model as GFF3 (1-based), one row per part; rows of one ID in transcription order."""
    circular = annotation.circular_seqids
    with atomic_path(path) as tmp, open(tmp, "w") as out:
        out.write("##gff-version 3\n")
        out.write(f"{NORMALIZED_MARK} 1\n")
        if annotation.genetic_code is not None:
            out.write(f"{GENETIC_CODE_MARK} {annotation.genetic_code}\n")
        for seqid, length in contig_lengths.items():
            out.write(f"##sequence-region {_escape(seqid)} 1 {length}\n")
        for seqid, length in contig_lengths.items():
            flag = ";Is_circular=true" if seqid in circular else ""
            out.write(f"{_escape(seqid)}\tdnalens\tregion\t1\t{length}\t.\t+\t.\tName={_escape(seqid)}{flag}\n")
        for f in annotation.features:
            phase = "." if f.phase is None else str(f.phase)
            out.write(
                f"{_escape(f.seqid)}\t{f.source or '.'}\t{f.type}\t{f.start + 1}\t{f.end}\t.\t{f.strand}\t{phase}\t"
                f"{format_attributes(f.id, f.parents, f.attributes)}\n"
            )
