"""`dnalens extract`: thin CLI over dnalens.extract.stage.run_extract."""

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
    p.add_argument("--finalize-only", action="store_true", help="gather: check every shard exists, write manifests")
    p.set_defaults(func=_extract)


def _extract(args: argparse.Namespace) -> int:
    from dnalens.extract.stage import ExtractSettings, run_extract

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = json.loads(args.model) if args.model.strip().startswith("{") else args.model
    if args.finalize_only:
        dirs = run_extract(args.fasta, args.windows, model, settings, args.out, compute=False)
    else:
        dirs = run_extract(args.fasta, args.windows, model, settings, args.out, part=args.part, parts=args.parts,
                           finalize=args.part is None)
    summary = json.dumps({"part": args.part, "parts": args.parts, "layers": {l: str(d) for l, d in dirs.items()}})
    if args.done:
        from dnalens.atomic import write_text

        write_text(args.done, summary + "\n")
    print(summary)
    return 0
