"""`dnalens variants`: score a genome's VCF (consequence, Δ log-likelihood on both strands, latent changes)
-> results/<genome>/variants/ (variants.tsv + .parquet, variants.vcf.gz + .tbi, summary.json)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "variants",
        help="a VCF -> consequence, Δ log-likelihood (both strands) and SAE latent changes per variant x alt",
    )
    p.add_argument("--vcf", required=True, help="the genome's VCF, VCF.gz or BCF (genomes.<g>.variants)")
    p.add_argument("--fasta", required=True, help="results/<genome>/genome.fa")
    p.add_argument("--annotation", required=True, help="results/<genome>/annotation.gff3")
    p.add_argument("--genome-json", required=True, help="results/<genome>/genome.json (genetic code, topology)")
    p.add_argument("--buffer", required=True, help="results/<genome>/buffer (its buffer.json names the layer and SAE)")
    p.add_argument("--probe", required=True, help="results/<genome>/probe (latent labels)")
    p.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    p.add_argument("--settings", help="the config's `variants:` block as JSON (or a .json/.yaml path)")
    p.add_argument("--out", required=True, help="results/<genome>/variants (written as a whole)")
    p.set_defaults(func=_variants)


def _variants(args: argparse.Namespace) -> int:
    from dnalens.models.base import model_arg
    from dnalens.settings import from_mapping, parse_settings
    from dnalens.variants.settings import VariantSettings
    from dnalens.variants.stage import run_variants

    settings = from_mapping(VariantSettings, parse_settings(args.settings), where="variants settings")
    summary = run_variants(
        args.vcf,
        args.fasta,
        args.annotation,
        args.genome_json,
        args.buffer,
        args.probe,
        model_arg(args.model),
        settings,
        args.out,
    )
    keys = ("n_records", "n_alleles_scored", "skipped", "n_windows", "sequences_run", "seconds")
    print(json.dumps({k: summary[k] for k in keys}))
    return 0
