"""Steering at the issue's target size on a finished run's genome: 4 latents × 5 strengths × 8 sequences × 1 kb.

  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/steer.py [RESULTS/GENOME] [--out DIR] [--settings JSON]

RESULTS/GENOME (default results/vcholerae_chr2) must hold a finished run (buffer/, probe/, windows.bed,
genome.fa). `dnalens steer` runs with the bundled tiny model (model.trim 256, the demo's) and steer.latents
empty, strongest 4 (one per dictionary atom), into DIR (default benchmarks/out/steer/). Prints wall time, CPU
time, peak RSS, rows generated, and per latent the mean readouts of steered rows at the extreme strengths
beside the random-direction control and the unsteered rows (target: <= 3 min on 2 cores). The generation
itself is timed against a full forward per step on a small slice, in the same run (the ratio the incremental
stepper buys).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

TARGET = {"strongest": 4, "strengths": [-8, -4, 0, 4, 8], "n_sequences": 8, "length": 1000, "prompt_length": 256}


def stepper_ratio() -> tuple[float, float]:
    """Seconds for 8 sequences × 64 new bases after a 256-nt prompt: incremental vs full forward per step."""
    import numpy as np
    import torch

    from dnalens.models.base import load_model
    from dnalens.steer.directions import RowEdit
    from dnalens.steer.generate import generate, sequence_uniforms
    from dnalens.steer.stepper import FullForwardStepper, TinyStepper

    adapter = load_model({"family": "tiny", "trim": 256})
    rng = np.random.default_rng(0)
    prompts = ["".join(rng.choice(list("ACGT"), 256)) for _ in range(8)]
    uniforms = sequence_uniforms(range(8), 64)
    times = []
    for cls in (TinyStepper, FullForwardStepper):
        t = time.time()
        generate(cls(adapter, "blocks.6", RowEdit(torch.zeros(8, 128)), 0, 330), prompts, uniforms, 1.0)
        times.append(time.time() - t)
    return times[0], times[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("genome", nargs="?", default="results/vcholerae_chr2")
    parser.add_argument("--out", default="benchmarks/out/steer")
    parser.add_argument("--settings", default=json.dumps(TARGET))
    args = parser.parse_args()
    g, out = Path(args.genome), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "dnalens.cli", "steer", "--buffer", str(g / "buffer"), "--probe", str(g / "probe"),
        "--windows", str(g / "windows.bed"), "--fasta", str(g / "genome.fa"), "--model", '{"trim": 256}',
        "--settings", args.settings, "--out", str(out / "steer.tsv"), "--figures", str(out / "figures"),
    ]  # fmt: skip
    start = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        print(done.stderr[-3000:])
        return done.returncode
    table = pd.read_csv(out / "steer.tsv", sep="\t")
    print(
        f"threads {os.environ.get('OMP_NUM_THREADS', 'default')}: {len(table)} rows ({table['id'].nunique()} ids), "
        f"wall {wall:.1f} s, CPU {usage.ru_utime + usage.ru_stime:.1f} s, peak RSS {usage.ru_maxrss / 1e6:.2f} GB"
    )
    keys = ["latent_activation", "gc", "gc_frame_skew", "period3_power", "genes_per_kb", "kmer4_jsd",
            "homopolymer_fraction", "loglik_unsteered"]  # fmt: skip
    ends = table[(table["strength"].abs() == table["strength"].abs().max()) | (table["control"] == "unsteered")]
    summary = ends.groupby(["latent", "label", "control", "strength"], dropna=False)[keys].mean().round(3)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.to_string())
    fast, slow = stepper_ratio()
    print(
        f"generation, 8 seqs x 64 nt after 256: incremental {fast:.2f} s, full forward per step {slow:.2f} s "
        f"({slow / fast:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
