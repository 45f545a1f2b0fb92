"""The probe stage as one job and scattered (probe_part x parts + probe_linear, then the gather), one run.

    .venv/bin/python benchmarks/probe_scatter.py results/vcholerae_chr2 --parts 1 2 --workers 2

Reads a finished run's buffer, labels and genome.fa (never writes there; outputs go to a temporary
directory). The scattered rows run their jobs as Snakemake would on `--workers` cores: probe_linear
first (its rule has priority), the parts after it, at most `workers` at once, then the gather. Prints
wall and CPU seconds (user + system of the `dnalens` processes) per row and as ratios to the one-job row,
and checks that every scattered probe directory equals the one job's byte for byte. Without the dense
sample (a temp() output, gone after a run) neither side fits the dense probe.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _run(cmd: list[str], log: Path) -> float:
    """CPU seconds (user + system) of the finished command."""
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)} (log: {log})")
    return usage.ru_utime + usage.ru_stime


def row(genome: Path, work: Path, parts: int, workers: int) -> tuple[float, float]:
    """(wall, CPU) of one configuration; parts = 0: the single job."""
    work.mkdir(parents=True)
    settings = work / "settings.json"
    settings.write_text(json.dumps({"parts": max(parts, 1)}))
    base = [sys.executable, "-m", "dnalens.cli", "probe", "--buffer", str(genome / "buffer")]
    base += ["--labels", str(genome / "labels"), "--fasta", str(genome / "genome.fa"), "--settings", str(settings)]
    began = time.perf_counter()
    if parts == 0:
        cpu = _run([*base, "--out", str(work / "probe")], work / "single.log")
        return time.perf_counter() - began, cpu
    paths = [work / f"part-{i}.npz" for i in range(parts)]
    jobs = [([*base, "--linear-out", str(work / "linear")], work / "linear.log")]
    jobs += [
        ([*base, "--part", str(i), "--parts", str(parts), "--part-out", str(p)], work / f"part-{i}.log")
        for i, p in enumerate(paths)
    ]
    with ThreadPoolExecutor(workers) as pool:
        cpu = sum(pool.map(lambda job: _run(*job), jobs))
    gather = [*base[:3], "probe-merge", *map(str, paths), "--linear", str(work / "linear"), *base[4:]]
    gather += ["--out", str(work / "probe")]
    cpu += _run(gather, work / "gather.log")
    return time.perf_counter() - began, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("genome", type=Path, help="results/<genome> of a finished run")
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", type=int, default=2, help="jobs at once (Snakemake --cores)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="probe-scatter-") as tmp:
        rows = {"one job": row(args.genome, Path(tmp) / "single", 0, args.workers)}
        single = {p.name: p.read_bytes() for p in (Path(tmp) / "single" / "probe").iterdir()}
        for parts in args.parts:
            rows[f"parts={parts}"] = row(args.genome, Path(tmp) / f"parts{parts}", parts, args.workers)
            scattered = {p.name: p.read_bytes() for p in (Path(tmp) / f"parts{parts}" / "probe").iterdir()}
            assert scattered == single, f"parts={parts}: probe directory differs from the one job's"
    wall0, cpu0 = rows["one job"]
    print(f"{'':10} {'wall s':>8} {'CPU s':>8} {'wall/one':>9} {'CPU/one':>8}   (workers={args.workers})")
    for name, (wall, cpu) in rows.items():
        print(f"{name:10} {wall:8.1f} {cpu:8.1f} {wall / wall0:9.2f} {cpu / cpu0:8.2f}")
    print("every scattered probe directory is byte-identical to the one job's")


if __name__ == "__main__":
    main()
