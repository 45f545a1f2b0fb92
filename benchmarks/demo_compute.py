"""Extraction of windows read on both strands, sharing each pair's passes vs two passes per window, in one run.

The demo reads every window on both strands (`windows.strands: both`) with `model.rc_pool: concat`, so a
window's reverse-complement pass is its partner window's forward pass. With the partner in the same batch
its rows are taken from that pass (models.base.rc_partners) instead of running the model again: half the
forward passes, the same bytes. Timed for the stored path (`adapter.activations`, extract_part) and the
fused path (`sae.fused.device_rows`, encode_part), each against its old form (rc_partners patched to
find nothing) in the same run; the script checks the rows for byte equality and prints process CPU
seconds (robust to other jobs on shared cores) and wall, best of --repeats, one thread as a Snakemake job.

    .venv/bin/python benchmarks/demo_compute.py [--pairs 16] [--length 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import dnalens.models.base as model_base  # noqa: E402
from dnalens.formats.window_table import reverse_complement  # noqa: E402
from dnalens.models.base import load_model  # noqa: E402
from dnalens.sae.fused import device_rows  # noqa: E402


def best(fn, repeats: int):
    """(result of the last call, best wall s, best CPU s)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, min(walls), min(cpus)


def extract_case(pairs: int, length: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    adapter = load_model({"family": "tiny", "rc_pool": "concat", "device": "cpu"})
    seqs = []
    for _ in range(pairs):  # as windows.bed lists them: each window on + then -
        s = "".join(rng.choice(list("ACGT"), length))
        seqs += [s, reverse_complement(s)]
    trim = (length // 4, length // 4)

    def stored():
        return [a.tobytes() for a in adapter.activations(seqs, ["blocks.6"])["blocks.6"]]

    def fused():  # encode_part's batches: --batch windows per pass
        b = adapter.spec.batch_size
        return [
            device_rows(adapter, seqs[i : i + b], "blocks.6", trim).numpy().tobytes() for i in range(0, len(seqs), b)
        ]

    print(f"{2 * pairs} windows of {length:,} nt, both strands, rc_pool concat, bundled model, CPU, one thread")
    for name, fn in (("stored (extract_part)", stored), ("fused (encode_part)", fused)):
        new, new_wall, new_cpu = best(fn, repeats)
        with mock.patch.object(model_base, "rc_partners", lambda seqs, rc: None):
            old, old_wall, old_cpu = best(fn, repeats)
        print(f"  {name}")
        print(f"    two passes per window : {old_cpu:7.2f} CPU s {old_wall:7.2f} wall s")
        print(
            f"    strand pairs share    : {new_cpu:7.2f} CPU s {new_wall:7.2f} wall s   ratio {new_cpu / old_cpu:.2f}"
        )
        print(f"    same bytes            : {new == old}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=16, help="windows per strand")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as a Snakemake job of one thread (OMP_NUM_THREADS=1)
    extract_case(args.pairs, args.length, args.repeats)


if __name__ == "__main__":
    main()
