"""`dnalens probe` (score every SAE feature against every concept → results/<genome>/probe/; `--part` and
`--linear-out` scatter it) and `dnalens probe-merge` (the gather)."""

from __future__ import annotations

import argparse
import json
import logging

log = logging.getLogger(__name__)

# A genome this long is not scanned for exact repeats (memory: ~16 bytes per base); list regions instead.
MAX_REPEAT_SCAN_BP = 200_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "probe",
        help="AUROC, domain F1, nulls and linear probes on held-out genome blocks -> probe/ parquet tables",
    )
    _probe_inputs(p)
    p.add_argument("--part", type=int, help="scatter: score only this part (0-based) of --parts (rule probe_part)")
    p.add_argument("--parts", type=int, help="scatter: how many parts (probe.parts)")
    p.add_argument("--part-out", help="scatter: the part's scores (results/<genome>/probe_parts/part-<i>.npz)")
    p.add_argument("--linear-out", help="scatter: fit only the linear probes, into this directory (rule probe_linear)")
    p.set_defaults(func=_probe, from_parts=None, linear=None)

    m = subparsers.add_parser(
        "probe-merge", help="gather probe parts (dnalens probe --part, --linear-out) into the probe directory"
    )
    m.add_argument("from_parts", nargs="+", metavar="parts", help="the part files (.npz), in part order")
    m.add_argument("--linear", required=True, help="the --linear-out directory of the same run")
    _probe_inputs(m)
    m.set_defaults(func=_probe, part=None, parts=None, part_out=None, linear_out=None)

    s = subparsers.add_parser(
        "layer-scan",
        help="dense-probe AUROC per concept per layer on a sample of windows, no SAE -> layer_scan.tsv (+ .parquet, .json)",
    )
    s.add_argument("--windows", required=True, help="windows.bed of the genome")
    s.add_argument("--fasta", required=True, help="genome FASTA (genome.fa): the windows' sequences, the repeat check")
    s.add_argument("--labels", required=True, help="label store directory (`dnalens labels` on these windows)")
    s.add_argument("--model", required=True, help="the config's `model:` block as JSON, or a model directory")
    s.add_argument("--settings", help="the config's `layer_scan:` block as JSON (or a .json/.yaml path)")
    s.add_argument(
        "--probe-settings",
        help="the config's `probe:` block: the split, which concepts count, the probes' l2 and iterations",
    )
    s.add_argument("--out", required=True, help="results/<genome>/layer_scan.tsv (.parquet and .json beside it)")
    s.set_defaults(func=_layer_scan)


def _probe_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--buffer", required=True, help="ActivationBuffer directory (`dnalens buffer`)")
    p.add_argument(
        "--out", help="output directory (written atomically as a whole; required unless --part/--linear-out)"
    )
    p.add_argument("--labels", help="label store directory (default: the one recorded in buffer.json)")
    p.add_argument("--fasta", help="genome FASTA: sequence baselines (k-mer, GC) and the exact-repeat check")
    p.add_argument(
        "--activations",
        help="activation shard directory the buffer's codes came from (dense probe when the buffer has no dense twin)",
    )
    p.add_argument("--settings", help="the config's `probe:` block as JSON (or a .json/.yaml path)")


def duplicate_groups(settings, inputs, fasta: str | None) -> tuple[list, list[dict]]:
    """Groups of repeat copies to keep on one side: user-listed, plus exact repeats found in the FASTA."""
    from dnalens.errors import InputError
    from dnalens.probe.inputs import read_sequences
    from dnalens.probe.repeats import find_repeats
    from dnalens.probe.splits import parse_region

    groups = []
    for group in settings.duplicate_regions:
        if isinstance(group, str):
            raise InputError(
                f"probe.duplicate_regions entries must be lists of regions, got {group!r}.",
                fix='write [["contig:start-end", "contig:start-end"], ...].',
            )
        groups.append([parse_region(r) for r in group])
    found: list[dict] = []
    if settings.detect_repeats and fasta:
        total = sum(inputs.contig_lengths.get(c, 0) for c in inputs.contig_names)
        if total > MAX_REPEAT_SCAN_BP:
            log.warning("genome of %d bp: exact-repeat check skipped; list repeats in probe.duplicate_regions", total)
        else:
            pairs = find_repeats(read_sequences(fasta, inputs.contig_names), settings.min_repeat_length)
            groups.extend([a, b] for a, b in pairs)
            found = sorted({(a.contig, a.start, a.end) for a, _ in pairs})
            found = [{"contig": c, "start": s, "end": e} for c, s, e in found]
            log.info(
                "exact repeats >= %d bp: %d copies kept with their partners", settings.min_repeat_length, len(found)
            )
    return groups, found


def _probe(args: argparse.Namespace) -> int:
    import time

    from dnalens.errors import InputError
    from dnalens.formats.probe_dir import write_probe_dir
    from dnalens.probe.inputs import inputs_from_buffer
    from dnalens.probe.settings import ProbeSettings, validate_settings
    from dnalens.probe.stage import run_probe
    from dnalens.settings import from_mapping, parse_settings

    began = time.perf_counter()
    settings = from_mapping(ProbeSettings, parse_settings(args.settings), where="probe settings")
    validate_settings(settings)
    scatter = (args.part is not None, args.parts is not None, args.part_out is not None)
    if any(scatter) and not all(scatter):
        raise InputError("--part, --parts and --part-out go together (one probe_part job).")
    if not (all(scatter) or args.linear_out or args.out):
        raise InputError("--out is required (unless --part or --linear-out).")
    whole = not (all(scatter) or args.linear_out or args.from_parts)  # only the single job reads every column
    probes = whole or bool(args.linear_out)  # parts and the gather fit no probes
    inputs = inputs_from_buffer(
        args.buffer, args.labels, args.fasta, args.activations, columns=whole, read_dense=probes
    )
    groups, repeats = duplicate_groups(settings, inputs, args.fasta)
    if all(scatter):
        from dnalens.probe.parts import run_part

        lo, hi = run_part(inputs, settings, groups, args.part, args.parts, args.part_out)
        log.info("probe part %d/%d: features %d..%d -> %s", args.part, args.parts, lo, hi - 1, args.part_out)
        return 0
    if args.linear_out:
        from dnalens.probe.parts import run_linear

        run_linear(inputs, settings, groups, args.linear_out)
        return 0
    if args.from_parts:
        from dnalens.probe.parts import gather

        result = gather(inputs, settings, groups, args.from_parts, args.linear)
    else:
        result = run_probe(inputs, settings, groups)
    write_probe_dir(result, args.out, {"buffer": args.buffer, "repeats_found": repeats})
    keys = ("n_tokens", "n_features", "n_concepts", "n_annotated_pairs", "n_annotated_features")
    print(json.dumps({**{k: result.summary[k] for k in keys}, "seconds": round(time.perf_counter() - began, 2)}))
    return 0


def _layer_scan(args: argparse.Namespace) -> int:
    from dnalens.formats.layer_scan import write_layer_scan
    from dnalens.models.base import load_model, model_arg
    from dnalens.probe.layer_scan import LayerScanSettings, plan_layer_scan, run_layer_scan
    from dnalens.probe.settings import ProbeSettings, validate_settings
    from dnalens.settings import from_mapping, parse_settings

    settings = from_mapping(LayerScanSettings, parse_settings(args.settings), where="layer_scan settings")
    probe = from_mapping(ProbeSettings, parse_settings(args.probe_settings), where="probe settings")
    validate_settings(probe)
    plan = plan_layer_scan(args.windows, args.labels, load_model(model_arg(args.model)), settings, probe)
    groups, _ = duplicate_groups(probe, plan, args.fasta)
    table, summary = run_layer_scan(plan, args.fasta, groups)
    write_layer_scan(table, summary, args.out)
    print(json.dumps({"chosen_layer": summary["chosen_layer"], **summary["sample"]}))
    return 0
