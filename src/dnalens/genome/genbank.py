"""GenBank -> (sequences, feature model) with biopython.

Biopython already gives the parts of a join in transcription order (complement(join(a,b)) -> b, a;
origin-spanning joins stay split at the origin), so rows keep that order. Genes become gene rows, RNA
features transcripts with one exon per part, CDS the CDS rows (phase from /codon_start) under their
mRNA, or under a new mRNA whose exons are the CDS parts when the record has none.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from dnalens.errors import InputError
from dnalens.genome.assemble import RawRow, assemble, blocks, cds_phases, segments, unique_id
from dnalens.genome.fasta import IUPAC_NUCLEOTIDES
from dnalens.genome.model import Annotation
from dnalens.genome.textio import open_text

# GenBank feature keys -> Sequence Ontology names (keys not listed keep their GenBank name).
TYPE_MAP = {
    "precursor_RNA": "primary_transcript",
    "rep_origin": "origin_of_replication",
    "mobile_element": "mobile_genetic_element",
    "RBS": "ribosome_binding_site",
    "-10_signal": "minus_10_signal",
    "-35_signal": "minus_35_signal",
    "polyA_signal": "polyA_signal_sequence",
    "misc_binding": "binding_site",
    "protein_bind": "protein_binding_site",
    "variation": "sequence_variant",
}
GENBANK_TRANSCRIPTS = frozenset({"mRNA", "tRNA", "rRNA", "ncRNA", "tmRNA", "misc_RNA", "precursor_RNA"})
# Derived from transcripts (exon/intron) or not features at all.
SKIPPED = frozenset({"source", "exon", "intron", "5'UTR", "3'UTR", "gap", "assembly_gap", "CONTIG"})
_DROPPED_QUALIFIERS = frozenset({"translation", "codon_start"})
_RENAMED_QUALIFIERS = {"db_xref": "Dbxref", "note": "Note"}
_STRAND = {1: "+", -1: "-"}


@dataclass(frozen=True)
class GenBankRecords:
    sequences: list[tuple[str, str]]
    annotation: Annotation
    circular: frozenset[str]


def _key(feature) -> str | None:
    q = feature.qualifiers
    return (q.get("locus_tag") or q.get("gene") or [None])[0]


def _attributes(feature) -> list[tuple[str, str]]:
    q = feature.qualifiers
    out: list[tuple[str, str]] = []
    name = (q.get("gene") or q.get("locus_tag") or [None])[0]
    if name:
        out.append(("Name", name))
    for k, values in q.items():
        if k in _DROPPED_QUALIFIERS:
            continue
        out.append((_RENAMED_QUALIFIERS.get(k, k), ",".join(v if v else "true" for v in values)))
    return out


def _parts(feature, seqid: str) -> list[RawRow]:
    return [  # zero-length parts (insertion sites such as 5933^5934) cover no base and are dropped
        RawRow(seqid, "", int(p.start), int(p.end), _STRAND.get(p.strand, "."), source="GenBank")
        for p in feature.location.parts
        if int(p.end) > int(p.start)
    ]


def _overlaps(a: list[RawRow], b: list[RawRow]) -> bool:
    return any(x.start < y.end and y.start < x.end for x in a for y in b)


def _record_sequence(record, path) -> str:
    try:
        seq = str(record.seq)
    except Exception:  # Bio.Seq.UndefinedSequenceError: a CON/WGS record without ORIGIN
        raise InputError(
            f"GenBank record {record.id} has no sequence (no ORIGIN section).",
            path=path,
            fix="download the full record with sequence (NCBI 'GenBank (full)' / rettype=gbwithparts).",
        ) from None
    bad = seq.encode().translate(None, IUPAC_NUCLEOTIDES)
    if not seq:
        raise InputError(f"GenBank record {record.id} has an empty sequence.", path=path, fix="remove the record.")
    if bad:
        raise InputError(
            f"GenBank record {record.id} has invalid sequence character {chr(bad[0])!r}.",
            path=path,
            fix="use IUPAC nucleotide letters only.",
        )
    return seq


def _record_rows(record, seqid: str, taken: set[str]) -> list[RawRow]:
    rows: list[RawRow] = []
    genes: dict[str | None, list[tuple[str, list[RawRow]]]] = defaultdict(list)
    mrnas: dict[str | None, list[tuple[str, list[RawRow]]]] = defaultdict(list)
    for feature in record.features:
        if feature.type in SKIPPED or feature.location is None:
            continue
        key = _key(feature)
        parts = _parts(feature, seqid)
        if not parts:
            continue
        attrs = _attributes(feature)
        ftype = TYPE_MAP.get(feature.type, feature.type)
        if feature.type == "regulatory" and feature.qualifiers.get("regulatory_class"):
            ftype = feature.qualifiers["regulatory_class"][0]
        gene_parent = next((gid for gid, grows in genes.get(key, []) if _overlaps(grows, parts)), None) if key else None
        parents = (gene_parent,) if gene_parent else ()
        if gene_parent and feature.qualifiers.get("product"):  # the gene row carries its product too
            _add_product(genes[key], gene_parent, feature.qualifiers["product"][0])
        if feature.type == "gene":
            fid = unique_id(f"gene-{key or f'{seqid}-{parts[0].start + 1}'}", taken)
            grows = [_row(_span(run), "gene", fid, (), attrs) for run in segments(parts)]
            genes[key].append((fid, grows))
            rows.extend(grows)
        elif feature.type in GENBANK_TRANSCRIPTS:
            fid = unique_id(f"rna-{key or f'{seqid}-{parts[0].start + 1}'}", taken)
            trows = [_row(_span(run), ftype, fid, parents, attrs) for run in segments(parts)]
            rows.extend(trows)
            base = fid.removeprefix("rna-")
            for i, block in enumerate(blocks(parts, len(record)), 1):
                eid = unique_id(f"exon-{base}-{i}", taken)
                rows.extend(_row(p, "exon", eid, (fid,), ()) for p in block)
            if feature.type == "mRNA":
                mrnas[key].append((fid, parts))
        elif feature.type == "CDS":
            protein = (feature.qualifiers.get("protein_id") or [None])[0]
            fid = unique_id(f"cds-{protein or key or f'{seqid}-{parts[0].start + 1}'}", taken)
            mrna = next((tid for tid, tparts in mrnas.get(key, []) if _contains(tparts, parts)), None) if key else None
            first = int((feature.qualifiers.get("codon_start") or ["1"])[0]) - 1
            phases = cds_phases([p.end - p.start for p in parts], first)
            cds_parents = (mrna,) if mrna else parents
            rows.extend(_row(p, "CDS", fid, cds_parents, attrs, phase) for p, phase in zip(parts, phases))
        else:
            fid = unique_id(f"{ftype}-{seqid}-{parts[0].start + 1}", taken)
            rows.extend(_row(p, ftype, fid, (), attrs) for p in parts)
    return rows


def _add_product(gene_rows: list[tuple[str, list[RawRow]]], gene_id: str, product: str) -> None:
    """Copy a transcript's or CDS's /product onto its gene rows (first product wins)."""
    for gid, grows in gene_rows:
        if gid == gene_id:
            for r in grows:
                if not any(k == "product" for k, _ in r.attributes):
                    r.attributes.append(("product", product))


def _span(run: list[RawRow]) -> RawRow:
    return RawRow(run[0].seqid, "", min(p.start for p in run), max(p.end for p in run), run[0].strand, source="GenBank")


def _row(part: RawRow, ftype: str, fid: str, parents, attrs, phase: int | None = None) -> RawRow:
    return RawRow(
        part.seqid, ftype, part.start, part.end, part.strand, fid, tuple(parents), phase, list(attrs), "GenBank"
    )


def _contains(outer: list[RawRow], inner: list[RawRow]) -> bool:
    return all(any(o.start <= i.start and i.end <= o.end and o.strand == i.strand for o in outer) for i in inner)


def _unparsed_location(path, feature_type: str, caught: list) -> InputError:
    """The feature whose location biopython could not parse, with its line (found by its text)."""
    import re

    texts = [m.group(1) for w in caught if (m := re.search(r"location '([^']*)'", str(w.message)))]
    location = texts[-1] if texts else ""
    line = None
    with open_text(path) as handle:
        for number, text in enumerate(handle, 1):
            if text[:21].strip() == feature_type and location and location in text:
                line = number
                break
    return InputError(
        f"cannot parse the location {location!r} of a {feature_type} feature.",
        path=path,
        line=line,
        fix="write GenBank locations like 100..200, complement(100..200) or join(1..50,60..90).",
    )


def read_genbank(path: str | os.PathLike, *, contigs: Collection[str] | None = None) -> GenBankRecords:
    """All records of a GenBank file (optionally only `contigs`), as FASTA records plus one Annotation."""
    from Bio import BiopythonParserWarning, SeqIO

    sequences: list[tuple[str, str]] = []
    rows: list[RawRow] = []
    circular: set[str] = set()
    codes: Counter[str] = Counter()
    taken: set[str] = set()
    seen: set[str] = set()
    try:
        with open_text(path) as handle, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BiopythonParserWarning)
            for record in SeqIO.parse(handle, "genbank"):
                bad = next((f for f in record.features if f.location is None), None)
                if bad is not None:  # biopython only warns and drops the location
                    raise _unparsed_location(path, bad.type, caught)
                seqid = record.id if record.id and record.id != "<unknown id>" else record.name
                if contigs and seqid not in contigs:
                    continue
                if seqid in seen:
                    raise InputError(f"GenBank record {seqid} occurs twice.", path=path, fix="keep one copy.")
                seen.add(seqid)
                sequences.append((seqid, _record_sequence(record, path)))
                if record.annotations.get("topology") == "circular":
                    circular.add(seqid)
                for f in record.features:
                    if f.type == "CDS" and f.qualifiers.get("transl_table"):
                        codes[f.qualifiers["transl_table"][0]] += 1
                rows.extend(_record_rows(record, seqid, taken))
    except UnicodeDecodeError:
        raise InputError("GenBank file is not text.", path=path, fix="give a GenBank flat file (.gb/.gbk).") from None
    except (ValueError, AssertionError, IndexError, KeyError) as err:
        raise InputError(
            f"not a valid GenBank file ({err}).", path=path, fix="give a GenBank flat file (.gb/.gbk)."
        ) from None
    if not sequences:
        found = "" if not contigs else f" matching contigs {', '.join(contigs)}"
        raise InputError(
            f"no GenBank records{found} found.", path=path, fix="give a GenBank flat file starting with a LOCUS line."
        )
    lengths = {name: len(seq) for name, seq in sequences}
    features = assemble(rows, path=path, contig_lengths=lengths, circular=circular, keep_order=True)
    code = int(codes.most_common(1)[0][0]) if codes else None
    annotation = Annotation(features, genetic_code=code, source_path=str(path), circular_seqids=frozenset(circular))
    return GenBankRecords(sequences, annotation, frozenset(circular))
