"""Domain F1: dnalens' nonzero-only path side by side with a dense baseline, one run.

    .venv/bin/python benchmarks/probing_f1.py                 # small + large
    .venv/bin/python benchmarks/probing_f1.py --size small

small: N=50,000, F=4,096, k=32, L=32 (instances: interval ids for region concepts, none for point
concepts): dnalens vs the dense way (per threshold a dense [N, chunk] on-matrix, labelsᵀ @ on, and
instance membership ᵀ @ on), both exact, so the F1 matrices must be identical.
large: N=1,000,000, F=32,768, k=64, L=100 in its own process (time + peak RSS, 2 cores).
Target: ≤ 60 s and ≤ 3 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _probing_data as data  # noqa: E402

SIZES = {"small": (50_000, 4_096, 32, 32), "large": (1_000_000, 32_768, 64, 100)}
THRESHOLDS = (0.0, 0.15, 0.5, 0.6, 0.8)


def dense_f1_baseline(codes, labels, instances, thresholds=THRESHOLDS, chunk: int = 256) -> np.ndarray:
    """Best F1 [F, L] computed on dense column blocks (the straightforward vectorised way)."""
    csc = sp.csc_matrix(codes)
    n, f = csc.shape
    fmax = np.asarray(csc.max(axis=0).toarray()).ravel()
    lab = labels.astype(np.float32)
    members, n_inst = [], []
    for j in range(labels.shape[1]):
        ids = np.asarray(instances[:, j])
        inside = np.flatnonzero(ids >= 0)
        if inside.size:
            uniq, local = np.unique(ids[inside], return_inverse=True)
            members.append(sp.csr_matrix((np.ones(inside.size, np.float32), (local, inside)), shape=(uniq.size, n)))
            n_inst.append(uniq.size)
        else:
            members.append(None)
            n_inst.append(int(labels[:, j].sum()))
    n_inst = np.asarray(n_inst, np.float64)
    best = np.zeros((f, labels.shape[1]))
    for f0 in range(0, f, chunk):
        dense = csc[:, f0 : f0 + chunk].toarray()
        for t in thresholds:
            on = (dense > t * fmax[f0 : f0 + chunk]) & (fmax[f0 : f0 + chunk] > 0)
            onf = on.astype(np.float32)
            n_on = onf.sum(axis=0)
            tp = (lab.T @ onf).T.astype(np.float64)
            hits = tp.copy()
            for j, m in enumerate(members):
                if m is not None:
                    hits[:, j] = ((m @ onf) > 0).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.nan_to_num(tp / n_on[:, None])
                r = np.nan_to_num(hits / n_inst[None, :])
                f1 = np.nan_to_num(2 * p * r / (p + r))
            best[f0 : f0 + chunk] = np.maximum(best[f0 : f0 + chunk], f1)
    return best


def worker(args: list[str]) -> None:
    kind, directory = args[0], Path(args[1])
    data.pin_two_cores()
    from dnalens.probe import domain_f1

    if kind == "make":
        n, f, k, n_labels = (int(x) for x in args[2:6])
        codes = data.make_codes(n, f, k)
        labels, instances = data.make_labels(n, n_labels)
        data.save(directory, codes, labels, instances)
        print(json.dumps({"nnz": int(codes.nnz), "region_concepts": int((instances.max(axis=0) >= 0).sum())}))
        return
    codes, labels, instances = data.load(directory)
    with data.Timer() as t:
        result = domain_f1(codes, labels, instances)
    print(
        json.dumps(
            {
                "seconds": t.seconds,
                "cpu_seconds": t.cpu_seconds,
                "peak_rss_mb": data.peak_rss_mb(),
                "mean_best_f1": float(result.f1.mean()),
            }
        )
    )


def run_small(baseline_features: int) -> None:
    from dnalens.probe import domain_f1

    n, f, k, n_labels = SIZES["small"]
    codes = data.make_codes(n, f, k)
    labels, instances = data.make_labels(n, n_labels)
    n_region = int((instances.max(axis=0) >= 0).sum())
    print(f"small: N={n:,} F={f:,} k={k} L={n_labels} ({n_region} region concepts)  nnz={codes.nnz:,}")
    with data.Timer() as ours_t:
        ours = domain_f1(codes, labels, instances)
    sub = codes.tocsc()[:, :baseline_features]
    with data.Timer() as base_t:
        base = dense_f1_baseline(sub, labels, instances)
    scale = f / baseline_features
    print(f"  (load average {data.load_average():.1f}; wall s / CPU s)")
    print(f"  dnalens domain_f1          {ours_t.seconds:9.3f} / {ours_t.cpu_seconds:.3f} s")
    print(
        f"  dense baseline             {base_t.seconds * scale:9.3f} / {base_t.cpu_seconds * scale:.3f} s"
        f"   (estimated: timed on {baseline_features:,} features x {scale:.0f})"
        f"   max |F1 diff| on those {np.abs(ours.f1[:baseline_features] - base).max():.1e}"
    )
    print(
        f"  speed-up                   {base_t.seconds * scale / ours_t.seconds:9.0f} x wall, "
        f"{base_t.cpu_seconds * scale / ours_t.cpu_seconds:.0f} x CPU"
    )


def run_large() -> None:
    n, f, k, n_labels = SIZES["large"]
    with tempfile.TemporaryDirectory(prefix="dnalens-bench-") as tmp:
        made = data.run_worker(__file__, "make", tmp, str(n), str(f), str(k), str(n_labels))
        print(
            f"large: N={n:,} F={f:,} k={k} L={n_labels} ({made['region_concepts']} region concepts)  "
            f"nnz={made['nnz']:,}  (own process, 2 cores)"
        )
        ours = data.run_worker(__file__, "ours", tmp)
        print(
            f"  dnalens domain_f1          {ours['seconds']:9.1f} s wall, {ours['cpu_seconds']:.1f} s CPU, "
            f"peak RSS {ours['peak_rss_mb'] / 1024:.2f} GB   (target <= 60 s, <= 3 GB; "
            f"load average {data.load_average():.1f})"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["small", "large", "all"], default="all")
    parser.add_argument("--baseline-features", type=int, default=1024, help="features the dense baseline is timed on")
    args = parser.parse_args()
    data.pin_two_cores()
    if args.size in ("small", "all"):
        run_small(args.baseline_features)
    if args.size in ("large", "all"):
        run_large()


if __name__ == "__main__":
    main()
