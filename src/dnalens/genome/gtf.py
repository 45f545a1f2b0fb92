"""GTF (GTF2.2, Ensembl, GENCODE, StringTie) -> the normalised feature model.

GTF has no IDs or Parent links: genes and transcripts are named by `gene_id` / `transcript_id`, and
many GTFs have no gene or transcript lines at all, so they are built here from their parts. GTF CDS
rows exclude the stop codon while GFF3 CDS include it; the stop codon is added back to the CDS so
both formats give the same model (start_codon / stop_codon rows are kept as features too).
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping

from dnalens.errors import InputError
from dnalens.genome.assemble import RawRow, assemble
from dnalens.genome.gff3 import parse_columns
from dnalens.genome.model import TRANSCRIPT_TYPES, Annotation
from dnalens.genome.textio import iter_lines, nine_columns

_ATTR = re.compile(r'\s*([^\s;"]+)\s+(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))\s*(?:;|$)')
PART_TYPES = {
    "exon": "exon",
    "CDS": "CDS",
    "start_codon": "start_codon",
    "stop_codon": "stop_codon",
    "five_prime_utr": "five_prime_UTR",
    "5UTR": "five_prime_UTR",
    "five_prime_UTR": "five_prime_UTR",
    "three_prime_utr": "three_prime_UTR",
    "3UTR": "three_prime_UTR",
    "three_prime_UTR": "three_prime_UTR",
    "UTR": "UTR",
}
BIOTYPES = {"protein_coding": "mRNA", "lncRNA": "lnc_RNA", "lincRNA": "lnc_RNA", "Mt_tRNA": "tRNA", "Mt_rRNA": "rRNA"}
_ID_KEYS = ("gene_id", "transcript_id")


def parse_gtf_attributes(text: str, path, lineno: int) -> list[tuple[str, str]]:
    """`key "value"; key value;` -> [(key, value)]; repeated keys (tag) are joined with ','."""
    values: dict[str, list[str]] = defaultdict(list)
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _ATTR.match(text, pos)
        if not m:
            raise InputError(
                f"bad GTF attribute column near {text[pos : pos + 30]!r}.",
                path=path,
                line=lineno,
                fix='write column 9 as key "value"; (GFF3 files need annotation_format: gff3).',
            )
        values[m.group(1)].append(m.group(2) if m.group(2) is not None else m.group(3))
        pos = m.end()
    return [(k, ",".join(v)) for k, v in values.items()]


def _transcript_type(attrs: Mapping[str, str], has_cds: bool) -> str:
    for key in ("transcript_biotype", "transcript_type", "gene_biotype", "gene_type"):
        value = attrs.get(key)
        if value in TRANSCRIPT_TYPES:
            return value
        if value in BIOTYPES:
            return BIOTYPES[value]
        if value and "pseudogene" in value:
            return "pseudogenic_transcript"
    return "mRNA" if has_cds else "transcript"


def _span(parts: list[RawRow], ftype: str, fid: str, parents: tuple[str, ...], attrs) -> list[RawRow]:
    """One row per (contig, strand) covering `parts` (overlapping exons, CDS and codons alike)."""
    groups: dict[tuple[str, str], list[RawRow]] = defaultdict(list)
    for p in parts:
        groups[(p.seqid, p.strand)].append(p)
    return [
        RawRow(
            run[0].seqid,
            ftype,
            min(p.start for p in run),
            max(p.end for p in run),
            run[0].strand,
            fid,
            parents,
            None,
            list(attrs),
            run[0].source,
            run[0].line,
        )
        for run in groups.values()
    ]


def _add_stop_codon(parts: list[RawRow]) -> list[RawRow]:
    """Extend the CDS by the stop codon rows (GTF CDS excludes it; GFF3 CDS includes it)."""
    cds = sorted((p for p in parts if p.type == "CDS"), key=lambda r: r.start)
    stops = [p for p in parts if p.type == "stop_codon"]
    if not cds or not stops:
        return parts
    for stop in sorted(stops, key=lambda r: r.start, reverse=stops[0].strand == "-"):
        if any(c.start <= stop.start and stop.end <= c.end for c in cds):
            continue  # this GTF already counts the stop codon in the CDS
        last = cds[-1] if stop.strand != "-" else cds[0]
        if stop.strand != "-" and last.end == stop.start:
            last.end = stop.end
        elif stop.strand == "-" and last.start == stop.end:
            last.start = stop.start
        else:  # stop codon split by an intron: its other piece becomes a new CDS row
            new = RawRow(
                stop.seqid,
                "CDS",
                stop.start,
                stop.end,
                stop.strand,
                last.id,
                last.parents,
                None,
                list(last.attributes),
                last.source,
                stop.line,
            )
            cds.append(new)
            cds.sort(key=lambda r: r.start)
            parts = parts + [new]
    return parts


def _minus(parts: list[RawRow]) -> bool:
    return bool(parts) and parts[0].strand == "-"


def _classify_utrs(parts: list[RawRow]) -> None:
    cds = [p for p in parts if p.type == "CDS"]
    for p in parts:
        if p.type != "UTR" or not cds:
            continue
        before = p.end <= min(c.start for c in cds)
        p.type = "five_prime_UTR" if before == (p.strand != "-") else "three_prime_UTR"


def parse_gtf(
    path: str | os.PathLike,
    *,
    contig_lengths: Mapping[str, int] | None = None,
    circular: Collection[str] = (),
    fasta_path: str | os.PathLike | None = None,
) -> Annotation:
    gene_rows: dict[str, RawRow] = {}
    tx_rows: dict[str, RawRow] = {}
    tx_gene: dict[str, str] = {}
    tx_attrs: dict[str, dict[str, str]] = {}
    parts: dict[str, list[RawRow]] = defaultdict(list)
    skipped: Counter[str] = Counter()
    for lineno, line in iter_lines(path, "GTF file"):
        if not line.strip() or line.startswith("#"):
            continue
        cols = nine_columns(line, path, lineno, "GTF")
        seqid, source, ftype, start, end, strand, phase = parse_columns(cols, path, lineno)
        attrs = parse_gtf_attributes(cols[8], path, lineno)
        amap = dict(attrs)
        gid, tid = amap.get("gene_id"), amap.get("transcript_id")
        if not gid:
            raise InputError("GTF row without gene_id.", path=path, line=lineno, fix='add gene_id "...";')
        rest = [(("Name" if k == "gene_name" else k), v) for k, v in attrs if k not in _ID_KEYS]
        row = RawRow(seqid, ftype, start, end, strand, None, (), phase, rest, source, lineno)
        if ftype == "gene":
            row.id = gid
            gene_rows[gid] = row
            continue
        if ftype not in ("transcript", *PART_TYPES):
            skipped[ftype] += 1
            continue
        if not tid:
            raise InputError(
                f"GTF {ftype} row without transcript_id.", path=path, line=lineno, fix='add transcript_id "...";'
            )
        tx_gene.setdefault(tid, gid)
        tx_attrs.setdefault(tid, {}).update(amap)
        if ftype == "transcript":
            tx_rows[tid] = row
        else:
            row.type = PART_TYPES[ftype]
            parts[tid].append(row)
    rows = _build_rows(gene_rows, tx_rows, tx_gene, tx_attrs, parts)
    features = assemble(rows, path=path, contig_lengths=contig_lengths, circular=circular, fasta_path=fasta_path)
    return Annotation(features, source_path=str(path), circular_seqids=frozenset(circular))


def _build_rows(gene_rows, tx_rows, tx_gene, tx_attrs, parts) -> list[RawRow]:
    gene_ids = set(gene_rows) | set(tx_gene.values())
    tx_id = {t: (f"transcript:{t}" if t in gene_ids else t) for t in tx_gene}
    rows: list[RawRow] = []
    by_gene: dict[str, list[RawRow]] = defaultdict(list)
    for tid, gid in tx_gene.items():
        tparts = parts.get(tid, [])
        tparts = _add_stop_codon(tparts)
        _classify_utrs(tparts)
        for p in tparts:  # CDS, UTR and codon rows of a transcript group by type (assemble gives the IDs)
            p.parents = (tx_id[tid],)
        exons = sorted((p for p in tparts if p.type == "exon"), key=lambda r: r.start, reverse=_minus(tparts))
        for i, exon in enumerate(exons, 1):
            exon.id = f"exon-{tid}-{i}"
        ttype = _transcript_type(tx_attrs[tid], any(p.type == "CDS" for p in tparts))
        if tid in tx_rows:
            trows = [tx_rows[tid]]
            trows[0].id, trows[0].type, trows[0].parents = tx_id[tid], ttype, (gid,)
        else:
            source = tparts or [RawRow("", "", 0, 1, ".")]
            name = [(k, v) for k, v in source[0].attributes if k == "Name"]
            trows = _span(tparts, ttype, tx_id[tid], (gid,), name)
        by_gene[gid].extend(trows)
        rows.extend(trows)
        rows.extend(tparts)
    for gid in sorted(gene_ids):
        if gid in gene_rows:
            rows.append(gene_rows[gid])
        elif by_gene.get(gid):
            name = [(k, v) for k, v in by_gene[gid][0].attributes if k == "Name"]
            rows.extend(_span(by_gene[gid], "gene", gid, (), name))
    return rows
