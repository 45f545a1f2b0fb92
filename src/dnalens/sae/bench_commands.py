"""`dnalens sae-bench`: thin CLI over dnalens.sae.bench_stage (the SAE sweep's gather, rule sae_bench)."""

from __future__ import annotations

import argparse
import json

from dnalens.settings import from_mapping, parse_settings, safe_name_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    b = subparsers.add_parser(
        "sae-bench",
        help="the SAE sweep's gather: sae_bench.tsv (+ parquet, per genome, per concept, k-sparse probing), the "
        "declared rule's choice (choice.json) and report.html",
    )
    b.add_argument("--bench", required=True, help="the config's `sae_bench:` block as JSON (or a .json/.yaml path)")
    b.add_argument("--sae", required=True, help="the config's `sae:` block as JSON: every variant's starting point")
    b.add_argument(
        "--layer", required=True, help="the layer of a variant that sets none (sae.layer, else extract's first)"
    )
    b.add_argument("--genomes", required=True, nargs="+", type=safe_name_arg("--genomes"), help="genome names")
    b.add_argument("--root", default="results/sae_bench", help="the sweep's results folder (its variants' outputs)")
    b.add_argument("--out", default="results/sae_bench", help="folder for the tables and report.html")
    b.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from dnalens.sae.bench_settings import SaeBenchSettings, expand_variants
    from dnalens.sae.bench_stage import run_sae_bench

    bench = from_mapping(SaeBenchSettings, parse_settings(args.bench), where="sae_bench")
    variants = expand_variants(bench, parse_settings(args.sae), args.layer)
    choice = run_sae_bench(variants, args.genomes, bench, args.root, args.out)
    print(json.dumps({"variants": len(variants), "genomes": len(args.genomes), "chosen": choice["chosen"]}))
    return 0
