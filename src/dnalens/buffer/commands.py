"""`dnalens buffer` and `dnalens buffer-info`: thin CLI over dnalens.buffer."""

from __future__ import annotations

import argparse
import json

from dnalens.settings import from_mapping, parse_settings, safe_name_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    b = subparsers.add_parser("buffer", help="codes + labels (+ dense activations) -> ActivationBuffer directory")
    b.add_argument("--codes", required=True, help="codes directory written by `dnalens encode`")
    b.add_argument("--labels", required=True, help="label store directory written by `dnalens labels`")
    b.add_argument("--activations", help="activation shard directory (copied as the dense twin if buffer.dense_twin)")
    b.add_argument("--genome", type=safe_name_arg("--genome"), help="genome name, recorded in buffer.json")
    b.add_argument("--settings", help="the config's `buffer:` block as JSON")
    b.add_argument("--out", required=True, help="buffer directory to write")
    b.set_defaults(func=_build)

    i = subparsers.add_parser("buffer-info", help="summarise an ActivationBuffer (sizes, bytes per token)")
    i.add_argument("path", help="buffer directory")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    i.set_defaults(func=_info)


def _build(args: argparse.Namespace) -> int:
    from dnalens.buffer.build import BufferSettings, run_buffer
    from dnalens.errors import InputError

    settings = from_mapping(BufferSettings, parse_settings(args.settings), where="buffer settings")
    dense = None
    if settings.dense_twin:
        if not args.activations:
            raise InputError("buffer.dense_twin is true but no --activations directory was given.")
        dense = args.activations
    info = run_buffer(args.codes, args.labels, args.out, dense_dir=dense, genome=args.genome)
    print(json.dumps({k: info[k] for k in ("tokens", "windows", "features", "nnz", "bytes_per_token")}))
    return 0


def _info(args: argparse.Namespace) -> int:
    from dnalens.formats.buffer import ActivationBuffer

    info = ActivationBuffer.open(args.path).info()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    per = info["bytes_per_token"]
    lines = [
        f"buffer     {info['path']}",
        f"genome     {info.get('genome')}   layer {info.get('layer')}   sae {info.get('sae')}",
        f"tokens     {info['tokens']:,} in {info['windows']:,} windows (trim {info.get('trim_start')}/{info.get('trim_end')})",
        f"features   {info['features']:,}   stored values {info['nnz']:,}   mean L0 {info['mean_l0']:.2f}",
        f"labels     {info['labels']} concepts, {info['instance_columns']} with instance ids",
        f"dense twin {'width ' + str(info['dense_width']) if info['dense_width'] else 'no'}",
        "bytes/token " + "  ".join(f"{k} {v:.1f}" for k, v in per.items()),
    ]
    print("\n".join(lines))
    return 0
