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
    p.add_argument(
        "--publish",
        help="with --finalize-only: then move the finished layer directories into this directory (replaced as a whole)",
    )
    p.set_defaults(func=_extract)

    f = subparsers.add_parser(
        "extract-encode", help="fused: model + SAE on the model's device -> sparse code shards only"
    )
    f.add_argument("--fasta", required=True, help="indexed genome FASTA (results/<genome>/genome.fa)")
    f.add_argument("--windows", required=True, help="windows.bed from `dnalens windows` (every window is encoded)")
    f.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    f.add_argument("--sae", required=True, help="SAELens directory or Goodfire-style .pt")
    f.add_argument("--layer", required=True, help="module path the SAE reads (sae.layer)")
    f.add_argument("--settings", help="the config's `extract:` block as JSON")
    f.add_argument("--sae-settings", help="the config's `sae:` block as JSON (k for a .pt without k in its name)")
    f.add_argument("--out", required=True, help="codes directory to write (the format of `dnalens encode`)")
    f.add_argument(
        "--activations",
        help="the dense sample's layer directory: shards holding the very same windows "
        "are encoded from it instead of recomputed",
    )
    f.add_argument("--part", type=int, help="scatter: encode only block PART (0-based) of --parts shard blocks")
    f.add_argument("--parts", type=int, default=1, help="scatter: number of shard blocks")
    f.set_defaults(func=_extract_encode)

    s = subparsers.add_parser("sample-windows", help="the seeded SAE-training sample of windows.bed (dense on disk)")
    s.add_argument("--windows", required=True, help="windows.bed from `dnalens windows`")
    s.add_argument("--model", required=True, help="the config's `model:` block as JSON (its trim)")
    s.add_argument("--settings", help="the config's `extract:` block as JSON (sample_coverage)")
    s.add_argument("--sae-settings", help="the config's `sae:` block as JSON (tokens, holdout_fraction, seed)")
    s.add_argument("--out", required=True, help="BED file to write")
    s.set_defaults(func=_sample)


def _extract(args: argparse.Namespace) -> int:
    from dnalens.extract.stage import ExtractSettings, run_extract

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    model = json.loads(args.model) if args.model.strip().startswith("{") else args.model
    if args.finalize_only:
        dirs = run_extract(args.fasta, args.windows, model, settings, args.out, compute=False)
        if args.publish:
            from dnalens.extract.stage import publish_layers

            dirs = publish_layers(dirs, args.publish)
    else:
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


def _extract_encode(args: argparse.Namespace) -> int:
    from dnalens.extract.fused import run_fused
    from dnalens.extract.stage import ExtractSettings
    from dnalens.sae.settings import SaeSettings

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    sae_settings = from_mapping(SaeSettings, parse_settings(args.sae_settings), where="sae settings")
    model = json.loads(args.model) if args.model.strip().startswith("{") else args.model
    summary = run_fused(
        args.fasta,
        args.windows,
        model,
        args.sae,
        args.layer,
        settings,
        args.out,
        k=sae_settings.k,
        part=args.part,
        parts=args.parts,
        activations=args.activations,
    )
    print(json.dumps({k: summary[k] for k in ("total_tokens", "total_nnz", "mean_l0", "n_features")}))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from dnalens.extract.sample import write_sample_bed
    from dnalens.extract.stage import ExtractSettings, trims
    from dnalens.models.base import parse_spec
    from dnalens.sae.settings import SaeSettings

    settings = from_mapping(ExtractSettings, parse_settings(args.settings), where="extract settings")
    sae = from_mapping(SaeSettings, parse_settings(args.sae_settings), where="sae settings")
    model = json.loads(args.model) if args.model.strip().startswith("{") else args.model
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
