"""Gene prediction for unannotated prokaryotic genomes (`annotation: predict`) with pyrodigal.

Prodigal needs about 100 kb to train its single-genome model; shorter genomes (plasmids, phages,
organelles) use its pre-trained metagenomic models instead, restricted to the configured translation
table when Prodigal has models for it (tables 4 and 11).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from dnalens.errors import InputError
from dnalens.genome.assemble import RawRow, assemble
from dnalens.genome.model import Annotation

log = logging.getLogger(__name__)
SINGLE_GENOME_MIN_BP = 100_000


def gene_finder(sequences: Mapping[str, str], genetic_code: int):
    """A trained (>= 100 kb) or metagenomic pyrodigal GeneFinder; returns (finder, mode)."""
    import pyrodigal

    if genetic_code not in pyrodigal.TRANSLATION_TABLES:
        raise InputError(f"genetic_code {genetic_code} is not a translation table Prodigal knows.",
                         fix=f"use one of {sorted(pyrodigal.TRANSLATION_TABLES)}.")
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
    sequences: Mapping[str, str], genetic_code: int = 11, *, circular: Collection[str] = ()
) -> Annotation:
    """gene -> mRNA -> exon + CDS for every gene pyrodigal finds, contigs in the order given."""
    finder, mode = gene_finder(sequences, genetic_code)
    log.info("pyrodigal %s mode, translation table %s, %d contig(s)", mode, genetic_code, len(sequences))
    rows: list[RawRow] = []
    for seqid, seq in sequences.items():
        for i, gene in enumerate(finder.find_genes(seq.encode()), 1):
            name = f"{seqid}_{i}"
            strand = "+" if gene.strand == 1 else "-"
            start, end = gene.begin - 1, gene.end
            five_prime_partial = gene.partial_begin if strand == "+" else gene.partial_end
            phase = (end - start) % 3 if five_prime_partial else 0
            attrs = [("Name", name), ("partial", f"{int(gene.partial_begin)}{int(gene.partial_end)}"),
                     ("start_type", gene.start_type), ("score", f"{gene.score:.1f}"), ("prediction", f"pyrodigal-{mode}")]
            rows.append(RawRow(seqid, "gene", start, end, strand, f"gene-{name}", (), None, attrs, "pyrodigal"))
            rows.append(RawRow(seqid, "CDS", start, end, strand, f"cds-{name}", (f"gene-{name}",), phase,
                               [("Name", name), ("transl_table", str(genetic_code))], "pyrodigal"))
    lengths = {k: len(v) for k, v in sequences.items()}
    features = assemble(rows, contig_lengths=lengths, circular=circular, keep_order=True)
    return Annotation(features, genetic_code=genetic_code, circular_seqids=frozenset(set(circular) & set(lengths)))
