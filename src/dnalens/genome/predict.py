"""Gene prediction for unannotated prokaryotic and organelle genomes (`annotation: predict`).

Protein genes come from pyrodigal (Prodigal; Hyatt et al. 2010, BMC Bioinformatics 11:119), tRNA and
tmRNA genes from pyaragorn (ARAGORN; Laslett & Canback 2004, Nucleic Acids Res 32:11), rRNA genes from
pybarrnap (barrnap's bacterial nhmmer profiles built from Rfam, searched with pyhmmer; the models ship
inside the pybarrnap wheel). The bacterial rRNA profiles are used for organelles too: on the
Arabidopsis chloroplast they recover all 16S, 23S and 5S genes (tests/genome/test_genome_rna_predict.py).
pyaragorn does not expose ARAGORN's intron search, so tRNAs split by an intron (common in plastids: trnK, trnG,
trnL, trnV, trnI, trnA) come from the `aragorn` executable's `-i` search when it is installed
(`genome/trna_introns.py`); without it they are missed, with a warning.

Prodigal needs about 100 kb to train its single-genome model; shorter genomes (plasmids, phages,
organelles) use its pre-trained metagenomic models instead, restricted to the configured translation
table when Prodigal has models for it (tables 4 and 11). CDSs overlapping an RNA gene are dropped
(Prokka's default). Prodigal's own ribosome-binding-site call
(motif and spacer) is kept on each gene as `rbs_motif` / `rbs_spacer` (read by the
Shine_Dalgarno_sequence concept). A predicted CDS's product is `unknown (pyrodigal)`: nothing here searches
for homologs, so it is not a "hypothetical protein" in the INSDC sense.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from dnalens.errors import InputError
from dnalens.genome.assemble import RawRow, assemble
from dnalens.genome.model import Annotation
from dnalens.genome.trna_introns import intron_trna_calls

log = logging.getLogger(__name__)
SINGLE_GENOME_MIN_BP = 100_000
# no homology search is run: "hypothetical protein" would imply one (a protein search that found nothing)
CDS_PRODUCT = "unknown (pyrodigal)"
TMRNA_PRODUCT = "transfer-messenger RNA"
RRNA_EVALUE = 1e-6  # barrnap's default
RRNA_REJECT = 0.25  # barrnap's default: hits shorter than 25 % of the model are dropped
RRNA_PARTIAL = 0.8  # barrnap's default: hits shorter than 80 % of the model are marked partial


def gene_finder(sequences: Mapping[str, str], genetic_code: int):
    """A trained (>= 100 kb) or metagenomic pyrodigal GeneFinder; returns (finder, mode)."""
    import pyrodigal

    if genetic_code not in pyrodigal.TRANSLATION_TABLES:
        raise InputError(
            f"genetic_code {genetic_code} is not a translation table Prodigal knows.",
            fix=f"use one of {sorted(pyrodigal.TRANSLATION_TABLES)}.",
        )
    total = sum(len(s) for s in sequences.values())
    if total >= SINGLE_GENOME_MIN_BP:
        finder = pyrodigal.GeneFinder(meta=False, mask=True)
        finder.train(*(s.encode() for s in sequences.values()), translation_table=genetic_code)
        return finder, "single"
    bins = [b for b in pyrodigal.METAGENOMIC_BINS if b.training_info.translation_table == genetic_code]
    if not bins:
        log.warning("Prodigal has no metagenomic model for translation table %s; using all models", genetic_code)
        return pyrodigal.GeneFinder(meta=True, mask=True), "meta"
    return pyrodigal.GeneFinder(meta=True, mask=True, metagenomic_bins=pyrodigal.MetagenomicBins(bins)), "meta"


def predict_genes(
    sequences: Mapping[str, str],
    genetic_code: int = 11,
    *,
    circular: Collection[str] = (),
    rna: bool = True,
    trna_introns: bool = True,
) -> Annotation:
    """gene -> mRNA -> exon + CDS for every pyrodigal gene, plus gene -> tRNA/tmRNA/rRNA -> exon for
    every RNA gene (when `rna`); contigs in the order given, genes sorted by start within a contig.

    `trna_introns` adds ARAGORN's intron-split tRNAs; `prepare` asks for them for organelles only: on five
    bacterial genomes without known tRNA introns (E. coli K-12, V. cholerae chr2, S. aureus, H. pylori,
    C. diphtheriae) the search adds only false calls (1-7 per genome)."""
    finder, mode = gene_finder(sequences, genetic_code)
    log.info("pyrodigal %s mode, translation table %s, %d contig(s)", mode, genetic_code, len(sequences))
    groups: list[tuple[str, int, list[RawRow]]] = []
    for seqid, seq in sequences.items():
        for i, gene in enumerate(finder.find_genes(seq.encode()), 1):
            groups.append((seqid, gene.begin - 1, _cds_rows(seqid, f"{seqid}_{i}", gene, genetic_code, mode)))
    if rna:
        trna, rrna = trna_groups(sequences, genetic_code, circular), rrna_groups(sequences)
        rna_groups = (
            trna + rrna + (intron_trna_groups(sequences, genetic_code, circular, trna, rrna) if trna_introns else [])
        )
        groups = drop_cds_on_rna(groups, rna_groups) + rna_groups
    order = {s: k for k, s in enumerate(sequences)}
    groups.sort(key=lambda g: (order[g[0]], g[1]))
    rows = [r for _, _, group in groups for r in group]
    lengths = {k: len(v) for k, v in sequences.items()}
    features = assemble(rows, contig_lengths=lengths, circular=circular, keep_order=True)
    return Annotation(features, genetic_code=genetic_code, circular_seqids=frozenset(set(circular) & set(lengths)))


def drop_cds_on_rna(cds_groups, rna_groups):
    """Drop predicted CDSs that overlap a predicted RNA gene on either strand, as Prokka does by default
    (Seemann 2014, Bioinformatics 30:2068): Prodigal calls ORFs inside RNA genes (20 of 122 on the
    Arabidopsis chloroplast, none of them a curated CDS)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for seqid, _, rows in rna_groups:  # exons, not gene spans: plastid trnK's intron holds the matK CDS
        spans.setdefault(seqid, []).extend((r.start, r.end) for r in rows if r.type == "exon")
    kept = [g for g in cds_groups if not any(g[2][0].start < e and s < g[2][0].end for s, e in spans.get(g[0], []))]
    if len(kept) < len(cds_groups):
        log.info("dropped %d predicted CDS(s) overlapping RNA genes", len(cds_groups) - len(kept))
    return kept


def _cds_rows(seqid: str, name: str, gene, genetic_code: int, mode: str) -> list[RawRow]:
    strand = "+" if gene.strand == 1 else "-"
    start, end = gene.begin - 1, gene.end
    five_prime_partial = gene.partial_begin if strand == "+" else gene.partial_end
    phase = (end - start) % 3 if five_prime_partial else 0
    attrs = [
        ("Name", name),
        ("product", CDS_PRODUCT),
        ("partial", f"{int(gene.partial_begin)}{int(gene.partial_end)}"),
        ("start_type", gene.start_type),
        ("rbs_motif", str(gene.rbs_motif)),
        ("rbs_spacer", str(gene.rbs_spacer)),
        ("score", f"{gene.score:.1f}"),
        ("prediction", f"pyrodigal-{mode}"),
    ]
    cds_attrs = [
        ("Name", name),
        ("product", CDS_PRODUCT),
        ("rbs_motif", str(gene.rbs_motif)),
        ("rbs_spacer", str(gene.rbs_spacer)),
        ("transl_table", str(genetic_code)),
    ]
    return [
        RawRow(seqid, "gene", start, end, strand, f"gene-{name}", (), None, attrs, "pyrodigal"),
        RawRow(seqid, "CDS", start, end, strand, f"cds-{name}", (f"gene-{name}",), phase, cds_attrs, "pyrodigal"),
    ]


def rna_gene_rows(
    seqid: str,
    rtype: str,
    start: int,
    end: int,
    strand: str,
    name: str,
    attrs: list[tuple[str, str]],
    source: str,
    exons: list[tuple[int, int]] | None = None,
) -> list[RawRow]:
    """gene -> transcript -> exon rows of one RNA gene (one exon unless `exons` are given, in genome order);
    `end` may pass the origin of a circular contig."""
    gid, tid = f"gene-{name}", f"rna-{name}"
    parts = exons or [(start, end)]
    return [
        RawRow(seqid, "gene", start, end, strand, gid, (), None, [("Name", name)] + attrs, source),
        RawRow(seqid, rtype, start, end, strand, tid, (gid,), None, [("Name", name)] + attrs, source),
    ] + [
        RawRow(
            seqid, "exon", s, e, strand, f"exon-{name}" + (f"-{i}" if len(parts) > 1 else ""), (tid,), None, [], source
        )
        for i, (s, e) in enumerate(parts, 1)
    ]


def trna_product(amino_acid: str, anticodon: str) -> str:
    """INSDC-style tRNA product with the anticodon, e.g. `tRNA-His(gtg)`."""
    return f"tRNA-{amino_acid}({anticodon.lower()})"


def trna_groups(sequences: Mapping[str, str], genetic_code: int, circular: Collection[str] = ()):
    """tRNA and tmRNA genes found by ARAGORN (pyaragorn), as (seqid, start, rows) groups."""
    import pyaragorn

    code = genetic_code if genetic_code in pyaragorn.TRANSLATION_TABLES else 11
    out = []
    for seqid, seq in sequences.items():
        finder = pyaragorn.RNAFinder(code, trna=True, tmrna=True, linear=seqid not in set(circular))
        n = len(seq)
        for k, g in enumerate(finder.find_rna(seq.encode()), 1):
            start, end = g.begin - 1, g.end
            if end <= start:  # ARAGORN reports an origin-spanning gene with end < begin
                end += n
            strand = "+" if g.strand == 1 else "-"
            if g.type == "tmRNA":
                rtype, attrs = "tmRNA", [("product", TMRNA_PRODUCT), ("gene", "ssrA")]
            else:
                rtype, attrs = (
                    "tRNA",
                    [("product", trna_product(g.amino_acid, g.anticodon)), ("anticodon", g.anticodon.lower())],
                )
            attrs.append(("prediction", f"pyaragorn-{pyaragorn.ARAGORN_VERSION}"))
            out.append(
                (
                    seqid,
                    start,
                    rna_gene_rows(seqid, rtype, start, end, strand, f"{seqid}_{rtype}{k}", attrs, "pyaragorn"),
                )
            )
    log.info("pyaragorn: %d tRNA/tmRNA gene(s)", len(out))
    return out


def intron_trna_groups(sequences: Mapping[str, str], genetic_code: int, circular: Collection[str], trna, rrna):
    """Intron-split tRNA genes from `aragorn -i` that pyaragorn's groups `trna` and the rRNA groups `rrna` miss."""

    def spans(groups, with_strand):
        out: dict[str, list] = {}
        for seqid, _, rows in groups:
            out.setdefault(seqid, []).append((rows[0].start, rows[0].end) + ((rows[0].strand,) if with_strand else ()))
        return out

    calls, version = intron_trna_calls(sequences, genetic_code, circular, spans(trna, True), spans(rrna, False))
    out = []
    for seqid, contig_calls in calls.items():
        for k, c in enumerate(contig_calls, 1):
            attrs = [
                ("product", trna_product(c["amino_acid"], c["anticodon"])),
                ("anticodon", c["anticodon"]),
                ("prediction", f"aragorn-{version}-introns"),
            ]
            out.append(
                (
                    seqid,
                    c["start"],
                    rna_gene_rows(
                        seqid,
                        "tRNA",
                        c["start"],
                        c["end"],
                        c["strand"],
                        f"{seqid}_tRNAi{k}",
                        attrs,
                        "aragorn",
                        c["exons"],
                    ),
                )
            )
    return out


def rrna_groups(sequences: Mapping[str, str], kingdom: str = "bac"):
    """rRNA genes found by barrnap's profile HMMs (pybarrnap + pyhmmer nhmmer), as (seqid, start, rows)."""
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord
    from pybarrnap import Barrnap

    records = [SeqRecord(Seq(s), id=k, name=k, description="") for k, s in sequences.items() if s]
    if not records:
        return []
    result = Barrnap(
        records, kingdom=kingdom, evalue=RRNA_EVALUE, reject=RRNA_REJECT, lencutoff=RRNA_PARTIAL, quiet=True
    ).run()
    out = []
    for k, rec in enumerate(result.mdl_records, 1):
        start, end = rec.start - 1, rec.end
        product = rec.product + (" (partial)" if rec.is_partial(RRNA_PARTIAL) else "")
        attrs = [
            ("product", product),
            ("gene", rec.query_name),
            ("Dbxref", rec.rfam_acc_dbxref),
            ("evalue", f"{rec.evalue:.2g}"),
            ("prediction", f"pybarrnap-{kingdom}"),
        ]
        seqid = rec.target_name
        out.append(
            (seqid, start, rna_gene_rows(seqid, "rRNA", start, end, rec.strand, f"{seqid}_rRNA{k}", attrs, "pybarrnap"))
        )
    log.info("pybarrnap (%s): %d rRNA gene(s)", kingdom, len(out))
    return out
