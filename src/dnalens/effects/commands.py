"""`dnalens effects`: argument parsing and one call into effects.stage (no logic here)."""

from __future__ import annotations

import argparse
import json


def register(sub) -> None:
    s = sub.add_parser(
        "effects",
        help="ablate each annotated latent (h - a*d where it fires) on held-out windows -> effects.tsv "
        "(+ .parquet, windows.bed): delta bits vs matched controls and a random direction",
    )
    s.add_argument("--buffer", required=True, help="the genome's ActivationBuffer directory (names its SAE and layer)")
    s.add_argument("--probe", required=True, help="the genome's probe directory (features.parquet, split.json)")
    s.add_argument("--fasta", required=True, help="genome FASTA (genome.fa): the windows' sequences")
    s.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    s.add_argument("--sae", help="the dictionary (default: the one recorded in buffer.json)")
    s.add_argument("--settings", help="the config's `effects:` block as JSON (or a .json/.yaml path)")
    s.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    s.add_argument(
        "--out", required=True, help="results/<genome>/effects/effects.tsv (.parquet, windows.bed beside it)"
    )
    s.set_defaults(func=_effects)


def _effects(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dnalens.atomic import write_text
    from dnalens.effects.settings import EffectsSettings
    from dnalens.effects.stage import run_effects, summary, windows_bed_lines
    from dnalens.formats.effects import EFFECTS_WINDOWS, write_effects
    from dnalens.models.base import model_arg
    from dnalens.settings import from_mapping, parse_settings

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    settings = from_mapping(EffectsSettings, parse_settings(args.settings), where="effects settings")
    table, measured = run_effects(
        args.buffer, args.probe, args.fasta, model_arg(args.model), settings, sae_path=args.sae
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.parent / EFFECTS_WINDOWS, windows_bed_lines(measured))
    write_effects(table, out)
    print(json.dumps(summary(table, measured, settings)))
    return 0
