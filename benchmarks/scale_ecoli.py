"""Scale: the whole workflow on E. coli K-12 (4.64 Mb, both strands) next to the chloroplast (154 kb).

Runs `snakemake` on config/genomes/chloroplast.yaml (the baseline) and config/genomes/ecoli_k12.yaml,
each in its own working directory (a `resources` link to the repository's), with the tiny model on
CPU, then reads Snakemake's per-job benchmark files (logs/<genome>/<rule>[-<part>].benchmark.tsv) and
prints, per rule, wall seconds (summed over scatter parts), CPU seconds and peak RSS (the largest of
the rule's jobs) side by side with the E. coli / chloroplast ratios. Target: peak RSS of every rule
within 1.5x of the chloroplast's (memory bounded by shards and chunks, not by genome length).

Peak RSS is what Snakemake's benchmark records (psutil RSS summed over the job's processes), sampled
every 0.5 s for the first 15 s of a job and every 30 s after that (a short peak between samples is
missed; a job under MIN_SAMPLED_S is marked "not sampled"). It counts resident pages of memory-mapped
files too, so a job that reads or writes .npy files through np.memmap shows those pages as well.

  .venv/bin/python benchmarks/scale_ecoli.py                 # run both workflows, print the table
  .venv/bin/python benchmarks/scale_ecoli.py --report-only   # only read the benchmark files again
  options: --workdir DIR (default benchmarks/out/scale_ecoli), --cores N (default 2), --target RULE,
           --forcerun RULE... (rerun from these rules on, e.g. after changing the code of a stage)
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE, SUBJECT = "chloroplast", "ecoli_k12"
RSS_TARGET = 1.5
# Snakemake samples a job's memory every 0.5 s for 15 s, then every 30 s: a job shorter than this was
# sampled before (or while) its program started, so its RSS is not compared.
MIN_SAMPLED_S = 1.5
# Rules in workflow order; a scattered rule's parts are reported as one row ("labels_part x4").
ORDER = [
    "prepare",
    "windows",
    "labels_part",
    "labels",
    "sample_windows",
    "sample_part",
    "sample",
    "train_sae",
    "train_sae_replicate",
    "encode_part",
    "encode",
    "sae_quality",
    "buffer",
    "probe_part",
    "probe_linear",
    "probe",
    "report",
]


# Put on PYTHONPATH for the benchmark runs only: every Python process (each `dnalens` job) writes its
# exact peak RSS (getrusage ru_maxrss, the kernel's high-water mark) to stderr, i.e. the rule's log.
PEAK_RSS_HOOK = """import atexit, resource, sys


def _peak_rss():
    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stderr.write(f"[scale_ecoli] peak RSS {mb:.1f} MB: {' '.join(sys.argv[:2])}\\n")


atexit.register(_peak_rss)
"""
PEAK_LINE = re.compile(r"^\[scale_ecoli\] peak RSS ([0-9.]+) MB: .*dnalens", re.M)


def run_workflow(workdir: Path, genome: str, cores: int, target: str | None, forcerun: list[str]) -> float:
    """One snakemake run in `workdir`; returns its wall seconds (the log goes to workdir/snakemake.log)."""
    workdir.mkdir(parents=True, exist_ok=True)
    link = workdir / "resources"
    if not link.exists():
        link.symlink_to(ROOT / "resources")
    hook = workdir / ".peak_rss_hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(PEAK_RSS_HOOK)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
    }
    cmd = [
        str(bin_dir / "snakemake"),
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(ROOT / "workflow/profiles/default"),
        "--cores",
        str(cores),
        *(["--until", target] if target else []),
        *(["--forcerun", *forcerun] if forcerun else []),
        "--configfile",
        str(ROOT / "config/genomes" / f"{genome}.yaml"),
    ]
    began = time.monotonic()
    with open(workdir / "snakemake.log", "w") as log:
        code = subprocess.run(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        sys.exit(f"snakemake failed for {genome} (exit {code}); see {workdir / 'snakemake.log'}")
    return time.monotonic() - began


def read_benchmarks(workdir: Path, genome: str) -> dict[str, dict[str, float]]:
    """rule -> {jobs, s (sum), cpu (sum), rss (max MB, sampled), exact (max MB, ru_maxrss from the rule
    log; 0 when absent)} from logs/<genome>/*.benchmark.tsv and *.log."""
    out: dict[str, dict[str, float]] = defaultdict(
        lambda: {"jobs": 0, "s": 0.0, "cpu": 0.0, "rss": 0.0, "longest": 0.0, "exact": 0.0}
    )
    for path in sorted((workdir / "logs" / genome).glob("*.benchmark.tsv")):
        rule = re.sub(r"-\d+$", "", path.name.removesuffix(".benchmark.tsv"))
        with open(path) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        last = rows[-1]  # a rerun appends; the last line is the run that produced the outputs
        entry = out[rule]
        entry["jobs"] += 1
        entry["s"] += float(last["s"])
        entry["cpu"] += _number(last.get("cpu_time"))
        entry["rss"] = max(entry["rss"], _number(last.get("max_rss")))
        entry["longest"] = max(entry["longest"], float(last["s"]))
        log = path.with_name(path.name.replace(".benchmark.tsv", ".log"))
        peaks = [float(m) for m in PEAK_LINE.findall(log.read_text(errors="replace"))] if log.exists() else []
        entry["exact"] = max([entry["exact"], *peaks])
    return dict(out)


def genome_length(workdir: Path, genome: str) -> int:
    """Total contig length from the run's chrom.sizes."""
    sizes = workdir / "results" / genome / "chrom.sizes"
    return sum(int(line.split("\t")[1]) for line in sizes.read_text().splitlines() if line.strip())


def _number(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def table(base: dict, subject: dict) -> tuple[list[str], list[str]]:
    """Markdown rows, and the rules whose peak RSS ratio is above the target. Peak RSS is the exact
    ru_maxrss of the rule's largest job where its log has it, else Snakemake's sampled max_rss."""
    head = (
        "| rule | jobs | chloroplast s | E. coli s | time × | chloroplast CPU s | E. coli CPU s "
        "| chloroplast peak RSS MB | E. coli peak RSS MB | RSS × | ≤ 1.5× | Snakemake max_rss MB (chl. / E. coli) |"
    )
    lines = [head, "|" + "|".join(["---"] * 12) + "|"]
    over = []
    rules = [r for r in ORDER if r in base or r in subject] + sorted((set(base) | set(subject)) - set(ORDER))
    totals = {"b": 0.0, "s": 0.0, "bc": 0.0, "sc": 0.0}
    for rule in rules:
        b, s = base.get(rule), subject.get(rule)
        if not b or not s:
            lines.append(f"| {rule} | – | {_fmt(b, 's')} | {_fmt(s, 's')} | – | – | – | – | – | – | – | – |")
            continue
        for key, entry in (("b", b), ("s", s)):
            totals[key] += entry["s"]
            totals[key + "c"] += entry["cpu"]
        sampled = f"{b['rss']:.0f} / {s['rss']:.0f}"
        cols = (
            f"| {rule} | {int(s['jobs'])} | {b['s']:.1f} | {s['s']:.1f} | {s['s'] / max(b['s'], 1e-9):.1f} "
            f"| {b['cpu']:.1f} | {s['cpu']:.1f} "
        )
        exact = b["exact"] > 0 and s["exact"] > 0
        if not exact and min(b["longest"], s["longest"]) < MIN_SAMPLED_S:
            lines.append(cols + f"| – | – | – | not sampled | {sampled} |")
            continue
        rb, rs = (b["exact"], s["exact"]) if exact else (b["rss"], s["rss"])
        ratio = rs / rb if rb else float("nan")
        ok = ratio <= RSS_TARGET
        if not ok:
            over.append(rule)
        lines.append(cols + f"| {rb:.0f} | {rs:.0f} | {ratio:.2f} | {'yes' if ok else 'NO'} | {sampled} |")
    lines.append(
        f"| all jobs | | {totals['b']:.0f} | {totals['s']:.0f} | {totals['s'] / max(totals['b'], 1e-9):.1f} "
        f"| {totals['bc']:.0f} | {totals['sc']:.0f} | | | | | |"
    )
    return lines, over


def largest_job(entries: dict) -> tuple[str, float]:
    """The rule whose single job peaked highest (exact ru_maxrss where logged): the memory a machine
    running the workflow one job at a time must have."""
    rule = max(entries, key=lambda r: entries[r]["exact"] or entries[r]["rss"])
    return rule, entries[rule]["exact"] or entries[rule]["rss"]


def _fmt(entry: dict | None, key: str) -> str:
    return "–" if not entry else f"{entry[key]:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "scale_ecoli")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--target", help="stop at this rule (snakemake --until)")
    parser.add_argument("--report-only", action="store_true", help="read existing benchmark files only")
    parser.add_argument(
        "--forcerun",
        nargs="+",
        default=[],
        metavar="RULE",
        help="rerun these rules and everything after them (after a code change)",
    )
    args = parser.parse_args(argv)
    walls = {}
    if not args.report_only:
        for genome in (BASELINE, SUBJECT):
            walls[genome] = run_workflow(args.workdir / genome, genome, args.cores, args.target, args.forcerun)
            print(f"{genome}: snakemake wall {walls[genome]:.0f} s", flush=True)
    base = read_benchmarks(args.workdir / BASELINE, BASELINE)
    subject = read_benchmarks(args.workdir / SUBJECT, SUBJECT)
    if not base or not subject:
        sys.exit(f"no benchmark files under {args.workdir}/<genome>/logs: run without --report-only first")
    nt = {g: genome_length(args.workdir / g, g) for g in (BASELINE, SUBJECT)}
    print(
        f"\nE. coli K-12 ({nt[SUBJECT]:,} nt) vs chloroplast ({nt[BASELINE]:,} nt): "
        f"{nt[SUBJECT] / nt[BASELINE]:.1f}x the genome, both strands, tiny model on CPU, --cores {args.cores}\n"
    )
    lines, over = table(base, subject)
    print("\n".join(lines))
    print(
        f"\npeak RSS within {RSS_TARGET}x of the chloroplast: "
        + ("every rule" if not over else f"NOT for {', '.join(over)}")
    )
    (rb, mb), (rs, ms) = largest_job(base), largest_job(subject)
    print(
        f"largest job: chloroplast {mb:.0f} MB ({rb}), E. coli {ms:.0f} MB ({rs}): {ms / mb:.2f}x "
        f"({'within' if ms / mb <= RSS_TARGET else 'NOT within'} {RSS_TARGET}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
