"""`dnalens fetch | prepare | windows`: the genome-input stages (thin wrappers; logic lives in the modules)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    fetch = subparsers.add_parser("fetch", help="download one http(s) input file (atomically)")
    fetch.add_argument("--url", required=True, help="http:// or https:// URL")
    fetch.add_argument("--out", required=True, help="where to write the file")
    fetch.set_defaults(func=_fetch)

    prepare = subparsers.add_parser(
        "prepare", help="genome config entry -> genome.fa(.fai), annotation.gff3, chrom.sizes, genome.json"
    )
    prepare.add_argument("--name", required=True, help="genome name (the key under `genomes:`)")
    prepare.add_argument(
        "--genome-settings", required=True, help="the genome's config entry as inline JSON, or a .json/.yaml file"
    )
    prepare.add_argument("--outdir", required=True, help="results/<genome>")
    prepare.add_argument(
        "--downloads", default=None, help="where `dnalens fetch` put URL inputs (default: OUTDIR/downloads)"
    )
    prepare.set_defaults(func=_prepare)

    windows = subparsers.add_parser("windows", help="prepared genome -> windows.bed (BED6, both strands)")
    windows.add_argument("--fasta", required=True, help="prepared genome.fa (indexed)")
    windows.add_argument("--genome-info", required=True, help="genome.json from `dnalens prepare`")
    windows.add_argument("--annotation", default=None, help="annotation.gff3 (needed for mode: genes)")
    windows.add_argument("--settings", default=None, help="the `windows:` config section as JSON or a file")
    windows.add_argument("--out", required=True, help="windows.bed to write")
    windows.set_defaults(func=_windows)


def _fetch(args: argparse.Namespace) -> int:
    from dnalens.genome.sources import fetch_url

    path = fetch_url(args.url, args.out)
    log.info("downloaded %s -> %s", args.url, path)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from dnalens.genome.prepare import run_prepare
    from dnalens.settings import parse_settings

    run_prepare(args.name, parse_settings(args.genome_settings), args.outdir, args.downloads)
    return 0


def _windows(args: argparse.Namespace) -> int:
    from dnalens.formats.window_table import write_windows_bed
    from dnalens.genome.annotation import read_normalized_gff3
    from dnalens.genome.fasta import open_fasta
    from dnalens.genome.prepare import read_genome_info
    from dnalens.genome.windows import WindowSettings, run_windows
    from dnalens.settings import from_mapping, parse_settings

    settings = from_mapping(WindowSettings, parse_settings(args.settings), where="windows")
    info = read_genome_info(args.genome_info)
    annotation = read_normalized_gff3(args.annotation) if args.annotation and settings.mode == "genes" else None
    fasta = open_fasta(args.fasta)
    try:
        windows = run_windows(fasta, info.lengths, info.circular, settings, annotation)
    finally:
        fasta.close()
    write_windows_bed(windows, args.out)
    return 0
