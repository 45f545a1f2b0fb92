"""Ablation effects at the issue's size: 32 latents on 200 held-out 1 kb windows with the bundled tiny model.

  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/effects.py [RESULTS] [--genome G] [--latents 32] [--windows 200]

RESULTS (default results/) must hold a finished demo run. The latents are the genome's annotated ones, then the
most frequent others, up to --latents; each gets effects.n_controls (default 4) matched controls and a random
direction, as the rule would. `dnalens effects` runs with --threads 2 into benchmarks/out/effects/<genome>/
(the run's results are only read). Prints wall time, CPU time, peak RSS, the interventions run and the ratio
to the target (<= 120 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

TARGET_S = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results")
    parser.add_argument("--genome", default="vcholerae_chr2")
    parser.add_argument("--latents", type=int, default=32)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/out/effects")
    args = parser.parse_args()
    genome = Path(args.results) / args.genome
    features = pd.read_parquet(genome / "probe" / "features.parquet")
    annotated = features.loc[features["annotated"], "feature"].astype(int).tolist()
    others = features.loc[~features["annotated"]].sort_values("frequency", ascending=False)["feature"].astype(int)
    latents = (annotated + [f for f in others if f not in annotated])[: args.latents]
    out = Path(args.out) / args.genome
    out.mkdir(parents=True, exist_ok=True)
    settings = {"latents": latents, "n_windows": args.windows}
    cmd = [
        "/usr/bin/time", "-f", "%e %U %S %M", "-o", str(out / "time.txt"),
        str(Path(sys.executable).with_name("dnalens")), "effects",
        "--buffer", str(genome / "buffer"), "--probe", str(genome / "probe"), "--fasta", str(genome / "genome.fa"),
        "--model", json.dumps({"family": "tiny", "trim": 256}), "--settings", json.dumps(settings),
        "--threads", "2", "--out", str(out / "effects.tsv"),
    ]  # fmt: skip
    with open(out / "effects.log", "w") as log:
        subprocess.run(cmd, check=True, stderr=log)
    wall, user, system, rss_kb = (float(x) for x in (out / "time.txt").read_text().split())
    table = pd.read_csv(out / "effects.tsv", sep="\t")
    windows = sum(1 for _ in open(out / "windows.bed"))
    print(
        f"effects on {args.genome}: {len(latents)} latents, {windows} held-out windows, "
        f"{len(table)} interventions ({(table['role'] == 'matched_control').sum()} matched controls): "
        f"{wall:.1f} s wall, {user + system:.1f} s CPU, peak RSS {rss_kb / 1e6:.2f} GB; "
        f"target {TARGET_S:.0f} s -> {wall / TARGET_S:.2f}x of target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
