"""The layer scan on a finished run's genomes: time and peak RSS per genome, the layer rule on each genome and
across them, and two checks against the run itself.

  .venv/bin/python benchmarks/layer_scan.py [RESULTS] [--out DIR] [--settings JSON]

RESULTS (default results/) must hold a finished run (per genome windows.bed, genome.fa, labels/, probe/). Each
genome is scanned by `dnalens layer-scan` with OMP_NUM_THREADS=1 (the rule's one thread) into DIR/<genome>/
(default benchmarks/out/layer_scan/), with the run's own probe settings (probe/summary.json) and model.trim 256
(the demo's). Checks: the scan's split equals the probe stage's (probe/split.json, every block and side), and at
the SAE's layer the scan's held-out AUROC sits beside the probe stage's dense probe (concepts.parquet, fitted
on 50,000 train tokens and scored on every held-out token of the genome).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def scan(genome: Path, out: Path, settings: str, probe: dict) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system: the wall time on a free core), peak RSS in GB) of one
    `dnalens layer-scan`."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        "/usr/bin/time",
        "-f",
        "%e %U %S %M",
        "-o",
        str(out / "time.txt"),
        str(Path(sys.executable).with_name("dnalens")),
        "layer-scan",
        "--windows",
        str(genome / "windows.bed"),
        "--fasta",
        str(genome / "genome.fa"),
        "--labels",
        str(genome / "labels"),
        "--model",
        '{"trim": 256}',
        "--settings",
        settings,
        "--probe-settings",
        json.dumps(probe),
        "--out",
        str(out / "layer_scan.tsv"),
    ]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                   stderr=open(out / "layer_scan.log", "w"))  # fmt: skip
    wall, user, system, rss_kb = (float(v) for v in (out / "time.txt").read_text().split()[-4:])
    return wall, user + system, rss_kb / 1e6


def split_matches(genome: Path, probe: dict) -> bool:
    """Whether the scan's split of the genome-wide tokens has the probe stage's blocks and sides."""
    from types import SimpleNamespace

    from dnalens.formats.label_store import LabelStore
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.probe.commands import duplicate_groups
    from dnalens.probe.layer_scan import genome_split
    from dnalens.probe.settings import ProbeSettings
    from dnalens.settings import from_mapping

    settings = from_mapping(ProbeSettings, probe, where="probe")
    windows = read_windows_bed(genome / "windows.bed")
    lengths = {str(k): int(v) for k, v in LabelStore.open(genome / "labels").meta["contigs"].items()}
    names = list(dict.fromkeys(w.contig for w in windows))
    groups, _ = duplicate_groups(
        settings, SimpleNamespace(contig_names=names, contig_lengths=lengths), genome / "genome.fa"
    )
    ours = genome_split(windows, (256, 256), lengths, settings, groups).split.to_json()
    theirs = json.loads((genome / "probe" / "split.json").read_text())
    return ours["blocks"] == theirs["blocks"] and ours["n_test_tokens"] == theirs["n_test_tokens"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", type=Path)
    parser.add_argument("--out", default="benchmarks/out/layer_scan", type=Path)
    parser.add_argument("--settings", default="{}", help="the layer_scan: section as JSON")
    args = parser.parse_args(argv)
    genomes = sorted(p for p in args.results.iterdir() if (p / "probe" / "split.json").is_file())
    means = {}
    for genome in genomes:
        probe = json.loads((genome / "probe" / "summary.json").read_text())["settings"]
        began = time.strftime("%Y-%m-%d %H:%M")
        wall, cpu, rss = scan(genome, args.out / genome.name, args.settings, probe)
        table = pd.read_csv(args.out / genome.name / "layer_scan.tsv", sep="\t")
        summary = json.loads((args.out / genome.name / "layer_scan.json").read_text())
        means[genome.name] = pd.Series(summary["layer_mean_auroc_train_cv"])
        sae_layer = json.loads((genome / "sae_quality.json").read_text()).get("layer", "blocks.6")
        dense = pd.read_parquet(genome / "probe" / "concepts.parquet").set_index("concept")["dense_probe_auroc"]
        at_sae = table[(table["layer"] == sae_layer) & (table["kind"] == "binary")].set_index("concept")["auroc_test"]
        both = pd.concat([at_sae, dense], axis=1, join="inner").dropna()
        print(
            f"\n{genome.name} ({began}): {wall:.1f} s wall, {cpu:.1f} s CPU, {rss:.2f} GB peak RSS; "
            f"sample {summary['sample']}"
        )
        print(f"  split equals probe/split.json: {split_matches(genome, probe)}")
        print(
            f"  at {sae_layer}: scan held-out AUROC - probe stage's dense probe, |median| over {len(both)} concepts "
            f"{np.median(np.abs(both.iloc[:, 0] - both.iloc[:, 1])):.4f}, max {np.abs(both.iloc[:, 0] - both.iloc[:, 1]).max():.4f}"
        )
        print(f"  rule picks {summary['chosen_layer']}; SAE layer {sae_layer}")
        wide = table.pivot_table(index="concept", columns="layer", values=["auroc_train_cv", "auroc_test"])
        keep = [
            c
            for c in ("CDS", "gene", "CDS_codon_pos1", "CDS_codon_pos2", "CDS_codon_pos3", "intergenic")
            if c in wide.index
        ]
        print(wide.loc[keep].round(3).to_string())
        cat = table[table["kind"] == "categorical"].set_index("layer")[
            ["balanced_accuracy_train_cv", "balanced_accuracy_test"]
        ]
        print("  codon_position balanced accuracy (cross-fitted train / held-out):")
        print(cat.round(3).T.to_string())
    frame = pd.DataFrame(means)
    frame["mean over genomes"] = frame.mean(axis=1)
    print("\nmean cross-fitted train AUROC over the binary concepts, per layer:")
    print(frame.round(4).to_string())
    from dnalens.probe.layer_probes import choose_layer
    from dnalens.probe.layer_scan import LayerScanSettings

    tolerance = json.loads(args.settings).get("tolerance", LayerScanSettings().tolerance)
    across = frame["mean over genomes"]
    print(
        f"the rule across genomes (earliest within {tolerance:g} of the best) picks {choose_layer(across, tolerance)}; "
        f"the highest mean is {across.idxmax()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
