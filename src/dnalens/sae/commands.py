"""`dnalens train-sae`, `dnalens encode`, `dnalens sae-quality`: thin CLI over dnalens.sae."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
from pathlib import Path

from dnalens.errors import InputError
from dnalens.settings import from_mapping, parse_settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    t = subparsers.add_parser(
        "train-sae", help="train a TopK/BatchTopK/Matryoshka SAE on activation shards (resumable)"
    )
    t.add_argument(
        "--activations",
        required=True,
        nargs="+",
        help="activation shard directory (results/<g>/activations/<layer>); several = one shared dictionary "
        "trained on an equal token share of each genome's sample",
    )
    t.add_argument(
        "--windows", required=True, nargs="+", help="windows.bed each shard directory indexes (for its held-out blocks)"
    )
    t.add_argument(
        "--fasta", nargs="+", help="genome FASTA of each --activations (needed with sae.base_lookup: every row's bases)"
    )
    t.add_argument("--genomes", nargs="+", help="genome name of each --activations (recorded in the SAE's metadata)")
    t.add_argument("--out", required=True, help="SAE directory to write (SAELens layout)")
    t.add_argument("--settings", help="the config's `sae:` block as JSON (or a .json/.yaml path)")
    t.add_argument("--checkpoint", help="checkpoint directory (default: <out>.checkpoint; removed on success)")
    twin = t.add_mutually_exclusive_group()
    twin.add_argument(
        "--skip-replicate",
        action="store_true",
        help="with sae.replicate: train only this SAE; the replicate is its own job (--as-replicate, the workflow)",
    )
    twin.add_argument(
        "--as-replicate",
        action="store_true",
        help="train only sae.replicate's twin (seed + 1, same rows) into --out; give it to sae-quality --replicate",
    )
    t.set_defaults(func=_train)

    e = subparsers.add_parser(
        "encode",
        help="sparse code shards (CSR, fp16): fused (--model: model + SAE on the model's device, no dense "
        "activations on disk) or from stored activation shards (--activations only)",
    )
    e.add_argument("--sae", required=True, help="SAELens directory or Goodfire .pt")
    e.add_argument("--out", required=True, help="codes directory to write")
    e.add_argument(
        "--activations",
        help="activation shard directory; with --model, the dense sample: shards holding the very same windows "
        "are encoded from it instead of recomputed",
    )
    e.add_argument("--model", help="fused: the config's `model:` block as JSON, or a model directory")
    e.add_argument("--layer", help="fused: module path the SAE reads (sae.layer)")
    e.add_argument("--windows", help="windows.bed (fused: every window is encoded; else needed by a per-w-mer bias)")
    e.add_argument("--fasta", help="genome FASTA of the windows (fused; or a per-w-mer decoder bias)")
    e.add_argument("--settings", help="the config's `sae:` block (k for a .pt without k in its name, device)")
    e.add_argument("--extract-settings", help="fused: the config's `extract:` block as JSON (batch_tokens, device)")
    e.add_argument("--part", type=int, help="scatter: encode only shard block PART (0-based) of --parts")
    e.add_argument("--parts", type=int, default=1, help="scatter: number of blocks (the sample stage's parts)")
    e.set_defaults(func=_encode)

    m = subparsers.add_parser("encode-merge", help="gather code parts (dnalens encode --part) into one codes directory")
    m.add_argument("parts", nargs="+", help="code part directories, in part order")
    m.add_argument("--out", required=True, help="codes directory to write")
    m.add_argument("--activations", help="activation directory: check that the parts cover all of its shards")
    m.set_defaults(func=_encode_merge)

    q = subparsers.add_parser(
        "sae-quality", help="MSE, FVU, L0, dead/dense latents and loss recovered on held-out windows"
    )
    q.add_argument("--sae", required=True, help="SAELens directory or Goodfire .pt")
    q.add_argument(
        "--activations",
        required=True,
        nargs="+",
        help="activation shard directory; several = one report pooled over the genomes' held-out blocks",
    )
    q.add_argument("--windows", required=True, nargs="+", help="windows.bed each shard directory indexes")
    q.add_argument(
        "--fasta", nargs="+", help="genome FASTA of each --activations (with --model: loss recovered by splicing)"
    )
    q.add_argument("--genomes", nargs="+", help="genome name of each --activations (recorded in the report)")
    q.add_argument("--model", help="the config's `model:` block as JSON, or a model directory")
    q.add_argument("--settings", help="the config's `sae:` block as JSON")
    q.add_argument(
        "--replicate", help="SAE directory of the seed + 1 replicate (train-sae --as-replicate): seed agreement"
    )
    q.add_argument(
        "--measured-on",
        choices=("held_out", "train"),
        default="held_out",
        help="held_out (default): the held-out blocks; train: training windows spread over the genome, the rows a "
        "choice among SAEs may read (sae_bench)",
    )
    q.add_argument("--out", required=True, help="JSON file to write")
    q.set_defaults(func=_quality)


def _settings(text: str | None):
    from dnalens.sae.settings import SaeSettings

    return from_mapping(SaeSettings, parse_settings(text), where="sae settings")


def _train(args: argparse.Namespace) -> int:
    from dnalens.formats.activation_shards import read_manifest
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import activation_width, holdout_mask, source_batches
    from dnalens.sae.io import save_sae
    from dnalens.sae.row_bases import open_row_bases
    from dnalens.sae.sources import same_layer
    from dnalens.sae.strand_shared import require_concat
    from dnalens.sae.training import finalize, train_sae

    settings = _settings(args.settings)
    if settings.source != "train":
        raise InputError(
            "sae.source is 'load': there is nothing to train.",
            fix="downstream stages read sae.path directly; set sae.source: train to train one.",
        )
    if args.as_replicate:
        settings = replicate_settings(settings)  # replicate off: the twin trains no twin of its own
    twin = settings.replicate and not args.skip_replicate  # train both here
    sources = _sources(args)
    manifests = [read_manifest(src.activations) for src in sources]
    manifest = same_layer(manifests, sources)
    settings = settings.with_rc_pool((manifest.get("model") or {}).get("rc_pool"))
    if settings.shares_strands:
        for src, m in zip(sources, manifests):
            require_concat(m, src.activations)
    windows = [read_windows_bed(src.windows) for src in sources]
    held = [holdout_mask(w, settings.holdout_fraction, settings.holdout_blocks) for w in windows]
    widths = {src.name: activation_width(src.activations) for src in sources}
    if len(set(widths.values())) > 1:
        raise InputError(
            f"the genomes' samples have different widths: {widths}.",
            fix="sample every genome of a shared dictionary from the same model and layer.",
        )
    d_in = widths[sources[0].name]
    bases = [
        open_row_bases(src.activations, w, src.fasta, context=settings.base_lookup) for src, w in zip(sources, windows)
    ]

    def batches(run_settings):
        use = [~h for h in held]
        return source_batches(sources, use, bases, batch_size=run_settings.rows_per_batch, seed=run_settings.seed)

    checkpoint = Path(args.checkpoint or f"{args.out.rstrip('/')}.checkpoint")
    result = train_sae(batches(settings), d_in, settings, checkpoint_dir=checkpoint)
    sae = finalize(result)
    reference, dictionary = _train_replicate(args, settings, d_in, batches, sae, result, twin)
    model = manifest.get("model") or {}
    metadata = {
        "hook_name": manifest.get("layer"),
        "model_name": model.get("name") or model.get("path") or model.get("family"),
        "dnalens": {
            "settings": dataclasses.asdict(settings),
            "steps": result.steps,
            "d_in": d_in,
            "training_windows": int(sum(int((~h).sum()) for h in held)),
            "held_out_windows": int(sum(int(h.sum()) for h in held)),
            "activations": str(sources[0].activations) if len(sources) == 1 else [s.activations for s in sources],
            "genomes": [
                {
                    "name": src.name,
                    "activations": str(src.activations),
                    "training_windows": int((~h).sum()),
                    "held_out_windows": int(h.sum()),
                }
                for src, h in zip(sources, held)
            ],
            "last_step": result.history[-1] if result.history else None,
            "dictionary": dictionary,
        },
    }
    save_sae(sae, args.out, metadata=metadata, dictionary=reference)
    for path in (checkpoint, _replicate_checkpoint(checkpoint)):
        shutil.rmtree(path, ignore_errors=True)
    print(
        json.dumps(
            {
                "out": args.out,
                "genomes": [src.name for src in sources],
                "steps": result.steps,
                **(result.history[-1] if result.history else {}),
                **{k: dictionary[k] for k in ("init_cosine_median", "seed_agreement")},
            }
        )
    )
    return 0


def _replicate_checkpoint(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + "-replicate")


def replicate_settings(settings):
    """The replicate's settings: seed + 1, the same rows (the data stream's seed is the SAE's seed)."""
    return dataclasses.replace(settings, seed=settings.seed + 1, replicate=False)


def _train_replicate(args, settings, d_in, batches, sae, result, twin: bool) -> tuple[dict, dict]:
    """The decoders saved next to the SAE (its initialisation; with `twin`, the decoder of an SAE trained on
    the same rows with seed + 1: `batches(settings)` gives the rows) and the train-time dictionary metadata."""
    from dnalens.sae.dictionary import decoder, init_cosine, seed_agreement
    from dnalens.sae.training import finalize, train_sae

    last = result.history[-1] if result.history else {}
    state_d_in = d_in // 2 if settings.shares_strands else d_in
    reference = {"W_dec_init": result.init_W_dec}
    dictionary = {
        "init_cosine_median": init_cosine(decoder(sae), result.init_W_dec)["median"],
        "l0_per_d_in_last_step": last.get("l0", float("nan")) / state_d_in,
        "seed_agreement": None,
        "replicate_seed": None,
    }
    if twin:
        other = replicate_settings(settings)
        ckpt = _replicate_checkpoint(Path(args.checkpoint or f"{args.out.rstrip('/')}.checkpoint"))
        replicate = finalize(train_sae(batches(other), d_in, other, checkpoint_dir=ckpt))
        reference["W_dec_replicate"] = decoder(replicate)
        agree = seed_agreement(decoder(sae), reference["W_dec_replicate"])
        dictionary.update(
            seed_agreement=agree["share"],
            seed_best_cosine_median=agree["median_best_cosine"],
            replicate_seed=other.seed,
        )
    return reference, dictionary


def _encode(args: argparse.Namespace) -> int:

    if args.model is not None:
        missing = [f"--{n}" for n in ("fasta", "windows", "layer") if getattr(args, n) is None]
        if missing:
            raise InputError(f"fused encode (--model) also needs {', '.join(missing)}.", fix="see `dnalens encode -h`.")
        return _encode_fused(args)
    if args.activations is None:
        raise InputError(
            "encode needs --activations (stored shards) or --model (fused).", fix="see `dnalens encode -h`."
        )
    return _encode_stored(args)


def _encode_fused(args: argparse.Namespace) -> int:
    from dnalens.models.base import model_arg
    from dnalens.models.window_pass import ExtractSettings
    from dnalens.sae.fused import run_fused

    extract = from_mapping(ExtractSettings, parse_settings(args.extract_settings), where="extract settings")
    model = model_arg(args.model)
    summary = run_fused(
        args.fasta,
        args.windows,
        model,
        args.sae,
        args.layer,
        extract,
        args.out,
        k=_settings(args.settings).k,
        part=args.part,
        parts=args.parts,
        activations=args.activations,
    )
    print(json.dumps({k: summary[k] for k in ("total_tokens", "total_nnz", "mean_l0", "n_features")}))
    return 0


def _encode_stored(args: argparse.Namespace) -> int:
    from dnalens.formats.activation_shards import read_manifest
    from dnalens.sae.encode import encode_activations
    from dnalens.sae.io import load_sae
    from dnalens.sae.row_bases import open_row_bases
    from dnalens.sae.settings import resolve_device
    from dnalens.sae.strand_shared import StrandSharedSAE, require_concat

    settings = _settings(args.settings)
    device = resolve_device(settings.device)
    sae = load_sae(args.sae, k=settings.k, device=device)
    if isinstance(sae, StrandSharedSAE):
        require_concat(read_manifest(args.activations), args.activations)
    bases = open_row_bases(args.activations, args.windows, args.fasta, context=sae.lookup_context)
    summary = encode_activations(
        sae,
        args.activations,
        args.out,
        device=device,
        sae_source=str(args.sae),
        part=args.part,
        parts=args.parts,
        bases=bases,
    )
    print(json.dumps({k: summary[k] for k in ("total_tokens", "total_nnz", "mean_l0", "n_features")}))
    return 0


def _encode_merge(args: argparse.Namespace) -> int:
    from dnalens.sae.parts import merge_code_parts

    summary = merge_code_parts(args.parts, args.out, activations=args.activations)
    print(json.dumps({k: summary[k] for k in ("total_tokens", "total_nnz", "mean_l0", "n_features")}))
    return 0


def _sources(args: argparse.Namespace) -> list:
    from dnalens.sae.sources import sample_sources

    return sample_sources(args.activations, args.windows, args.fasta, args.genomes)


def _quality(args: argparse.Namespace) -> int:
    from dnalens.atomic import write_text
    from dnalens.sae.quality_report import quality_report

    report = quality_report(
        args.sae,
        _sources(args),
        _settings(args.settings),
        model=args.model,
        replicate=args.replicate,
        measured_on=args.measured_on,
    )
    write_text(args.out, json.dumps(report, indent=1) + "\n")
    d = report["dictionary"]
    print(
        json.dumps(
            {k: report[k] for k in ("fvu", "l0", "dead_fraction", "dense_fraction")}
            | {"loss_recovered": report["loss"].get("loss_recovered")}
            | {f"dictionary_{k}": d[k] for k in ("l0_per_d_in", "init_cosine_median", "seed_agreement")}
            | {"health": d["health"]["pass"]}
        )
    )
    return 0
