"""`dnalens steer`: steered generation from held-out prompts → results/<genome>/effects/steer.tsv (+ .parquet,
.fa, .json) and one figure per steered latent (--figures)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "steer",
        help="generate with a latent's decoder direction added (or clamped) at each strength, with controls, and read "
        "the sequences out as biology -> steer.tsv (+ .parquet, .fa, .json) and figures",
    )
    p.add_argument("--buffer", required=True, help="the genome's buffer directory (buffer.json names SAE and layer)")
    p.add_argument("--probe", required=True, help="the probe directory (features.parquet, split.json)")
    p.add_argument("--windows", required=True, help="windows.bed of the genome (prompts: held-out windows)")
    p.add_argument("--fasta", required=True, help="genome FASTA (genome.fa)")
    p.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    p.add_argument("--settings", help="the config's `steer:` block as JSON (or a .json/.yaml path)")
    p.add_argument("--sae", help="the SAE (default: the one buffer.json records)")
    p.add_argument("--out", required=True, help="results/<genome>/effects/steer.tsv (.parquet, .fa, .json beside it)")
    p.add_argument("--figures", help="directory for f<latent>.svg, one figure per steered latent")
    p.set_defaults(func=_steer)


def _steer(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from dnalens.formats.probe_dir import SPLIT
    from dnalens.formats.steer import write_steer
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, model_arg
    from dnalens.models.interventions import check_per_base
    from dnalens.sae.io import load_sae
    from dnalens.settings import from_mapping, parse_settings
    from dnalens.steer import figures, inputs
    from dnalens.steer.settings import SteerSettings, check_settings
    from dnalens.steer.stage import SteerInputs, run_steer, summary

    torch.set_grad_enabled(False)
    settings = from_mapping(SteerSettings, parse_settings(args.settings), where="steer")
    adapter = load_model(model_arg(args.model))
    check_per_base(adapter, "steering (dnalens steer)")  # a masked model: one error before any work
    buf = inputs.read_buffer_sae(Path(args.buffer) / "buffer.json")
    windows = read_windows_bed(args.windows)
    check_settings(
        settings,
        n_features=buf.n_features,
        trim_start=int(adapter.spec.trim),
        window_length=max((w.length for w in windows), default=0),
    )
    sae = load_sae(args.sae or buf.path)
    fasta = open_fasta(args.fasta)
    strand_sae = getattr(sae, "strand_sae", None)
    atoms = None if strand_sae is None else int(strand_sae.d_sae)
    latents = inputs.choose_latents(inputs.read_features(args.probe), settings, atoms)
    prompts = inputs.read_prompts(windows, fasta, Path(args.probe) / SPLIT, settings)
    log.info(
        "steering latents %s at %s (%s) from %d prompts",
        [l.latent for l in latents],
        settings.strengths,
        settings.mode,
        len(prompts),
    )
    stage_inputs = SteerInputs(
        adapter,
        sae,
        buf.layer,
        prompts,
        latents,
        inputs.genome_kmer4(fasta),
        trim_end=buf.trim_end,
        trim_start=buf.trim_start,
    )
    table, sequences = run_steer(stage_inputs, settings)
    if args.figures:
        figures.write_figures(table, args.figures)
    write_steer(table, sequences, summary(table, settings, buf.layer), args.out)
    log.info("wrote %d generated sequences to %s", len(table), args.out)
    return 0
