"""Evo 2-width rehearsal: peak RSS per rule and bytes per token per output, from one real workflow run.

Runs config/genomes/evo2_rehearsal.yaml (Evo 2-shaped stand-in, d_model 4,096; Goodfire-shaped SAE,
32,768 latents, k = 64) with snakemake in a fresh directory and reads back what the run itself recorded:
every rule's `benchmark:` file (wall s, CPU s, max_rss) and the bytes of every output. Baselines from the
same run, side by side: RSS against the SAE file (the largest object every SAE job holds), bytes per token
against one compact copy of the codes (nnz x 4 bytes: the issue's target is results/ <= 2x that) and
against dense float16 activations (d_model x 2 bytes per token, what an unfused Evo 2 run writes).

    .venv/bin/python benchmarks/rehearsal.py                       # the plasmid, 4 windows, CPU
    .venv/bin/python benchmarks/rehearsal.py --max-tokens none --cores 16 --device cuda \\
        --genome-from config/genomes/ecoli_k12.yaml               # E. coli on a GPU host
    .venv/bin/python benchmarks/rehearsal.py --measure DIR         # only read a finished run's DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
CONFIG = REPO / "config" / "genomes" / "evo2_rehearsal.yaml"
MB = 1 << 20


def rehearsal_config(args: argparse.Namespace) -> dict:
    """The rehearsal config with genome paths made absolute and the command-line overrides applied."""
    config = yaml.safe_load(CONFIG.read_text())
    if args.genome_from:
        config["genomes"] = yaml.safe_load(Path(args.genome_from).read_text())["genomes"]
    for spec in config["genomes"].values():
        for key in ("fasta", "genbank", "annotation"):
            if isinstance(spec.get(key), str) and (REPO / spec[key]).exists():
                spec[key] = str(REPO / spec[key])
    if args.max_tokens is not None:
        config["windows"]["max_tokens"] = None if args.max_tokens == "none" else int(args.max_tokens)
    if args.device:
        for section in ("model", "sae", "probe"):
            config.setdefault(section, {})["device"] = args.device
    return config


def run_workflow(work: Path, config: dict, cores: int, targets: list[str]) -> float:
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    command = [
        str(bin_dir / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        str(cores),
        *targets,
        "--configfile",
        str(work / "config.yaml"),
    ]
    start = time.perf_counter()
    run = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"snakemake failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    return time.perf_counter() - start


def rule_table(work: Path) -> list[dict]:
    """One row per rule from its jobs' benchmark files: jobs, slowest job, summed CPU, peak max_rss."""
    rules: dict[str, dict] = {}
    for path in sorted((work / "logs").rglob("*.benchmark.tsv")):
        rule = path.name.removesuffix(".benchmark.tsv").split("-")[0]
        rule = "standin_sae" if path.parent.name == "standin_sae" else rule
        with path.open() as handle:
            row = list(csv.DictReader(handle, delimiter="\t"))[-1]
        entry = rules.setdefault(rule, {"rule": rule, "jobs": 0, "wall": 0.0, "cpu": 0.0, "rss": 0.0})
        entry["jobs"] += 1
        entry["wall"] = max(entry["wall"], float(row["s"]))
        entry["cpu"] += float(row.get("cpu_time") or 0)
        entry["rss"] = max(entry["rss"], float(row["max_rss"]) if row["max_rss"] not in ("", "NA", "-") else 0.0)
    return sorted(rules.values(), key=lambda r: -r["rss"])


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", help="run here (default: a temporary directory, removed unless --keep)")
    ap.add_argument("--measure", help="only measure a finished run in this directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directory")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), help="model/sae/probe device (default: config)")
    ap.add_argument("--max-tokens", help="windows.max_tokens (an integer, or none = the whole genome)")
    ap.add_argument(
        "--genome-from", help="take the genomes: block from this config (e.g. config/genomes/ecoli_k12.yaml)"
    )
    ap.add_argument("--targets", nargs="*", default=[], help="snakemake targets (default: everything)")
    args = ap.parse_args()

    from dnalens.formats.buffer import ActivationBuffer

    config = rehearsal_config(args)
    if args.measure:
        work, wall = Path(args.measure), None
    else:
        work = Path(args.workdir or tempfile.mkdtemp(prefix="dnalens-rehearsal-"))
        work.mkdir(parents=True, exist_ok=True)
        wall = run_workflow(work, config, args.cores, args.targets)
    sae_file = work / config["sae"]["path"]
    sae_mb = sae_file.stat().st_size / MB
    print(
        f"Evo 2-width rehearsal in {work}: {args.cores} cores"
        + (f", workflow wall {wall:.1f} s" if wall is not None else "")
    )
    print(f"SAE file {sae_file.name}: {sae_mb:,.0f} MB (baseline for RSS)\n")
    print(f"{'rule':<16}{'jobs':>5}{'slowest job s':>15}{'CPU s':>9}{'peak RSS MB':>13}{'RSS / SAE file':>16}")
    for r in rule_table(work):
        print(
            f"{r['rule']:<16}{r['jobs']:>5}{r['wall']:>15.1f}{r['cpu']:>9.1f}{r['rss']:>13,.0f}"
            f"{r['rss'] / sae_mb:>15.2f}x"
        )

    for genome in config["genomes"]:
        out = work / "results" / genome
        buffer_dir = out / "buffer"
        if not buffer_dir.exists():
            print(f"\n{genome}: no buffer (targets stopped earlier); bytes per token not measured")
            continue
        buffer = ActivationBuffer.open(buffer_dir)
        n, nnz = buffer.n_tokens, buffer.nnz
        compact = nnz * 4 / n  # the unit: one compact copy of the codes
        quality = out / "sae_quality.json"
        d_model = int(json.loads(quality.read_text())["d_in"]) if quality.exists() else 4096
        dense = d_model * 2
        print(
            f"\n{genome}: {n:,} tokens, {buffer.n_features:,} features, nnz {nnz:,} "
            f"(mean L0 {nnz / n:.1f}); one compact copy of the codes = nnz x 4 B = {compact:,.0f} B/token; "
            f"dense float16 activations = {dense:,} B/token"
        )
        f = buffer.n_features
        print(
            "(B/token for outputs that grow with the genome; per-feature tables - features.tsv, features.parquet, "
            "probe/ - grow with F: see B/feature)"
        )
        print(f"{'output':<28}{'bytes':>15}{'B/token':>11}{'x compact codes':>17}{'x dense fp16':>14}{'B/feature':>11}")
        entries = sorted(out.iterdir(), key=lambda p: -tree_bytes(p))
        total = 0
        for entry in entries:
            size = tree_bytes(entry)
            total += size
            print(
                f"{entry.name:<28}{size:>15,}{size / n:>11,.1f}{size / n / compact:>16.2f}x"
                f"{size / n / dense:>13.3f}x{size / f:>11,.1f}"
            )
        print(
            f"{'results/' + genome + ' total':<28}{total:>15,}{total / n:>11,.1f}{total / n / compact:>16.2f}x"
            f"{total / n / dense:>13.3f}x"
        )
    print(f"{'results/standin_sae (fixed)':<28}{tree_bytes(sae_file.parent):>15,}")
    if not args.measure and not args.workdir and not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
