"""Shared by the whole-workflow benchmarks (six_genomes.py, sae_bench.py): run snakemake on a config in a
working directory of its own, and read back Snakemake's per-job benchmark files."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]


def run_snakemake(workdir: Path, config: Path, cores: int, targets: Sequence[str] = (), link_config: bool = False):
    """Wall seconds of `snakemake --cores N [targets] --configfile config` in `workdir` (a `resources` link to
    the repository's, and with `link_config` a mirror of config/ for configs naming a sheet there); the time
    is also written to workdir/wall_seconds.txt."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "resources").exists():
        (workdir / "resources").symlink_to(ROOT / "resources")
    if link_config:
        for path in (ROOT / "config").rglob("*"):
            target = workdir / "config" / path.relative_to(ROOT / "config")
            if path.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(path)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    profile = ROOT / "workflow" / "profiles" / "default"
    command = [str(bin_dir / "snakemake"), "-s", str(ROOT / "Snakefile"), "--cores", str(cores)]
    command += ["--workflow-profile", str(profile), *targets, "--configfile", str(config)]
    start = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True)
    wall = time.perf_counter() - start
    (workdir / "wall_seconds.txt").write_text(f"{wall:.1f}\n")
    return wall


def benchmark_jobs(workdir: Path) -> list[dict]:
    """One dict per job with a benchmark file (logs/**/<rule>[-<part>].benchmark.tsv): `rule` (the scatter part
    dropped), `log` (the file's path under logs/, without the suffix), `s`, `cpu_s`, `max_rss_mb` (0 where
    Snakemake recorded none)."""
    jobs = []
    for path in sorted((workdir / "logs").rglob("*.benchmark.tsv")):
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        last, name = rows[-1], path.name.removesuffix(".benchmark.tsv")
        jobs.append(
            {
                "rule": re.sub(r"-\d+$", "", name),
                "log": path.relative_to(workdir / "logs").with_name(name),
                "s": float(last["s"]),
                "cpu_s": float(last.get("cpu_time") or 0.0),
                "max_rss_mb": float(last["max_rss"]) if last["max_rss"] not in ("", "NA", "-") else 0.0,
            }
        )
    return jobs
