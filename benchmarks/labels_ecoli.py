"""Labels on E. coli K-12 MG1655 (4.6 Mb, pyrodigal genes, 1,024-nt windows tiling both strands).

Target (issue 2/7): the whole labels stage (concepts + store + BED export) in <= 30 s on 2 cores.
Printed side by side, measured in the same run:
  - dnalens labels (vectorised, genome-wide arrays sliced per window): wall and CPU seconds
  - baseline A: a naive per-window, per-feature Python labeller (CDS + codon positions + bases only,
    9 of the 31 columns), run on a sample of windows and extrapolated to all windows (CPU seconds)
  - baseline B: the I/O floor, writing arrays of the store's shape (np.save of zeros; CPU seconds)
CPU seconds are the comparison that survives a shared machine; the target is on wall time.

Run: .venv/bin/python benchmarks/labels_ecoli.py   (setup: FASTA unzip + pyrodigal, not timed)
"""

from __future__ import annotations

import bisect
import gzip
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FASTA_GZ = ROOT / "resources/genomes/training/ecoli_K12_MG1655.fasta.gz"
WINDOW = 1024
NAIVE_SAMPLE = 200  # windows labelled by the naive baseline


def setup(work: Path):
    from dnalens.formats.window_table import Window, write_windows_bed
    from dnalens.genome.fasta import write_fasta
    from dnalens.genome.gff3 import write_normalized_gff3
    from dnalens.genome.predict import predict_genes

    with gzip.open(FASTA_GZ, "rt") as handle:
        records, name, chunks = [], None, []
        for line in handle:
            if line.startswith(">"):
                if name:
                    records.append((name, "".join(chunks)))
                name, chunks = line[1:].split()[0], []
            else:
                chunks.append(line.strip().upper())
        records.append((name, "".join(chunks)))
    fasta = work / "genome.fa"
    write_fasta(records, fasta)
    t0 = time.perf_counter()
    annotation = predict_genes(dict(records), 11, circular=[records[0][0]])
    t_predict = time.perf_counter() - t0
    lengths = {n: len(s) for n, s in records}
    gff = work / "annotation.gff3"
    write_normalized_gff3(annotation, gff, lengths)
    windows = [
        Window(c, s, min(s + WINDOW, n), strand, f"{c}:{s}{strand}")
        for c, n in lengths.items()
        for s in range(0, n, WINDOW)
        for strand in "+-"
    ]
    write_windows_bed(windows, work / "windows.bed")
    return fasta, gff, work / "windows.bed", records, annotation, windows, t_predict


def naive_labels(seq: str, annotation, windows) -> float:
    """Per-window Python loops: CDS, codon position 1/2/3 and 4 bases; returns seconds for `windows`."""
    cds = sorted((f.start, f.end, f.strand, f.phase or 0) for f in annotation.features if f.type == "CDS")
    starts = [c[0] for c in cds]
    longest = max(e - s for s, e, _, _ in cds)
    t0 = time.process_time()
    for w in windows:
        rows = [[False] * 9 for _ in range(w.length)]
        lo = bisect.bisect_left(starts, w.start - longest)
        for s, e, strand, phase in cds[lo:]:
            if s >= w.end:
                break
            if e <= w.start or strand != w.strand:
                continue
            for pos in range(max(s, w.start), min(e, w.end)):
                k = pos - w.start if w.strand == "+" else w.end - 1 - pos
                offset = (pos - s) if strand == "+" else (e - 1 - pos)
                rows[k][0] = True
                rows[k][1 + (offset - phase) % 3] = True
        for k in range(w.length):
            pos = w.start + k if w.strand == "+" else w.end - 1 - k
            base = seq[pos] if w.strand == "+" else "TGCA"["ACGT".find(seq[pos])]
            rows[k][4 + "ACGT".find(base)] = True
        np.packbits(np.array(rows, dtype=bool), axis=1)
    return time.process_time() - t0


def main() -> int:
    from dnalens.labels.pipeline import run_labels

    work = Path(tempfile.mkdtemp(prefix="dnalens-bench-labels-"))
    try:
        fasta, gff, bed, records, annotation, windows, t_predict = setup(work)
        t0, c0 = time.perf_counter(), time.process_time()
        run = run_labels(
            fasta,
            gff,
            work / "labels",
            windows=bed,
            export_bed_dir=work / "labels_bed",
            summary=work / "concept_summary.tsv",
        )
        t_labels, cpu_labels = time.perf_counter() - t0, time.process_time() - c0
        meta = run.meta
        n, n_cols, n_regions = meta["n_tokens"], len(meta["concept_names"]), len(meta["region_concepts"])

        rng = np.random.default_rng(0)
        sample = [windows[i] for i in rng.choice(len(windows), NAIVE_SAMPLE, replace=False)]
        t_naive = naive_labels(records[0][1], annotation, sample) * len(windows) / NAIVE_SAMPLE

        t0 = time.process_time()
        np.save(work / "floor_labels.npy", np.zeros((n, -(-n_cols // 8)), np.uint8))
        np.save(work / "floor_instances.npy", np.full((n, n_regions), -1, np.int32))
        t_floor = time.process_time() - t0

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        n_cds = sum(1 for f in annotation.features if f.type == "CDS")
        print(
            f"E. coli K-12 MG1655: {sum(len(s) for _, s in records):,} bp, {n_cds:,} pyrodigal CDS "
            f"(prediction {t_predict:.1f} s, not counted), {len(windows):,} windows x {WINDOW} nt, both strands"
        )
        print(
            f"store: {n:,} tokens x {n_cols} concepts ({n_regions} region concepts), "
            f"{meta['n_instances']:,} instances; peak RSS {peak_mb:,.0f} MB"
        )
        print(f"{'':50s}{'wall s':>8s}{'CPU s':>8s}{'CPU x dnalens':>15s}")
        print(f"{'dnalens labels (31 concepts, instances, BED)':50s}{t_labels:8.1f}{cpu_labels:8.1f}{1.0:15.2f}")
        print(f"{'  wall by step: ' + ', '.join(f'{k} {v:.1f}' for k, v in run.seconds.items()):50s}")
        print(
            f"{'baseline A: naive per-window Python, 9 columns':50s}{'':8s}{t_naive:8.1f}"
            f"{t_naive / cpu_labels:15.2f}   (extrapolated from {NAIVE_SAMPLE} windows)"
        )
        print(
            f"{'baseline B: I/O floor, np.save of the same shapes':50s}{'':8s}{t_floor:8.1f}"
            f"{t_floor / cpu_labels:15.2f}"
        )
        print(
            f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
            "(wall time > CPU time when other jobs share the cores)"
        )
        print(f"target <= 30 s: {'PASS' if t_labels <= 30 else 'FAIL'}")
        return 0 if t_labels <= 30 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
