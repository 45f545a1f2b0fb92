"""`dnalens explain` on a 10 kb region of a finished run's genome: wall time, CPU time and peak RSS against the
target (issue #32: <= 20 s on 2 cores), and the check that the region's codes are the ones the run stored.

  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/explain.py [GENOME_DIR] [--region R] [--repeats N] [--out DIR]

GENOME_DIR (default results/vcholerae_chr2) must hold a finished run (genome.fa, annotation.gff3, windows.bed,
buffer/, probe/). The command runs as a user would (a fresh process each time: imports and model load included)
into DIR (default benchmarks/out/explain/); the best and median of N runs are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

TARGET_S = 20.0


def run_once(genome: Path, region: str, out: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS GB) of one `dnalens explain --region`."""
    out.mkdir(parents=True, exist_ok=True)
    timing = out / "time.txt"
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), str(Path(sys.executable).with_name("dnalens"))]
    cmd += ["explain", "--region", region, "--genome-dir", str(genome), "--out", str(out / "region")]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    _, user, system, rss_kb = timing.read_text().split()[-4:]
    return wall, float(user) + float(system), int(rss_kb) / 1e6


def stored_equal(genome: Path, region: str, out: Path) -> float:
    """Share of the region's (position, shown latent) values equal to the run's stored codes (+ strand windows)."""
    from dnalens.explain.inputs import parse_region
    from dnalens.formats.codes import read_csr

    r = parse_region(region)
    table = pd.read_csv(out / "region" / "explain.tsv", sep="\t")
    latents = pd.read_csv(out / "region" / "latents.tsv", sep="\t")
    n_features = json.loads((genome / "buffer" / "buffer.json").read_text())["n_features"]
    stored = read_csr(genome / "buffer", "codes", n_features).to_scipy()
    windows = pd.read_parquet(genome / "buffer" / "windows.parquet")
    plus = windows[(windows.strand == "+") & (windows.contig == r.contig)]
    want = np.full((r.end - r.start, len(latents)), np.nan)
    cols = latents["feature"].to_numpy()
    for w in plus.itertuples():
        first, n = w.start + w.read_offset, w.token_end - w.token_start
        a, b = max(r.start, first), min(r.end, first + n)
        if a < b:
            want[a - r.start : b - r.start] = stored[w.token_start + a - first : w.token_start + b - first][
                :, cols
            ].toarray()
    got = table[list(latents["column"])].to_numpy()
    seen = np.isfinite(want)
    return float(np.isclose(got[seen], want[seen], rtol=1e-5, atol=0).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("genome", nargs="?", type=Path, default=Path("results/vcholerae_chr2"))
    parser.add_argument("--region", default="CP001236.1:20001-30000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/explain"))
    args = parser.parse_args()
    runs = [run_once(args.genome, args.region, args.out) for _ in range(args.repeats)]
    walls = [r[0] for r in runs]
    print(
        f"dnalens explain --region {args.region} ({args.genome}), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print(f"  wall  best {min(walls):.1f} s, median {statistics.median(walls):.1f} s over {len(runs)} runs")
    print(f"  CPU   median {statistics.median(r[1] for r in runs):.1f} s; peak RSS {max(r[2] for r in runs):.2f} GB")
    print(f"  target {TARGET_S:.0f} s: best / target = {min(walls) / TARGET_S:.2f}")
    print(f"  shown latents equal to the run's stored codes: {stored_equal(args.genome, args.region, args.out):.4%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
