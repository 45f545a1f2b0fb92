"""`dnalens report` (tables, tracks, report.html for one genome; `--part` scatters its per-latent pass),
`dnalens report-merge` (the gather), `dnalens atlas` (across genomes) and `dnalens summarize-genomes` (its wide
table alone)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dnalens.settings import from_mapping, parse_settings, safe_name_arg

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="feature tables, genome-browser tracks and report.html for one genome")
    _report_inputs(p)
    p.add_argument(
        "--part",
        type=int,
        help="scatter: only the per-latent pass of this part (0-based) of --parts, "
        "written to --part-out (workflow rule report_part)",
    )
    p.add_argument("--parts", type=int, help="scatter: how many parts (report.parts)")
    p.add_argument(
        "--part-out", type=Path, help="scatter: the part's table (results/<genome>/report_parts/part-<i>.parquet)"
    )
    p.set_defaults(func=_report_command, from_parts=None)

    m = subparsers.add_parser(
        "report-merge", help="gather report parts (dnalens report --part) and build the report (workflow rule report)"
    )
    m.add_argument("from_parts", nargs="+", type=Path, metavar="parts", help="the part tables, in part order")
    _report_inputs(m)
    m.set_defaults(func=_report_command, part=None, parts=None, part_out=None)

    s = subparsers.add_parser("summarize-genomes", help="one latents × genomes table from several features.tsv")
    s.add_argument("features", nargs="+", type=Path, help="results/<genome>/features.tsv files")
    s.add_argument("--names", nargs="*", help="genome names (default: each file's folder name)")
    s.add_argument(
        "--sae",
        nargs="+",
        required=True,
        type=Path,
        help="each genome's SAE (results/<genome>/sae, or sae.path when loaded), in the same order: "
        "latents match by id only when the path is the same, else by decoder cosine",
    )
    s.add_argument("--out", required=True, type=Path, help="results/summary/features_across_genomes.tsv")
    s.set_defaults(func=run_summarize)

    a = subparsers.add_parser(
        "atlas",
        help="the atlas across genomes: atlas.tsv (latent x genome), atlas_latents.tsv (patterns), report.html",
    )
    a.add_argument("features", nargs="+", type=Path, help="results/<genome>/features.tsv files")
    a.add_argument(
        "--names",
        nargs="*",
        type=safe_name_arg("--names"),
        help="genome names (default: each file's folder name); the first genome's latents are the rows",
    )
    a.add_argument(
        "--sae",
        nargs="+",
        required=True,
        type=Path,
        help="each genome's SAE, in the same order: one shared dictionary (the same path for all) compares latents "
        "by id; different paths are matched to the first genome's SAE by decoder cosine",
    )
    a.add_argument("--out-dir", required=True, type=Path, help="results/summary")
    a.add_argument("--settings", help="the config's report: section as JSON (or a .json/.yaml path)")
    a.set_defaults(func=run_atlas_command)


def _report_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--genome", required=True, type=safe_name_arg("--genome"), help="genome name (titles, cross-genome table)"
    )
    p.add_argument("--buffer", required=True, type=Path, help="ActivationBuffer directory")
    p.add_argument("--probe", required=True, type=Path, help="probe results folder (parquet tables)")
    p.add_argument("--fasta", required=True, type=Path, help="indexed genome FASTA (genome.fa)")
    p.add_argument("--annotation", type=Path, help="normalised annotation.gff3 (drawn beneath plots)")
    p.add_argument("--chrom-sizes", required=True, type=Path)
    p.add_argument("--label-summary", required=True, type=Path, help="labels stage concept_summary.tsv")
    p.add_argument("--sae-quality", type=Path, help="sae_quality.json (shown in the run summary)")
    p.add_argument("--model-name", default="?", help="model shown in the report")
    p.add_argument(
        "--model-settings",
        help="the config's model: section as JSON (or a .json/.yaml path): the report reads the model card's "
        "evaluation.json beside its checkpoint (bits/nt against a 5th-order Markov chain)",
    )
    p.add_argument("--layer", help="layer name (default: from the buffer)")
    p.add_argument("--sae", help="SAE name (default: from the buffer)")
    p.add_argument("--layer-scan", type=Path, help="layer_scan.tsv (`dnalens layer-scan`): its figure in report.html")
    p.add_argument("--effects", type=Path, help="effects.tsv (`dnalens effects`): ablation columns and card blocks")
    p.add_argument("--steer", type=Path, help="steer.tsv (`dnalens steer`): steering figures on the cards")
    p.add_argument("--variants", type=Path, help="variants.parquet (`dnalens variants`): the report's variants section")
    p.add_argument("--out", type=Path, help="results/<genome>/ (required unless --part)")
    p.add_argument("--settings", help="the config's report: section as JSON (or a .json/.yaml path)")


def _report_command(args: argparse.Namespace) -> int:
    from dnalens.errors import InputError
    from dnalens.report.inputs import InputPaths, read_report_inputs
    from dnalens.report.options import ReportSettings
    from dnalens.report.stage import run_report

    settings = from_mapping(ReportSettings, parse_settings(args.settings), where="report settings")
    paths = InputPaths(
        genome=args.genome,
        buffer=args.buffer,
        probe=args.probe,
        fasta=args.fasta,
        annotation=args.annotation,
        chrom_sizes=args.chrom_sizes,
        label_summary=args.label_summary,
        sae_quality=args.sae_quality,
        model=args.model_name,
        layer=args.layer,
        sae=args.sae,
        layer_scan=args.layer_scan,
        model_settings=parse_settings(args.model_settings) if args.model_settings else None,
        effects=args.effects,
        steer=args.steer,
        variants=args.variants,
    )
    scatter = (args.part is not None, args.parts is not None, args.part_out is not None)
    if any(scatter) and not all(scatter):
        raise InputError("--part, --parts and --part-out go together (one report_part job).")
    if all(scatter):
        from dnalens.report.parts import run_part

        n = run_part(read_report_inputs(paths), settings, args.part, args.parts, args.part_out)
        log.info("report part %d/%d of %s: %d latents -> %s", args.part, args.parts, args.genome, n, args.part_out)
        return 0
    if args.out is None:
        raise InputError("--out is required (the results/<genome>/ folder the report is written to).")
    passes = None
    if args.from_parts:
        from dnalens.report.parts import read_parts

        passes = read_parts(args.from_parts)
    counts = run_report(read_report_inputs(paths), settings, args.out, passes)
    log.info("report for %s: %s -> %s", args.genome, counts, args.out / "report.html")
    return 0


def _genome_names(args: argparse.Namespace) -> list[str]:
    from dnalens.errors import InputError

    names = args.names or [p.parent.name for p in args.features]
    if len(names) != len(args.features) or len(set(names)) != len(names):
        raise InputError("--names must give one distinct name per features.tsv.")
    if len(args.sae) != len(args.features):
        raise InputError(f"--sae must give one SAE per features.tsv ({len(args.features)}), got {len(args.sae)}.")
    return names


def run_atlas_command(args: argparse.Namespace) -> int:
    from dnalens.report.atlas_stage import run_atlas
    from dnalens.report.options import ReportSettings

    settings = from_mapping(ReportSettings, parse_settings(args.settings), where="report settings")
    names = _genome_names(args)
    counts = run_atlas(args.features, names, args.sae, args.out_dir, settings.atlas_min_frequency)
    log.info("atlas of %d genomes: %s -> %s", len(names), counts, args.out_dir / "report.html")
    return 0


def run_summarize(args: argparse.Namespace) -> int:
    import pandas as pd

    from dnalens.atomic import atomic_path
    from dnalens.errors import InputError
    from dnalens.report.across import summarize

    names = _genome_names(args)
    tables = {}
    for name, path in zip(names, args.features):
        if not path.exists():
            raise InputError("features table not found.", path=path, fix="run `dnalens report` for that genome.")
        tables[name] = pd.read_csv(path, sep="\t")
        if "latent" not in tables[name]:
            raise InputError(
                "features table has no `latent` column (written by an older dnalens report).",
                path=path,
                fix="rerun `dnalens report` for that genome.",
            )
    wide = summarize(tables, dict(zip(names, args.sae)), names)
    with atomic_path(args.out) as tmp:
        wide.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    return 0
