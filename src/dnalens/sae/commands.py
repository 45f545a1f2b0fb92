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
    t.add_argument("--activations", required=True, help="activation shard directory (results/<g>/activations/<layer>)")
    t.add_argument("--windows", required=True, help="windows.bed the shards index (for the held-out block)")
    t.add_argument("--fasta", help="genome FASTA of the windows (needed with sae.base_lookup: the bases of every row)")
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
    e.add_argument("--parts", type=int, default=1, help="scatter: number of blocks (the extract stage's parts)")
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
    q.add_argument("--activations", required=True, help="activation shard directory")
    q.add_argument("--windows", required=True, help="windows.bed the shards index")
    q.add_argument("--fasta", help="genome FASTA (with --model: loss recovered by splicing the SAE into the model)")
    q.add_argument("--model", help="the config's `model:` block as JSON, or a model directory")
    q.add_argument("--settings", help="the config's `sae:` block as JSON")
    q.add_argument(
        "--replicate", help="SAE directory of the seed + 1 replicate (train-sae --as-replicate): seed agreement"
    )
    q.add_argument("--out", required=True, help="JSON file to write")
    q.set_defaults(func=_quality)


def _settings(text: str | None):
    from dnalens.sae.settings import SaeSettings

    return from_mapping(SaeSettings, parse_settings(text), where="sae settings")


def _train(args: argparse.Namespace) -> int:
    from dnalens.formats.activation_shards import read_manifest
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import activation_width, holdout_mask, training_batches
    from dnalens.sae.io import save_sae
    from dnalens.sae.row_bases import open_row_bases
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
    manifest = read_manifest(args.activations)
    if settings.strand_shared:
        require_concat(manifest, args.activations)
    windows = read_windows_bed(args.windows)
    held = holdout_mask(windows, settings.holdout_fraction, settings.holdout_blocks)
    d_in = activation_width(args.activations)
    bases = open_row_bases(args.activations, windows, args.fasta, context=settings.base_lookup)
    batches = training_batches(
        args.activations, ~held, batch_size=settings.rows_per_batch, seed=settings.seed, bases=bases
    )
    checkpoint = Path(args.checkpoint or f"{args.out.rstrip('/')}.checkpoint")
    result = train_sae(batches, d_in, settings, checkpoint_dir=checkpoint)
    sae = finalize(result)
    reference, dictionary = _train_replicate(args, settings, d_in, held, bases, sae, result, twin)
    model = manifest.get("model") or {}
    metadata = {
        "hook_name": manifest.get("layer"),
        "model_name": model.get("name") or model.get("path") or model.get("family"),
        "dnalens": {
            "settings": dataclasses.asdict(settings),
            "steps": result.steps,
            "d_in": d_in,
            "training_windows": int((~held).sum()),
            "held_out_windows": int(held.sum()),
            "activations": str(args.activations),
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


def _train_replicate(args, settings, d_in, held, bases, sae, result, twin: bool) -> tuple[dict, dict]:
    """The decoders saved next to the SAE (its initialisation; with `twin`, the decoder of an SAE trained on
    the same rows with seed + 1) and the train-time dictionary metadata (dictionary.py)."""
    from dnalens.sae.data import training_batches
    from dnalens.sae.dictionary import decoder, init_cosine, seed_agreement
    from dnalens.sae.training import finalize, train_sae

    last = result.history[-1] if result.history else {}
    state_d_in = d_in // 2 if settings.strand_shared else d_in
    reference = {"W_dec_init": result.init_W_dec}
    dictionary = {
        "init_cosine_median": init_cosine(decoder(sae), result.init_W_dec)["median"],
        "l0_per_d_in_last_step": last.get("l0", float("nan")) / state_d_in,
        "seed_agreement": None,
        "replicate_seed": None,
    }
    if twin:
        other = replicate_settings(settings)
        batches = training_batches(
            args.activations, ~held, batch_size=other.rows_per_batch, seed=other.seed, bases=bases
        )
        ckpt = _replicate_checkpoint(Path(args.checkpoint or f"{args.out.rstrip('/')}.checkpoint"))
        replicate = finalize(train_sae(batches, d_in, other, checkpoint_dir=ckpt))
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
    from dnalens.extract.stage import ExtractSettings
    from dnalens.models.base import model_arg
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


def _quality(args: argparse.Namespace) -> int:
    from dnalens.atomic import write_text
    from dnalens.formats.activation_shards import read_manifest
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import evaluation_windows, holdout_mask, window_batches
    from dnalens.sae.io import load_sae
    from dnalens.sae.quality import reconstruction_quality
    from dnalens.sae.row_bases import open_row_bases
    from dnalens.sae.settings import resolve_device
    from dnalens.sae.strand_shared import StrandSharedSAE, require_concat

    settings = _settings(args.settings)
    device = resolve_device(settings.device)
    sae = load_sae(args.sae, k=settings.k, device=device)
    manifest = read_manifest(args.activations)
    if isinstance(sae, StrandSharedSAE):
        require_concat(manifest, args.activations)
    windows = read_windows_bed(args.windows)
    evaluated, held_out = evaluation_windows(holdout_mask(windows, settings.holdout_fraction, settings.holdout_blocks))
    report = {
        "sae": str(args.sae),
        "layer": manifest.get("layer"),
        "architecture": sae.architecture,
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "k": sae.k,
        "held_out": held_out,
        "evaluation_windows": int(evaluated.sum()),
        "holdout_fraction": settings.holdout_fraction,
        "holdout_blocks": settings.holdout_blocks,
    }
    bases = open_row_bases(args.activations, windows, args.fasta, context=sae.lookup_context)
    report["base_lookup"] = sae.lookup_context
    report["strand_shared"] = isinstance(sae, StrandSharedSAE)

    def rows():
        return window_batches(args.activations, evaluated, max_tokens=settings.quality_tokens, bases=bases)

    report.update(reconstruction_quality(sae, rows()))
    report["dictionary"] = _dictionary(args.sae, sae, report, rows, args.replicate)
    report["loss"] = _loss_recovered(args, sae, manifest, windows, evaluated, settings)
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


def _dictionary(path, sae, report, rows, replicate=None) -> dict:
    """Per strand state for a strand-shared SAE (its per-strand dictionary on both halves of each row),
    else per row: the `dictionary` block of sae_quality.json (dictionary.py). The replicate's decoder comes
    from `replicate` (an SAE directory) or, when train-sae trained both, from the file saved next to the SAE."""
    from dnalens.sae.dictionary import decoder, dictionary_report
    from dnalens.sae.io import load_dictionary_reference, load_sae
    from dnalens.sae.quality import reconstruction_quality
    from dnalens.sae.strand_shared import StrandSharedSAE, strand_states

    if isinstance(sae, StrandSharedSAE):
        states = (strand_states(batch, sae.lookup_context) for batch in rows())
        metrics, d_in, unit = reconstruction_quality(sae.strand_sae, states), sae.strand_sae.d_in, "strand state"
    else:
        metrics, d_in, unit = report, sae.d_in, "row"
    own, reference = decoder(sae), load_dictionary_reference(path)
    if replicate:
        twin = decoder(load_sae(replicate, device="cpu"))
        if tuple(twin.shape) != tuple(own.shape):
            raise InputError(
                f"the replicate's decoder is {tuple(twin.shape)}, this SAE's {tuple(own.shape)}.",
                path=replicate,
                fix="give the replicate trained with the same sae settings (train-sae --as-replicate).",
            )
        reference["W_dec_replicate"] = twin
    return dictionary_report(metrics, d_in, own, reference, unit=unit)


def _loss_recovered(args, sae, manifest, windows, held, settings) -> dict:
    """Splice the SAE into the model on held-out windows (each strand pass when activations are pooled)."""
    if not (args.fasta and args.model):
        return {"loss_recovered": None, "reason": "no --fasta/--model given"}
    from dnalens.formats.window_table import window_sequence
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, model_arg
    from dnalens.sae.quality import gate_loss_recovered, pooled_loss_recovered
    from dnalens.sae.splice import strand_passes

    adapter = load_model(model_arg(args.model))
    fasta = open_fasta(args.fasta)
    rows = [i for i in range(len(windows)) if held[i]][: settings.loss_windows]
    seqs = [window_sequence(fasta, windows[i]) for i in rows]
    passes = strand_passes(
        adapter,
        seqs,
        manifest["layer"],
        sae.to(adapter.device),
        trim_start=int(manifest.get("trim_start", 0)),
        trim_end=int(manifest.get("trim_end", 0)),
    )
    if not passes:
        return {"loss_recovered": None, "reason": "no held-out window longer than the trimmed positions"}
    result = gate_loss_recovered(pooled_loss_recovered(passes), settings.min_ablation_gap)
    return {
        **result,
        "windows": len(seqs),
        "passes": len(passes),
        "rc_pool": adapter.spec.rc_pool,
        "tokens": int(sum(p.tokens.size for p in passes)),
    }
