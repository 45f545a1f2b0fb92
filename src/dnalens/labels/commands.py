"""`dnalens labels` (build a label store, optionally one shard) and `dnalens labels-merge` (join shards)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("labels", help="FASTA + annotation + windows -> per-nucleotide concept labels")
    p.add_argument("--fasta", required=True, help="genome FASTA (results/<g>/genome.fa)")
    p.add_argument("--annotation", default=None, help="GFF3 / GTF / GenBank (results/<g>/annotation.gff3)")
    p.add_argument("--annotation-format", default="auto", choices=["auto", "gff3", "gtf", "genbank"])
    p.add_argument("--windows", default=None, help="windows.bed (default: every contig whole, both strands)")
    p.add_argument("--genome-info", default=None, help="genome.json from `dnalens prepare` (genetic code, topology)")
    p.add_argument("--genetic-code", type=int, default=None, help="NCBI table id; overrides genome.json")
    p.add_argument("--circular", action="append", default=[], metavar="CONTIG", help="a circular contig (repeatable)")
    p.add_argument("--settings", default=None, help="the `concepts:` config section as JSON or a .json/.yaml file")
    p.add_argument("--out", required=True, help="label store directory to write")
    p.add_argument("--export-bed", default=None, metavar="BEDDIR", help="also write BEDDIR/<concept>.bed (BED6)")
    p.add_argument("--summary", default=None, help="also copy concept_summary.tsv here")
    p.add_argument("--shard", default=None, metavar="I/N", help="only windows of block I of N (0-based)")
    p.set_defaults(func=_labels)

    m = subparsers.add_parser("labels-merge", help="concatenate shard label stores in the order given")
    m.add_argument("stores", nargs="+", help="shard store directories")
    m.add_argument("--out", required=True, help="merged label store directory")
    m.add_argument("--export-bed", default=None, metavar="BEDDIR", help="also write BEDDIR/<concept>.bed (BED6)")
    m.add_argument("--summary", default=None, help="also copy concept_summary.tsv here")
    m.set_defaults(func=_merge)


def _labels(args: argparse.Namespace) -> int:
    from dnalens.labels.pipeline import parse_shard, run_labels
    from dnalens.settings import parse_settings

    run_labels(
        args.fasta,
        args.annotation,
        args.out,
        windows=args.windows,
        export_bed_dir=args.export_bed,
        summary=args.summary,
        settings=parse_settings(args.settings),
        shard=parse_shard(args.shard),
        annotation_format=args.annotation_format,
        genome_info=args.genome_info,
        genetic_code=args.genetic_code,
        circular=tuple(args.circular),
    )
    return 0


def _merge(args: argparse.Namespace) -> int:
    from dnalens.labels.pipeline import merge_label_shards

    merge_label_shards(args.stores, args.out, export_bed_dir=args.export_bed, summary=args.summary)
    return 0
