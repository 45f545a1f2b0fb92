"""AUROC matrix: dnalens' nonzero-rank path side by side with the dense rank baseline, one run.

    .venv/bin/python benchmarks/probing_auroc.py                 # small + large, CPU
    .venv/bin/python benchmarks/probing_auroc.py --size small
    .venv/bin/python benchmarks/probing_auroc.py --device cuda   # also time the torch path on a GPU

small: N=50,000 tokens, F=4,096 features, k=32, L=32 concepts: both methods in full, plus exactness
against sklearn.metrics.roc_auc_score on sampled (feature, concept) pairs. Target: ≥ 300× faster.
large: N=1,000,000, F=32,768, k=64, L=100: each measurement in its own process (time + peak RSS,
pinned to 2 cores); the baseline is timed on a feature subsample and scaled (labelled "estimated").
Target: ≤ 20 s and ≤ 3 GB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _probing_data as data  # noqa: E402

SIZES = {"small": (50_000, 4_096, 32, 32), "large": (1_000_000, 32_768, 64, 100)}


def sklearn_error(codes, labels, auroc, pairs) -> float:
    from sklearn.metrics import roc_auc_score

    csc = codes.tocsc()
    worst = 0.0
    for f, lab in pairs:
        y = labels[:, lab]
        if 0 < y.sum() < y.size:
            ref = roc_auc_score(y, csc[:, [f]].toarray().ravel())
            worst = max(worst, abs(ref - auroc[f, lab]))
    return worst


def sample_pairs(auroc_shape, n: int, seed: int = 5) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(auroc_shape[0])), int(rng.integers(auroc_shape[1]))) for _ in range(n)]


def worker(args: list[str]) -> None:
    kind, directory = args[0], Path(args[1])
    data.pin_two_cores()
    from dnalens.probe import auroc_matrix

    if kind == "make":
        n, f, k, n_labels = (int(x) for x in args[2:6])
        codes = data.make_codes(n, f, k)
        labels, instances = data.make_labels(n, n_labels)
        data.save(directory, codes, labels, instances)
        print(json.dumps({"nnz": int(codes.nnz)}))
        return
    codes, labels, _ = data.load(directory)
    if kind == "ours":
        device = args[2]
        with data.Timer() as t:
            auroc = auroc_matrix(codes, labels, device=None if device == "cpu" else device)
        rss = data.peak_rss_mb()
        err = sklearn_error(codes, labels, auroc, sample_pairs(auroc.shape, 12))
        print(
            json.dumps(
                {"seconds": t.seconds, "cpu_seconds": t.cpu_seconds, "peak_rss_mb": rss, "max_err_vs_sklearn": err}
            )
        )
    elif kind == "baseline":
        n_features = int(args[2])
        sub = codes.tocsc()[:, :n_features]
        with data.Timer() as t:
            data.dense_rank_baseline(sub, labels, chunk=32)
        scale = codes.shape[1] / n_features
        print(
            json.dumps({"seconds": t.seconds * scale, "timed_features": n_features, "peak_rss_mb": data.peak_rss_mb()})
        )


def run_small(device: str) -> None:
    from dnalens.probe import auroc_matrix

    n, f, k, n_labels = SIZES["small"]
    codes = data.make_codes(n, f, k)
    labels, _ = data.make_labels(n, n_labels)
    print(f"small: N={n:,} F={f:,} k={k} L={n_labels}  nnz={codes.nnz:,}")
    with data.Timer() as ours_t:
        ours = auroc_matrix(codes, labels)
    with data.Timer() as base_t:
        base = data.dense_rank_baseline(codes, labels)
    pairs = sample_pairs(ours.shape, 200)
    print(f"  (load average {data.load_average():.1f} on {len(os.sched_getaffinity(0))} cores; wall s / CPU s)")
    print(
        f"  dnalens auroc_matrix (CPU)   {ours_t.seconds:9.3f} / {ours_t.cpu_seconds:.3f} s"
        f"   max |err| vs sklearn {sklearn_error(codes, labels, ours, pairs):.1e}"
    )
    print(
        f"  dense rank baseline          {base_t.seconds:9.3f} / {base_t.cpu_seconds:.3f} s"
        f"   max |err| vs sklearn {sklearn_error(codes, labels, base, pairs):.1e}"
    )
    print(
        f"  speed-up                     {base_t.seconds / ours_t.seconds:9.0f} x wall, "
        f"{base_t.cpu_seconds / ours_t.cpu_seconds:.0f} x CPU   (target >= 300 x)"
    )
    if device != "cpu":
        auroc_matrix(codes[:1000], labels[:1000], device=device)  # warm-up
        with data.Timer() as gpu_t:
            gpu = auroc_matrix(codes, labels, device=device)
        print(
            f"  dnalens torch path ({device})  {gpu_t.seconds:9.3f} s   max |diff| vs CPU path {np.abs(gpu - ours).max():.1e}"
        )


def run_large(device: str, baseline_features: int) -> None:
    n, f, k, n_labels = SIZES["large"]
    with tempfile.TemporaryDirectory(prefix="dnalens-bench-") as tmp:
        made = data.run_worker(__file__, "make", tmp, str(n), str(f), str(k), str(n_labels))
        print(f"large: N={n:,} F={f:,} k={k} L={n_labels}  nnz={made['nnz']:,}  (each row: own process, 2 cores)")
        ours = data.run_worker(__file__, "ours", tmp, "cpu")
        print(
            f"  dnalens auroc_matrix (CPU)   {ours['seconds']:9.1f} s wall, {ours['cpu_seconds']:.1f} s CPU, "
            f"peak RSS {ours['peak_rss_mb'] / 1024:.2f} GB, max |err| vs sklearn {ours['max_err_vs_sklearn']:.1e}"
            f"   (target <= 20 s, <= 3 GB; load average {data.load_average():.1f})"
        )
        if baseline_features:
            base = data.run_worker(__file__, "baseline", tmp, str(baseline_features))
            print(
                f"  dense rank baseline          {base['seconds']:9.0f} s   estimated from {baseline_features} features"
                f"   -> {base['seconds'] / ours['seconds']:.0f} x"
            )
        if device != "cpu":
            gpu = data.run_worker(__file__, "ours", tmp, device)
            print(
                f"  dnalens torch path ({device})  {gpu['seconds']:9.1f} s   max |err| vs sklearn {gpu['max_err_vs_sklearn']:.1e}"
            )
        else:
            print("  torch (GPU) path: not timed (run with --device cuda on a GPU host)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=["small", "large", "all"], default="all")
    parser.add_argument("--device", default="cpu", help="cpu, or a torch device such as cuda")
    parser.add_argument(
        "--baseline-features", type=int, default=64, help="features timed for the large baseline (0: skip)"
    )
    args = parser.parse_args()
    data.pin_two_cores()
    if args.size in ("small", "all"):
        run_small(args.device)
    if args.size in ("large", "all"):
        run_large(args.device, args.baseline_features)


if __name__ == "__main__":
    main()
