"""Raw annotation rows from any parser -> the normalised feature model (see model.py invariants).

Parsers (GFF3, GTF, GenBank, pyrodigal) only turn text into `RawRow`s; everything the formats
disagree on is settled here, once: bounds, origin-spanning rows, transcription order, missing mRNA
or exon levels, missing CDS phases, and a stable gene -> transcript -> part row order.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from os import PathLike
from typing import Iterable, Mapping

from dnalens.errors import InputError
from dnalens.genome.model import GENE_TYPES, PART_TYPES, TRANSCRIPT_TYPES, Feature

# Part types grouped into one multi-row feature per parent when rows carry no ID.
GROUPED_PART_TYPES = frozenset({"CDS", "five_prime_UTR", "three_prime_UTR", "start_codon", "stop_codon"})
_CHILD_RANK = {"exon": 1, "CDS": 2, "five_prime_UTR": 3, "three_prime_UTR": 4, "start_codon": 5, "stop_codon": 6}


@dataclass
class RawRow:
    """One annotation row as read: 0-based half-open; `end` may pass the origin of a circular contig."""

    seqid: str
    type: str
    start: int
    end: int
    strand: str
    id: str | None = None
    parents: tuple[str, ...] = ()
    phase: int | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)
    source: str = "dnalens"
    line: int | None = None


def cds_phases(lengths: list[int], first_phase: int = 0) -> list[int]:
    """Phase of each CDS part in transcription order, from part lengths and the first part's phase."""
    phases, used = [], -first_phase
    for n in lengths:
        phases.append((3 - used % 3) % 3 if phases else first_phase)
        used += n
    return phases


def unique_id(base: str, taken: set[str]) -> str:
    new, k = base, 1
    while new in taken:
        k += 1
        new = f"{base}-{k}"
    taken.add(new)
    return new


def is_trans_spliced(rows: list) -> bool:
    if len({r.strand for r in rows}) > 1:
        return True
    for r in rows:
        attrs = dict(r.attributes)
        if "trans_splicing" in attrs or "trans-splicing" in attrs.get("exception", ""):
            return True
    return False


def segments(parts: list) -> list[list]:
    """Split parts (transcription order) into runs on one strand that never step back upstream.

    A new run starts at a strand change or a jump back (trans-splicing, the origin of a circular
    contig); overlapping parts (an exon and its UTR) stay in one run.
    """
    runs: list[list] = []
    for p in parts:
        if runs and p.strand == runs[-1][0].strand:
            run = runs[-1]
            if (p.end <= max(r.end for r in run)) if p.strand == "-" else (p.start >= min(r.start for r in run)):
                run.append(p)
                continue
        runs.append([p])
    return runs


def blocks(parts: list, length: int | None) -> list[list]:
    """Group parts into contiguous blocks (an exon split at the origin is one block of two rows)."""
    out: list[list] = []
    for p in parts:
        if out and length:
            prev = out[-1][-1]
            if p.strand == prev.strand and (
                (p.strand != "-" and prev.end == length and p.start == 0)
                or (p.strand == "-" and prev.start == 0 and p.end == length)
            ):
                out[-1].append(p)
                continue
        out.append([p])
    return out


def span_rows(parts: list, **changes) -> list[Feature]:
    """Gene/transcript rows covering `parts`: one row per segment (several when trans-spliced or wrapping)."""
    rows = []
    for run in segments(parts):
        base = run[0]
        rows.append(
            dataclasses.replace(
                base, start=min(p.start for p in run), end=max(p.end for p in run), phase=None, **changes
            )
        )
    return rows


def _check_rows(rows: list[RawRow], path, lengths: Mapping[str, int] | None, circular, fasta_path) -> None:
    for r in rows:
        if r.start >= r.end:
            raise InputError(
                f"feature has start > end ({r.start + 1} > {r.end}).",
                path=path,
                line=r.line,
                fix="GFF/GTF columns 4 and 5 are start <= end, 1-based.",
            )
    if lengths is None:
        return
    unknown = sorted({r.seqid for r in rows} - set(lengths))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
        hint = ""
        stripped = {c.split(".")[0]: c for c in lengths}
        if unknown[0].split(".")[0] in stripped:
            hint = f" (did you mean {stripped[unknown[0].split('.')[0]]!r}?)"
        raise InputError(
            f"seqid(s) {shown} in the annotation are not contigs of the FASTA"
            f"{'' if fasta_path is None else ' ' + str(fasta_path)}{hint}.",
            path=path,
            fix=f"make annotation seqids match the FASTA headers ({', '.join(list(lengths)[:5])}).",
        )
    for r in rows:
        n = lengths[r.seqid]
        wraps_ok = r.seqid in circular and r.end - r.start <= n and r.end <= 2 * n
        if r.end > n and not wraps_ok:
            raise InputError(
                f"feature ends at {r.end}, beyond the end of contig {r.seqid!r} ({n} bp).",
                path=path,
                line=r.line,
                fix="check that the annotation belongs to this FASTA; origin-spanning features need topology: circular.",
            )


def _to_features(group: list[RawRow], length: int | None, keep_order: bool) -> list[Feature]:
    if not keep_order and not is_trans_spliced(group):
        group = sorted(group, key=lambda r: r.start, reverse=group[0].strand == "-")
    out: list[Feature] = []
    for r in group:
        pieces = [(r.start, r.end)]
        if length and r.start >= length:
            pieces = [(r.start - length, r.end - length)]
        elif length and r.end > length:
            pieces = [(r.start, length), (0, r.end - length)]
            if r.strand == "-":
                pieces.reverse()
        for i, (a, b) in enumerate(pieces):
            phase = r.phase if i == 0 else None
            out.append(
                Feature(
                    r.seqid, r.type, a, b, r.strand, r.id or "", tuple(r.parents), phase, tuple(r.attributes), r.source
                )
            )
    if len(out) > len(group) and out[0].type == "CDS":  # a CDS row cut at the origin: phase of the second half
        out = _fill_phases(out, force=False)
    return out


def _fill_phases(rows: list[Feature], force: bool) -> list[Feature]:
    if all(r.phase is not None for r in rows) and not force:
        return rows
    phases = cds_phases([r.length for r in rows], rows[0].phase or 0)
    return [r if r.phase is not None and not force else dataclasses.replace(r, phase=p) for r, p in zip(rows, phases)]


def _assign_ids(rows: list[RawRow]) -> None:
    taken = {r.id for r in rows if r.id}
    grouped: dict[tuple[str, str], str] = {}
    for r in rows:
        if r.id:
            continue
        parent = r.parents[0] if r.parents else None
        if parent and r.type in GROUPED_PART_TYPES:
            key = (parent, r.type)
            if key not in grouped:
                grouped[key] = unique_id(f"{parent}.{r.type}", taken)
            r.id = grouped[key]
        else:
            r.id = unique_id(f"{parent}.{r.type}" if parent else f"{r.type}-{r.seqid}-{r.start + 1}", taken)


def assemble(
    rows: Iterable[RawRow],
    *,
    path: str | PathLike | None = None,
    contig_lengths: Mapping[str, int] | None = None,
    circular: Iterable[str] = (),
    keep_order: bool = False,
    fasta_path: str | PathLike | None = None,
) -> list[Feature]:
    """Normalise raw rows into features that satisfy the model.py invariants, in a stable order."""
    rows = list(rows)
    circular = frozenset(circular)
    _check_rows(rows, path, contig_lengths, circular, fasta_path)
    _assign_ids(rows)
    groups: dict[str, list[RawRow]] = defaultdict(list)
    for r in rows:
        groups[r.id].append(r)  # type: ignore[index]
    feats: dict[str, list[Feature]] = {}
    for fid, group in groups.items():
        types = {r.type for r in group}
        if len(types) > 1:
            raise InputError(
                f"ID {fid!r} is used by rows of different types ({', '.join(sorted(types))}).",
                path=path,
                line=group[-1].line,
                fix="give every feature its own ID.",
            )
        for r in group:
            for p in r.parents:
                if p not in groups:
                    raise InputError(
                        f"Parent {p!r} of {fid!r} is not defined in the file.",
                        path=path,
                        line=r.line,
                        fix="add the parent feature or remove the Parent attribute.",
                    )
        length = contig_lengths.get(group[0].seqid) if contig_lengths else None
        feats[fid] = _to_features(group, length if group[0].seqid in circular else None, keep_order)
    _fix_hierarchy(feats, contig_lengths or {})
    return _ordered(feats, contig_lengths)


def _kind(feats: dict[str, list[Feature]], fid: str) -> str:
    t = feats[fid][0].type
    if t in GENE_TYPES:
        return "gene"
    if t in TRANSCRIPT_TYPES:
        return "transcript"
    return "part" if t in PART_TYPES else "other"


def _base_name(fid: str) -> str:
    for prefix in ("cds-", "CDS:", "cds:", "exon-", "gene-", "gene:"):
        if fid.startswith(prefix):
            return fid[len(prefix) :]
    return fid


def _fix_hierarchy(feats: dict[str, list[Feature]], lengths: Mapping[str, int]) -> None:
    """Add the levels the model requires: mRNA above bare CDS, a transcript above bare parts, exons below RNAs."""
    taken = set(feats)
    children: dict[str, list[str]] = defaultdict(list)
    for fid, rows in feats.items():
        for p in rows[0].parents:
            children[p].append(fid)
    # Transcript-like features of types the model does not list (Ensembl V_gene_segment, ...).
    for fid, kids in children.items():
        if _kind(feats, fid) == "other" and any(feats[k][0].type in ("exon", "CDS") for k in kids):
            feats[fid] = [
                dataclasses.replace(r, type="transcript", attributes=r.attributes + (("original_type", r.type),))
                for r in feats[fid]
            ]
    # CDS / other parts whose parent is a gene (or nothing): give them a transcript.
    bare: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    for fid, rows in list(feats.items()):
        if _kind(feats, fid) != "part" or any(_kind(feats, p) == "transcript" for p in rows[0].parents):
            continue
        genes = tuple(p for p in rows[0].parents if _kind(feats, p) == "gene")
        key = fid if rows[0].type == "CDS" else (genes[0] if genes else fid)
        bare[(key, rows[0].type == "CDS")].append(fid)  # type: ignore[index]
    for (key, is_cds), part_ids in bare.items():
        first = feats[part_ids[0]]
        genes = tuple(p for p in first[0].parents if _kind(feats, p) == "gene")
        gene_rows = feats[genes[0]] if genes else []
        pseudo = bool(gene_rows) and (gene_rows[0].type == "pseudogene" or gene_rows[0].attr("pseudo") is not None)
        ttype = "mRNA" if is_cds else ("pseudogenic_transcript" if pseudo else "transcript")
        tid = unique_id(f"{'rna' if is_cds else 'transcript'}-{_base_name(key or part_ids[0])}", taken)
        parts = [r for pid in part_ids for r in feats[pid]]
        if not is_cds:
            parts = (
                sorted(parts, key=lambda r: r.start, reverse=parts[0].strand == "-")
                if not is_trans_spliced(parts)
                else parts
            )
        feats[tid] = span_rows(
            parts, type=ttype, id=tid, parents=genes, attributes=_inherit_names(first[0]), source=first[0].source
        )
        for pid in part_ids:
            feats[pid] = [dataclasses.replace(r, parents=(tid,)) for r in feats[pid]]
        children[tid] = list(part_ids)
    # Transcripts without exon children: exons are their CDS parts (mRNA from CDS) or their own rows.
    for fid in [f for f in feats if _kind(feats, f) == "transcript"]:
        kids = children.get(fid, [])
        if any(feats[k][0].type == "exon" for k in kids):
            continue
        cds = [r for k in kids if feats[k][0].type == "CDS" for r in feats[k]]
        source_rows = cds or feats[fid]
        base = _base_name(fid).removeprefix("rna-")
        for i, block in enumerate(blocks(source_rows, lengths.get(source_rows[0].seqid)), 1):
            eid = unique_id(f"exon-{base}-{i}", taken)
            feats[eid] = [
                dataclasses.replace(r, type="exon", id=eid, parents=(fid,), phase=None, attributes=()) for r in block
            ]
            children[fid].append(eid)
    for fid, rows in feats.items():
        if rows[0].type == "CDS":
            feats[fid] = _fill_phases(rows, force=False)


def _inherit_names(row: Feature) -> tuple[tuple[str, str], ...]:
    keep = ("Name", "gene", "locus_tag", "product", "pseudo", "trans_splicing", "exception")
    return tuple((k, v) for k, v in row.attributes if k in keep)


def _ordered(feats: dict[str, list[Feature]], lengths: Mapping[str, int] | None) -> list[Feature]:
    """Depth-first: each root (by contig, position), then its children by type rank and 5'->3' position."""
    seq_rank = {s: i for i, s in enumerate(lengths or {})}
    index = {fid: i for i, fid in enumerate(feats)}
    children: dict[str, list[str]] = defaultdict(list)
    for fid, rows in feats.items():
        for p in rows[0].parents:
            children[p].append(fid)

    def root_key(fid: str):
        rows = feats[fid]
        return (seq_rank.get(rows[0].seqid, len(seq_rank)), rows[0].seqid, min(r.start for r in rows), index[fid])

    def child_key(parent: list[Feature]):
        first = parent[0]
        n = (lengths or {}).get(first.seqid)
        ordered_by_file = is_trans_spliced(parent)

        def key(fid: str):
            row = feats[fid][0]
            if ordered_by_file:
                pos = 0
            elif row.strand == "-":
                pos = (first.end - row.end) % n if n else -row.end
            else:
                pos = (row.start - first.start) % n if n else row.start
            rank = 0 if _kind(feats, fid) == "transcript" else _CHILD_RANK.get(row.type, 9)
            return (rank, pos, index[fid])

        return key

    out: list[Feature] = []
    seen: set[str] = set()

    def visit(fid: str) -> None:
        if fid in seen:
            return
        seen.add(fid)
        out.extend(feats[fid])
        for kid in sorted(children.get(fid, []), key=child_key(feats[fid])):
            visit(kid)

    for fid in sorted((f for f in feats if not feats[f][0].parents), key=root_key):
        visit(fid)
    for fid in feats:  # cycles or odd parent graphs: never drop a feature
        visit(fid)
    return out
