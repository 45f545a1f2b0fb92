"""`dnalens sample`, `sample-merge` and `sample-windows`: thin CLI over dnalens.sample.

`extract` and `extract-merge`, the names before the sample stage had one name, still run for one release:
they print one deprecation line to stderr, then do exactly what the new names do (users' scripts call them).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from dnalens.settings import from_mapping, parse_settings

# old subcommand -> new one; remove after the next release (CHANGELOG)
DEPRECATED_NAMES = {"extract": "sample", "extract-merge": "sample-merge"}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("sample", help="capture the sample's model activations into fp16 shards per layer")
    _sample_arguments(p)
    p.set_defaults(func=_sample)

    g = subparsers.add_parser("sample-merge", help="gather sample parts: check every shard, write the manifests")
    _merge_arguments(g)
    g.set_defaults(func=_sample_merge)

    for old, new in DEPRECATED_NAMES.items():  # no help=: left out of the subcommand list
        d = subparsers.add_parser(old, description=f"Deprecated name of `dnalens {new}`.")
        (_sample_arguments if new == "sample" else _merge_arguments)(d)
        d.set_defaults(func=_deprecated(old, new, _sample if new == "sample" else _sample_merge))

    s = subparsers.add_parser("sample-windows", help="the seeded SAE-training sample of windows.bed (dense on disk)")
    s.add_argument("--windows", required=True, help="windows.bed from `dnalens windows`")
    s.add_argument("--model", required=True, help="the config's `model:` block as JSON (its trim)")
    s.add_argument("--settings", help="the config's `extract:` block as JSON (sample_coverage)")
    s.add_argument("--sae-settings", help="the config's `sae:` block as JSON (tokens, holdout_fraction, seed)")
    s.add_argument("--out", required=True, help="BED file to write")
    s.set_defaults(func=_sample_windows)


def _sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fasta", required=True, help="indexed genome FASTA (results/<genome>/genome.fa)")
    p.add_argument("--windows", required=True, help="the sample's windows (sample/windows.bed from `sample-windows`)")
    p.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    p.add_argument("--settings", help="the config's `extract:` block as JSON")
    p.add_argument("--out", required=True, help="output root; one sub-directory per layer")
    p.add_argument("--part", type=int, help="scatter: compute only block PART (0-based) of --parts shard blocks")
    p.add_argument("--parts", type=int, default=1, help="scatter: number of shard blocks")
    p.add_argument("--done", help="with --part: JSON marker to write when the part is complete")


def _merge_arguments(g: argparse.ArgumentParser) -> None:
    g.add_argument("--fasta", required=True, help="indexed genome FASTA (results/<genome>/genome.fa)")
    g.add_argument("--windows", required=True, help="the windows.bed the parts were computed from")
    g.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    g.add_argument("--settings", help="the config's `extract:` block as JSON")
    g.add_argument("--out", required=True, help="the parts' output root (one sub-directory per layer)")
    g.add_argument("--publish", help="then move the finished layer directories into this directory (replaced whole)")


def _deprecated(old: str, new: str, func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(
            f"dnalens {old}: deprecated name, use `dnalens {new}` (same arguments); the old name goes in the next release",
            file=sys.stderr,
        )
        return func(args)

    return run


def _sample(args: argparse.Namespace) -> int:
    from dnalens.models.base import model_arg
    from dnalens.models.window_pass import ExtractSettings
    from dnalens.sample.stage import run_sample

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = model_arg(args.model)
    dirs = run_sample(
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


def _sample_merge(args: argparse.Namespace) -> int:
    from dnalens.models.base import model_arg
    from dnalens.models.window_pass import ExtractSettings
    from dnalens.sample.stage import publish_layers, run_sample

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = model_arg(args.model)
    dirs = run_sample(args.fasta, args.windows, model, settings, args.out, compute=False)
    if args.publish:
        dirs = publish_layers(dirs, args.publish)
    print(json.dumps({"layers": {l: str(d) for l, d in dirs.items()}}))
    return 0


def _sample_windows(args: argparse.Namespace) -> int:
    from dnalens.models.base import model_arg, parse_spec, resolve_strand_shared
    from dnalens.models.window_pass import ExtractSettings, trims
    from dnalens.sample.selection import sample_size, write_sample_bed

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    spec = parse_spec(model_arg(args.model))
    size = sample_size(parse_settings(args.sae_settings))
    size["strand_shared"] = resolve_strand_shared(size["strand_shared"], spec.rc_pool)
    summary = write_sample_bed(args.windows, args.out, trim=trims(spec), coverage=settings.sample_coverage, **size)
    print(json.dumps(summary))
    return 0
