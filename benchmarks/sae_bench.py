"""SAE Bench on V. cholerae chr2 (issue 29): wall time, per-rule CPU and peak RSS, the sweep's table, the choice,
and what each variant does for the codon positions.

Runs `snakemake ... sae_bench` on config/sae_bench.yaml (the demo's V. cholerae chr2 and its tuned sae: settings
as variant `run`, five variants changing one key each) in its own working directory (a `resources` link to the
repository's, so the demo's results/ are left alone), with the tiny model on CPU. Then it reads Snakemake's
per-job benchmark files (wall, CPU and peak RSS per job; the targets: <= 15 min on 2 cores, each job <= 3 GB)
and results/sae_bench/ (sae_bench.tsv, choice.json, sae_bench_concepts.tsv, sae_bench_sparse_probing.tsv).

  .venv/bin/python benchmarks/sae_bench.py                  # run, then print
  .venv/bin/python benchmarks/sae_bench.py --report-only    # print from an earlier run
  .venv/bin/python benchmarks/sae_bench.py --report-only --tables-only --workdir .   # after `make bench-sae`
  options: --workdir DIR (default benchmarks/out/sae_bench), --cores N (default 2), --config PATH
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_runs import benchmark_jobs, run_snakemake  # noqa: E402

CODONS = ("CDS_codon_pos1", "CDS_codon_pos2", "CDS_codon_pos3", "CDS")


def jobs(workdir: Path) -> list[dict]:
    """The jobs' benchmark figures, the sweep's rules named as in workflow/rules/sae_bench.smk."""
    out = benchmark_jobs(workdir)
    for job in out:
        if job["log"].parts[0] == "sae_bench" and job["rule"] != "sae_bench":
            job["rule"] = "sae_bench_" + job["rule"]
        job["job"] = str(job["log"])
    return out


def report(workdir: Path, with_jobs: bool = True) -> None:
    if with_jobs:
        report_jobs(workdir)
    report_tables(workdir)


def report_jobs(workdir: Path) -> None:
    wall = (workdir / "wall_seconds.txt").read_text().strip() if (workdir / "wall_seconds.txt").exists() else "?"
    table = jobs(workdir)
    per_rule: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for job in table:
        row = per_rule[job["rule"]]
        row[0] += 1
        row[1] += job["s"]
        row[2] += job["cpu_s"]
        row[3] = max(row[3], job["max_rss_mb"])
    cpu = sum(j["cpu_s"] for j in table)
    print(f"wall: {wall} s for the whole run; {len(table)} jobs, {cpu:.0f} CPU-s in all")
    print(f"{'rule':28s} {'jobs':>5s} {'wall s':>9s} {'cpu s':>9s} {'peak RSS MB':>12s}")
    for rule, (n, s, c, rss) in sorted(per_rule.items(), key=lambda kv: -kv[1][2]):
        print(f"{rule:28s} {n:5d} {s:9.1f} {c:9.1f} {rss:12.0f}")
    if table:
        largest = max(table, key=lambda j: j["max_rss_mb"])
        print(f"largest job: {largest['job']} peak RSS {largest['max_rss_mb']:.0f} MB")


def report_tables(workdir: Path) -> None:
    bench = workdir / "results" / "sae_bench"
    variants = pd.read_csv(bench / "sae_bench.tsv", sep="\t")
    shown = [
        "variant",
        "changes",
        "fvu",
        "l0_over_d_in",
        "dead_fraction",
        "dense_fraction",
        "init_cosine",
        "concepts_annotated",
        "latents_annotated",
        "concept_groups",
        "train_concepts_passing",
        "train_latents_passing",
        "train_concept_groups",
        "train_fvu",
        "train_l0_over_d_in",
        "train_dead_fraction",
        "eligible",
        "chosen",
    ]
    print("\nsae_bench.tsv (quality per strand state; held-out unless train_):")
    print(variants[[c for c in shown if c in variants]].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    choice = json.loads((bench / "choice.json").read_text())
    print(f"\nchoice: {choice['reason']}; ineligible: {choice['ineligible']}")
    concepts = pd.read_csv(bench / "sae_bench_concepts.tsv", sep="\t")
    print("\nbest single latent (train-chosen), held-out AUROC / baseline; latent group k:AUROC:")
    for concept in CODONS:
        rows = concepts[concepts["concept"] == concept]
        if rows.empty:
            continue
        cells = [
            f"{r.variant} {r.best_auroc_test:.3f}"
            + (f" (k{int(r.group_k)}:{r.group_auroc_test:.3f})" if pd.notna(r.group_k) else "")
            + (" *" if r.annotated else "")
            for r in rows.itertuples()
        ]
        print(f"  {concept:16s} baseline {rows['baseline_auroc_test'].iloc[0]:.3f} | " + " | ".join(cells))
    sparse = pd.read_csv(bench / "sae_bench_sparse_probing.tsv", sep="\t")
    print("\nk-sparse held-out AUROC by k (dense probe on the same tokens; best baseline):")
    for concept in CODONS:
        rows = sparse[sparse["concept"] == concept]
        if rows.empty:
            continue
        print(
            f"  {concept}: baseline {rows['baseline_auroc_test'].iloc[0]:.3f}, dense "
            + ", ".join(f"{layer} {d:.3f}" for layer, d in rows.groupby("layer")["dense_auroc_test"].first().items())
        )
        wide = rows.pivot_table(index="variant", columns="k", values="auroc_test", sort=False)
        print(wide.to_string(float_format=lambda x: f"{x:.3f}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "sae_bench")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "sae_bench.yaml")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--tables-only", action="store_true", help="skip the job times (a workdir shared with other runs)"
    )
    args = parser.parse_args()
    if not args.report_only:
        run_snakemake(args.workdir, args.config.resolve(), args.cores, targets=["sae_bench"])
    report(args.workdir, with_jobs=not args.tables_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
