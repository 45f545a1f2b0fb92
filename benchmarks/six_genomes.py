"""Six genomes, one run, one shared dictionary (issue #28): wall time, the largest job's peak RSS, yield and
the atlas.

Runs `snakemake` on config/six_bacteria.yaml (a genome sheet: the demo's chloroplast and V. cholerae chr2,
E. coli K-12 MG1655, S. aureus N315, H. pylori G27, C. diphtheriae; windows.max_tokens 2,000,000 each) in
its own working directory (a `resources` link to the repository's), with the tiny model on CPU. Then it
reads Snakemake's per-job benchmark files (logs/**/<rule>[-<part>].benchmark.tsv): wall seconds per rule
(summed over its jobs and genomes) and the largest peak RSS of any job (Snakemake samples RSS every 0.5 s for
15 s, then every 30 s, memory-mapped pages included). Per genome: the dictionary's health on that genome's
held-out blocks (sae_quality.json), annotated latents and concepts (features.tsv), and the atlas's patterns
(results/summary/atlas_latents.tsv).

  .venv/bin/python benchmarks/six_genomes.py                  # run, then print
  .venv/bin/python benchmarks/six_genomes.py --report-only    # print from an earlier run
  options: --workdir DIR (default benchmarks/out/six_genomes), --cores N (default 2),
           --config PATH (default config/six_bacteria.yaml)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_yield import annotated_counts  # noqa: E402
from workflow_runs import benchmark_jobs, run_snakemake  # noqa: E402


def report(workdir: Path) -> None:
    wall = (workdir / "wall_seconds.txt").read_text().strip() if (workdir / "wall_seconds.txt").exists() else "?"
    jobs = benchmark_jobs(workdir)
    per_rule: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for job in jobs:
        row = per_rule[job["rule"]]
        row[0] += job["s"]
        row[1] += job["cpu_s"]
        row[2] = max(row[2], job["max_rss_mb"])
        row[3] += 1
    print(f"wall: {wall} s for the whole run ({len(jobs)} jobs with a benchmark file)")
    print(f"{'rule':28s} {'jobs':>5s} {'wall s':>9s} {'cpu s':>9s} {'peak RSS MB':>12s}")
    for rule, (s, cpu, rss, n) in sorted(per_rule.items(), key=lambda kv: -kv[1][0]):
        print(f"{rule:28s} {n:5d} {s:9.1f} {cpu:9.1f} {rss:12.0f}")
    largest = max(jobs, key=lambda j: j["max_rss_mb"]) if jobs else None
    if largest:
        print(f"largest job: {largest['log']} peak RSS {largest['max_rss_mb']:.0f} MB")
    results = workdir / "results"
    print("\nper genome: dictionary health on its held-out blocks, annotated latents / concepts")
    genomes = [p for p in results.iterdir() if p.name not in ("summary", "dictionaries", "sae_bench")]
    for genome_dir in sorted(p for p in genomes if (p / "sae_quality.json").is_file()):
        quality = json.loads((genome_dir / "sae_quality.json").read_text())
        d = quality.get("dictionary", {})
        latents, concepts, labels = annotated_counts(genome_dir / "features.tsv")
        print(
            f"  {genome_dir.name:16s} L0/d_in {d.get('l0_per_d_in', float('nan')):.3f}"
            f" dead {100 * d.get('dead_fraction', float('nan')):.1f}% dense {100 * d.get('dense_fraction', float('nan')):.1f}%"
            f" FVU {quality.get('fvu', float('nan')):.3f} health {d.get('health', {}).get('pass')}"
            f" | annotated latents {latents}, concepts {concepts}: {', '.join(labels)}"
        )
    pooled = results / "summary" / "sae_quality.json"
    if pooled.is_file():
        q = json.loads(pooled.read_text())
        d = q.get("dictionary", {})
        print(
            f"  {'pooled':16s} L0/d_in {d.get('l0_per_d_in', float('nan')):.3f} dead {100 * d.get('dead_fraction', 0):.1f}%"
            f" dense {100 * d.get('dense_fraction', 0):.1f}% FVU {q.get('fvu', float('nan')):.3f}"
        )
    latents = results / "summary" / "atlas_latents.tsv"
    if latents.is_file():
        import pandas as pd

        table = pd.read_csv(latents, sep="\t")
        print("\natlas patterns:", table["pattern"].value_counts().to_dict())
        shown = table[table["pattern"].isin(["conserved", "divergent", "genome-specific"])]
        print(shown.head(20).to_string(index=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "six_genomes")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "six_bacteria.yaml")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        run_snakemake(args.workdir, args.config.resolve(), args.cores, link_config=True)
    report(args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
