"""`dnalens extract`, `extract-merge` and `sample-windows`: thin CLI over dnalens.extract."""

from __future__ import annotations

import argparse
import json

from dnalens.settings import from_mapping, parse_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("extract", help="capture model activations of every window into fp16 shards")
    p.add_argument("--fasta", required=True, help="indexed genome FASTA (results/<genome>/genome.fa)")
    p.add_argument("--windows", required=True, help="windows.bed from `dnalens windows`")
    p.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    p.add_argument("--settings", help="the config's `extract:` block as JSON")
    p.add_argument("--out", required=True, help="output root; one sub-directory per layer")
    p.add_argument("--part", type=int, help="scatter: compute only block PART (0-based) of --parts shard blocks")
    p.add_argument("--parts", type=int, default=1, help="scatter: number of shard blocks")
    p.add_argument("--done", help="with --part: JSON marker to write when the part is complete")
    p.set_defaults(func=_extract)

    g = subparsers.add_parser("extract-merge", help="gather extract parts: check every shard, write the manifests")
    g.add_argument("--fasta", required=True, help="indexed genome FASTA (results/<genome>/genome.fa)")
    g.add_argument("--windows", required=True, help="windows.bed the parts were computed from")
    g.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    g.add_argument("--settings", help="the config's `extract:` block as JSON")
    g.add_argument("--out", required=True, help="the parts' output root (one sub-directory per layer)")
    g.add_argument("--publish", help="then move the finished layer directories into this directory (replaced whole)")
    g.set_defaults(func=_extract_merge)

    s = subparsers.add_parser("sample-windows", help="the seeded SAE-training sample of windows.bed (dense on disk)")
    s.add_argument("--windows", required=True, help="windows.bed from `dnalens windows`")
    s.add_argument("--model", required=True, help="the config's `model:` block as JSON (its trim)")
    s.add_argument("--settings", help="the config's `extract:` block as JSON (sample_coverage)")
    s.add_argument("--sae-settings", help="the config's `sae:` block as JSON (tokens, holdout_fraction, seed)")
    s.add_argument("--out", required=True, help="BED file to write")
    s.set_defaults(func=_sample)


def _extract(args: argparse.Namespace) -> int:
    from dnalens.extract.stage import ExtractSettings, run_extract
    from dnalens.models.base import model_arg

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = model_arg(args.model)
    dirs = run_extract(
        args.fasta,
        args.windows,
        model,
        settings,
        args.out,
        part=args.part,
        parts=args.parts,
        finalize=args.part is None,
    )
    summary = json.dumps({"part": args.part, "parts": args.parts, "layers": {l: str(d) for l, d in dirs.items()}})
    if args.done:
        from dnalens.atomic import write_text

        write_text(args.done, summary + "\n")
    print(summary)
    return 0


def _extract_merge(args: argparse.Namespace) -> int:
    from dnalens.extract.stage import ExtractSettings, publish_layers, run_extract
    from dnalens.models.base import model_arg

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = model_arg(args.model)
    dirs = run_extract(args.fasta, args.windows, model, settings, args.out, compute=False)
    if args.publish:
        dirs = publish_layers(dirs, args.publish)
    print(json.dumps({"layers": {l: str(d) for l, d in dirs.items()}}))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from dnalens.extract.sample import write_sample_bed
    from dnalens.extract.stage import ExtractSettings, trims
    from dnalens.models.base import model_arg, parse_spec
    from dnalens.sae.settings import SaeSettings

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    sae = from_mapping(SaeSettings, parse_settings(args.sae_settings), where="sae settings")
    model = model_arg(args.model)
    summary = write_sample_bed(
        args.windows,
        args.out,
        trim=trims(parse_spec(model)),
        tokens=sae.tokens,
        holdout_fraction=sae.holdout_fraction,
        strand_shared=sae.strand_shared,
        coverage=settings.sample_coverage,
        seed=sae.seed,
    )
    print(json.dumps(summary))
    return 0
