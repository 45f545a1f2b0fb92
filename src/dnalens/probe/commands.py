"""`dnalens probe`: score every SAE feature against every concept → results/<genome>/probe/."""

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
    p.add_argument("--buffer", required=True, help="ActivationBuffer directory (`dnalens buffer`)")
    p.add_argument("--out", required=True, help="output directory (written atomically as a whole)")
    p.add_argument("--labels", help="label store directory (default: the one recorded in buffer.json)")
    p.add_argument("--fasta", help="genome FASTA: sequence baselines (k-mer, GC) and the exact-repeat check")
    p.add_argument(
        "--activations",
        help="activation shard directory the buffer's codes came from (dense probe when the buffer has no dense twin)",
    )
    p.add_argument("--settings", help="the config's `probe:` block as JSON (or a .json/.yaml path)")
    p.set_defaults(func=_probe)


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
    from dnalens.probe.inputs import inputs_from_buffer
    from dnalens.probe.settings import ProbeSettings, validate_settings
    from dnalens.probe.stage import run_probing, write_probe_dir
    from dnalens.settings import from_mapping, parse_settings

    settings = from_mapping(ProbeSettings, parse_settings(args.settings), where="probe settings")
    validate_settings(settings)
    inputs = inputs_from_buffer(args.buffer, args.labels, args.fasta, args.activations)
    groups, repeats = duplicate_groups(settings, inputs, args.fasta)
    result = run_probing(inputs, settings, groups)
    write_probe_dir(result, args.out, {"buffer": args.buffer, "repeats_found": repeats})
    keys = ("n_tokens", "n_features", "n_concepts", "n_annotated_pairs", "n_annotated_features", "seconds")
    print(json.dumps({k: result.summary[k] for k in keys}))
    return 0
