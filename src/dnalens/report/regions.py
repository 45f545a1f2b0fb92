"""Annotation lookups for the report: which genes / parts overlap a genome span, and where anchors are.

Built from the normalised annotation (`dnalens.genome.model.Annotation`) once; queries are plain numpy
filters, enough for the few thousand spans a report draws. Spans may run past a circular contig's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

DRAWN_TYPES = ("gene", "pseudogene", "CDS", "exon", "tRNA", "rRNA", "ncRNA", "repeat_region", "mobile_genetic_element")
REGION_COLUMNS = ("contig", "type", "start", "end", "strand", "name", "id", "product")
# a gene predicted by pyrodigal (no product attribute): no homology search was run, so no product is claimed
PREDICTED_PRODUCT = "unknown (pyrodigal)"
_CODING = ("gene", "mRNA", "CDS")
GENE_TYPES = ("gene", "pseudogene", "ncRNA_gene")
PART_TYPES = ("CDS", "tRNA", "rRNA", "ncRNA")  # named when the annotation has no genes


@dataclass(frozen=True)
class _SortedLabels:
    """One contig's rows of some types sorted by start, with their display labels: a span's overlaps are
    a searchsorted window (no row reaches further than `longest` past its start)."""

    starts: np.ndarray
    ends: np.ndarray
    rank: np.ndarray  # position in the region table: overlaps are listed in table order
    labels: np.ndarray  # object: "name (product)" or name
    longest: int

    def within(self, a: int, b: int) -> np.ndarray:
        lo = int(np.searchsorted(self.starts, a - self.longest, side="right"))
        hi = int(np.searchsorted(self.starts, b, side="left"))
        hit = lo + np.flatnonzero(self.ends[lo:hi] > a)
        return hit[np.argsort(self.rank[hit], kind="stable")]


ANCHOR_KINDS = ("start_codon", "stop_codon", "splice_donor", "splice_acceptor")


@dataclass(frozen=True)
class Regions:
    """Annotated intervals (REGION_COLUMNS, 0-based half-open) with contig lengths for wrapping."""

    table: pd.DataFrame
    contig_lengths: dict[str, int]

    def overlapping(self, contig: str, start: int, end: int, types: tuple[str, ...] = DRAWN_TYPES) -> pd.DataFrame:
        """Rows overlapping [start, end) (unwrapped; may pass the contig end), in unwrapped coordinates."""
        length = self.contig_lengths.get(contig, end)
        rows = self.table[(self.table["contig"] == contig) & self.table["type"].isin(types)]
        s0 = start % length
        shift = start - s0
        pieces = [(s0, min(end - shift, length), shift)]
        if end - shift > length:  # the span wraps the origin: look again from base 0
            pieces.append((0, end - shift - length, shift + length))
        found = []
        for a, b, offset in pieces:
            hit = rows[(rows["start"] < b) & (rows["end"] > a)].copy()
            hit[["start", "end"]] += offset
            found.append(hit)
        out = pd.concat(found) if found else rows.iloc[:0]
        return out.drop_duplicates().reset_index(drop=True)

    def gene_names(self, contig: str, start: int, end: int) -> list[str]:
        """Names of genes overlapping the span (CDS / RNA names when the annotation has no genes)."""
        genes = self.overlapping(contig, start, end, ("gene", "pseudogene", "ncRNA_gene"))
        if genes.empty:
            genes = self.overlapping(contig, start, end, ("CDS", "tRNA", "rRNA", "ncRNA"))
        names = [n if isinstance(n, str) and n else i for n, i in zip(genes["name"], genes["id"])]
        return list(dict.fromkeys(names))

    def gene_labels(self, contig: str, start: int, end: int) -> list[str]:
        """`gene_names` with each gene's product where the annotation has one: "recA (recombinase A)".
        Indexed lookups (`_SortedLabels`): the report asks once per latent, 32,768 times for Evo 2."""
        labels = self._labels_in(contig, start, end, GENE_TYPES)
        if not labels:
            labels = self._labels_in(contig, start, end, PART_TYPES)
        return list(dict.fromkeys(labels))

    @cached_property
    def _indexes(self) -> dict[tuple[str, tuple[str, ...]], _SortedLabels]:
        return {}

    def _index(self, contig: str, types: tuple[str, ...]) -> _SortedLabels:
        key = (contig, types)
        if key not in self._indexes:
            t = self.table
            picked = np.flatnonzero(((t["contig"] == contig) & t["type"].isin(types)).to_numpy())
            rows = t.iloc[picked]
            products = rows["product"] if "product" in rows else pd.Series([""] * len(rows), index=rows.index)
            labels = []
            for n, i, product in zip(rows["name"], rows["id"], products):
                name = n if isinstance(n, str) and n else i
                labels.append(f"{name} ({product})" if isinstance(product, str) and product else name)
            starts, ends = rows["start"].to_numpy(np.int64), rows["end"].to_numpy(np.int64)
            order = np.argsort(starts, kind="stable")
            self._indexes[key] = _SortedLabels(
                starts[order],
                ends[order],
                picked[order],
                np.asarray(labels + [None], dtype=object)[:-1][order],
                int((ends - starts).max()) if len(rows) else 0,
            )
        return self._indexes[key]

    def _labels_in(self, contig: str, start: int, end: int, types: tuple[str, ...]) -> list:
        """Labels of rows overlapping [start, end) (unwrapped, as `overlapping`), table order per piece."""
        index = self._index(contig, types)
        length = self.contig_lengths.get(contig, end)
        s0 = start % length
        shift = start - s0
        out = list(index.labels[index.within(s0, min(end - shift, length))])
        if end - shift > length:  # the span wraps the origin: look again from base 0
            out += list(index.labels[index.within(0, end - shift - length)])
        return out


def regions_from_annotation(annotation, contig_lengths: dict[str, int]) -> Regions:
    """`annotation`: a dnalens.genome.model.Annotation. Names fall back gene → Name → locus_tag → id.
    Products: the feature's `product`, else the first one found on its descendants (a gene's product is
    on its CDS); a predicted coding gene without one (pyrodigal) reads "unknown (pyrodigal)" (no homology search was run)."""
    parents = {f.id: f.parents for f in annotation.features if f.id}
    product_of: dict[str, str] = {}
    for f in annotation.features:
        product = f.attr("product")
        if not product:
            continue
        todo, seen = [f.id], set()
        while todo:  # the feature and its ancestors
            i = todo.pop()
            if not i or i in seen:
                continue
            seen.add(i)
            product_of.setdefault(i, product)
            todo.extend(parents.get(i, ()))
    rows = []
    for f in annotation.features:
        name = f.attr("Name") or f.attr("gene") or f.attr("locus_tag") or ""
        product = product_of.get(f.id, "")
        if not product and f.type in _CODING and (f.attr("prediction") or f.source == "pyrodigal"):
            product = PREDICTED_PRODUCT
        rows.append((f.seqid, f.type, f.start, f.end, f.strand, name, f.id, product))
    table = pd.DataFrame(rows, columns=list(REGION_COLUMNS))
    return Regions(table.astype({"start": np.int64, "end": np.int64}), dict(contig_lengths))


def anchors_from_annotation(annotation) -> pd.DataFrame:
    """Metagene anchors (contig, position, strand, kind): 0-based genome base of the event, sense strand.

    start_codon: first base of the CDS; stop_codon: first base of the stop codon (last 3 CDS bases);
    splice_donor: first intron base; splice_acceptor: first base of the next exon.
    """
    rows = []
    seen: set[tuple] = set()
    for tx in annotation.transcripts():
        if tx.trans_spliced:
            continue
        if tx.cds:
            first, last = tx.cds[0], tx.cds[-1]
            start = first.start if first.strand == "+" else first.end - 1
            stop = last.end - 3 if last.strand == "+" else last.start + 2
            rows.append((first.seqid, start, first.strand, "start_codon"))
            rows.append((last.seqid, stop, last.strand, "stop_codon"))
        for up, down in zip(tx.exons, tx.exons[1:]):
            if up.strand == "+":
                rows.append((up.seqid, up.end, "+", "splice_donor"))
                rows.append((down.seqid, down.start, "+", "splice_acceptor"))
            else:
                rows.append((up.seqid, up.start - 1, "-", "splice_donor"))
                rows.append((down.seqid, down.end - 1, "-", "splice_acceptor"))
    unique = [r for r in rows if not (r in seen or seen.add(r))]
    return pd.DataFrame(unique, columns=["contig", "position", "strand", "kind"])
