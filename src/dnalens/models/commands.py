"""`dnalens train-model` and `dnalens eval-model`: thin CLI over dnalens.models.training / evaluation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnalens.settings import from_mapping, parse_settings, schema_defaults


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train-model", help="train (or resume) the tiny Evo 2-style model on genomes")
    p.add_argument("--settings", help="the config's `training:` block as JSON (or a .json/.yaml path)")
    p.add_argument("--genome", action="append", default=[], help="training genome (FASTA/GenBank, .gz ok); repeatable")
    p.add_argument("--steps", type=int, help="override training.steps")
    p.add_argument("--out", required=True, help="output directory (model.safetensors + config.json)")
    p.add_argument(
        "--resume-from",
        help="continue another model directory's run (its step, data order, lr schedule "
        "and settings; --settings/--steps override): from its .resume/ when present, else from its weights "
        "with fresh AdamW moments. A rerun with the same --out continues from --out itself.",
    )
    p.add_argument(
        "--until-step", type=int, help="stop this run at this step (checkpointed; the schedule is unchanged)"
    )
    p.set_defaults(func=_train)

    e = subparsers.add_parser("eval-model", help="held-out bits/nt vs a 5th-order Markov model, and concept probes")
    e.add_argument("--model", required=True, help="model directory or JSON model spec")
    e.add_argument("--train-genome", action="append", default=[], help="genome the Markov baseline is fitted on")
    e.add_argument("--settings", help="evaluation settings as JSON")
    e.add_argument("--out", required=True, help="evaluation JSON to write")
    e.add_argument("--card", help="also write MODEL_CARD.md here (needs training.json next to the model)")
    e.add_argument(
        "--card-layer",
        default=schema_defaults("extract")["layers"][0],
        help="layer quoted in the card's headline rows (default: the first of extract.layers' default)",
    )
    e.add_argument("--card-notes", default="", help="free text appended to the card (e.g. targets missed and why)")
    e.set_defaults(func=_evaluate)


def _train(args: argparse.Namespace) -> int:
    from dnalens.models.checkpoint import saved_settings
    from dnalens.models.training import TrainSettings, train

    data = saved_settings(args.resume_from) if args.resume_from else {}
    data.update(parse_settings(args.settings))
    if args.genome:
        data["genomes"] = list(args.genome)
    if args.steps is not None:
        data["steps"] = args.steps
    settings = from_mapping(TrainSettings, data, where="training settings")
    summary = train(settings, Path(args.out), resume_from=args.resume_from, until_step=args.until_step)
    print(json.dumps({k: summary[k] for k in ("steps_done", "steps", "tokens_seen", "elapsed_s")}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from dnalens.models.evaluation import run_cli

    return run_cli(args)
