"""Benchmark: `dnalens variants` on 10,000 random SNVs of V. cholerae chr2 with the bundled tiny model.

Target (issue #32, benchmarks/README.md): <= 10 min wall and <= 2 GB peak RSS on 2 cores. Needs the demo's
results/vcholerae_chr2/ (genome, annotation, buffer, probe). Run:

    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 .venv/bin/python benchmarks/variants.py [--n 10000] [--window 1024]

Prints wall seconds, peak RSS and the passes run; the SNVs are seeded (uniform positions, a random other base).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "results" / "vcholerae_chr2"


def random_snv_vcf(path: Path, n: int, seed: int) -> None:
    from dnalens.genome.fasta import open_fasta

    fasta = open_fasta(GENOME / "genome.fa")
    contig = list(fasta.keys())[0]
    seq = str(fasta[contig][:]).upper()
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(seq), size=n, replace=False))
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={contig},length={len(seq)}>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for i, p in enumerate(positions):
        ref = seq[p]
        if ref not in "ACGT":
            continue
        alt = rng.choice([b for b in "ACGT" if b != ref])
        lines.append(f"{contig}\t{p + 1}\tsnv{i}\t{ref}\t{alt}\t.\t.\t.")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=None, help="variants.window (default: the schema's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from dnalens.variants.settings import VariantSettings
    from dnalens.variants.stage import run_variants

    settings = (
        VariantSettings() if args.window is None else VariantSettings(window=args.window, shared_span=args.window // 2)
    )
    with tempfile.TemporaryDirectory(prefix="dnalens-variants-bench-") as tmp:
        vcf = Path(tmp) / "snvs.vcf"
        random_snv_vcf(vcf, args.n, args.seed)
        began = time.perf_counter()
        summary = run_variants(
            vcf, GENOME / "genome.fa", GENOME / "annotation.gff3", GENOME / "genome.json", GENOME / "buffer",
            GENOME / "probe", {"trim": 256}, settings, Path(tmp) / "variants", progress=False,
        )  # fmt: skip
        wall = time.perf_counter() - began
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    keys = ("n_alleles_scored", "n_windows", "sequences_run")
    print(json.dumps({"wall_s": round(wall, 1), "peak_rss_gb": round(peak_gb, 2), "settings": summary["settings"],
                      **{k: summary[k] for k in keys}}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
