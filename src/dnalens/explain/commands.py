"""`dnalens explain`: per-nucleotide latents and log-likelihood of your own sequences or a genome region."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnalens.settings import from_mapping, parse_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain",
        help="what the model and its dictionary see in your sequences (FASTA) or a genome region: "
        "explain.tsv, a bigWig per latent, explain.html",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--fasta", type=Path, help="sequences to explain (FASTA, plain or gzip; A, C, G, T, N)")
    what.add_argument("--region", help="contig:start-end (1-based, closed) of the genome in --genome-dir")
    p.add_argument(
        "--genome-dir",
        type=Path,
        help="a prepared genome, results/<genome>: its dictionary, layer, trims, window length, probe labels "
        "and (for --region) genome.fa and annotation.gff3",
    )
    p.add_argument("--dictionary", type=Path, help="an SAE (SAELens directory or .pt) instead of the genome's")
    p.add_argument("--probe", type=Path, help="probe table for labels (probe/ or probe/features.parquet)")
    p.add_argument(
        "--model", help="the config's model: block as JSON, or a model directory (default: the bundled tiny model)"
    )
    p.add_argument("--top", type=int, help="other latents shown besides the annotated ones (explain.top)")
    p.add_argument("--settings", help="the config's explain: section as JSON (defaults: the schema)")
    p.add_argument("--out", type=Path, required=True, help="output directory (written as a whole)")
    p.set_defaults(func=_explain)


def _explain(args: argparse.Namespace) -> int:
    from dnalens.explain.settings import ExplainSettings
    from dnalens.explain.stage import ExplainRequest, run_explain
    from dnalens.models.base import model_arg

    settings = from_mapping(ExplainSettings, parse_settings(args.settings), where="explain")
    request = ExplainRequest(
        out=args.out,
        fasta=args.fasta,
        region=args.region,
        genome_dir=args.genome_dir,
        dictionary=args.dictionary,
        probe=args.probe,
        model=model_arg(args.model) if args.model else None,
        top=args.top,
    )
    run_explain(request, settings)
    return 0
