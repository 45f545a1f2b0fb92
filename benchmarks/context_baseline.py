"""What the matched-context baseline costs per genome, and what it changes: on a finished run's genomes.

  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/context_baseline.py [RESULTS] [--genomes G ...] [--mode kmer]

RESULTS (default results/) must hold per genome buffer/, labels/, genome.fa and probe/summary.json (its probe
settings give the same split). For each genome: the probe stage's plan (split, matched controls), the k-mer/GC/
edge baselines, then the matched-context baseline (`probe.context_baseline`) timed on its own (wall seconds;
the issue's target is <= 60 s per demo genome on 2 cores). Prints per evaluated concept the strongest baseline
without and with it (held-out AUROC), and every matched control with its outcome.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from pathlib import Path

import numpy as np


def run(genome: Path, mode: str | None) -> dict:
    from dnalens.probe.concept_baselines import concept_baselines, with_context_baseline
    from dnalens.probe.inputs import inputs_from_buffer
    from dnalens.probe.settings import ProbeSettings
    from dnalens.probe.stage import plan_probing

    stored = json.loads((genome / "probe" / "summary.json").read_text()).get("settings", {})
    fields = {f.name for f in dataclasses.fields(ProbeSettings)}
    settings = ProbeSettings(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in stored.items() if k in fields})
    if mode:
        settings = dataclasses.replace(settings, context_baseline=mode)
    inputs = inputs_from_buffer(
        genome / "buffer", genome / "labels", genome / "genome.fa", columns=False, read_dense=False
    )
    t0 = time.perf_counter()
    plan = plan_probing(inputs, settings)
    t_plan = time.perf_counter() - t0
    t0 = time.perf_counter()
    kmer = concept_baselines(plan)
    t_kmer = time.perf_counter() - t0
    t0 = time.perf_counter()
    both = with_context_baseline(kmer, plan, settings)
    t_context = time.perf_counter() - t0
    names_k, _, test_k, _ = kmer.best()
    names_b, _, test_b, _ = both.best()
    rows = []
    for j, concept in enumerate(inputs.label_names):
        if plan.evaluated[j]:
            rows.append((concept, names_k[j], test_k[j], names_b[j], test_b[j], both.auroc_test[-1, j]))
    return {
        "tokens": inputs.n_tokens,
        "train": int(plan.train.size),
        "test": int(plan.test.size),
        "plan_s": t_plan,
        "kmer_baselines_s": t_kmer,
        "context_s": t_context,
        "rows": rows,
        "controls": [(c.label, c.status, c.summary()) for c in plan.controls + plan.untestable],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", default="results")
    parser.add_argument("--genomes", nargs="*", default=["vcholerae_chr2", "chloroplast"])
    parser.add_argument("--mode", default=None, help="kmer / onehot (default: the run's probe settings)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.genomes:
        out = run(Path(args.results) / name, args.mode)
        print(
            f"\n== {name}: {out['tokens']:,} tokens ({out['train']:,} train / {out['test']:,} held-out); plan "
            f"{out['plan_s']:.1f} s, k-mer baselines {out['kmer_baselines_s']:.1f} s, "
            f"matched-context baseline {out['context_s']:.1f} s"
        )
        print(f"{'concept':36s} {'best before':>11s} {'AUROC':>6s}  {'best now':>8s} {'AUROC':>6s}  {'context':>7s}")
        for concept, nk, ak, nb, ab, ac in out["rows"]:
            print(f"{concept:36s} {nk:>11s} {ak:6.3f}  {nb:>8s} {ab:6.3f}  {ac:7.3f}")
        stronger = sum(nb == "context" for _, _, _, nb, _, _ in out["rows"])
        print(f"context is the strongest (train-chosen) baseline for {stronger} of {len(out['rows'])} concepts")
        for label, status, summary in out["controls"]:
            counts = {k: v for k, v in summary.items() if k.startswith("n_")}
            print(f"control {label}: {status} {counts}")
    np.set_printoptions()


if __name__ == "__main__":
    main()
