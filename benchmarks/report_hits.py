"""Hit calling for the report: vectorised `all_hits` vs a per-feature pybedtools merge baseline.

    .venv/bin/python benchmarks/report_hits.py [--tokens 600000] [--features 512] [--k 16]

A TopK-like synthetic buffer (k active features per token, activations in short runs so hits span
several bases) over 1,024-nt windows tiling a circular contig on both strands with 50% overlap. The
baseline is what one would write with the library the project prefers: per feature, the on-token
runs as a BED frame → pybedtools sort + merge (max activation). It runs on a sample of features and is
scaled per feature; both must find the same intervals for those features.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.report.hits import all_hits, feature_runs
from dnalens.report.tokens import build_token_map


def synthetic(n_tokens: int, n_features: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    win_len, step = 1024, 512
    n_windows = n_tokens // win_len
    length = (n_windows // 2) * step
    starts = (np.arange(n_windows) // 2) * step
    windows = pd.DataFrame(
        {
            "contig": "chr",
            "start": starts,
            "end": starts + win_len,
            "strand": np.where(np.arange(n_windows) % 2, "-", "+"),
            "token_start": np.arange(n_windows) * win_len,
            "token_end": (np.arange(n_windows) + 1) * win_len,
        }
    )
    n = n_windows * win_len
    # runs of 8 tokens share a feature so hits are intervals, not single bases
    run_feature = rng.integers(0, n_features, size=(n // 8, k))
    cols = np.repeat(run_feature, 8, axis=0)[:n]
    rows = np.repeat(np.arange(n), k)
    values = rng.gamma(2.0, 1.0, size=n * k).astype(np.float32)
    codes = sp.csr_matrix((values, (rows, cols.ravel())), shape=(n, n_features))
    codes.sum_duplicates()
    return codes, windows, {"chr": length}


def baseline(csc, tokens, feature, cut):
    import pybedtools

    lo, hi = csc.indptr[feature], csc.indptr[feature + 1]
    rows, values = csc.indices[lo:hi].astype(np.int64), csc.data[lo:hi]
    on = values > cut
    runs = feature_runs(np.full(on.sum(), feature), rows[on], values[on], tokens)
    if runs.empty:
        return set()
    bed = pd.DataFrame(
        {
            "chrom": "chr",
            "start": runs["start"],
            "end": runs["end"],
            "name": ".",
            "score": runs["activation"],
            "strand": np.where(runs["minus"], "-", "+"),
        }
    )
    merged = pybedtools.BedTool.from_dataframe(bed).sort().merge(s=True, d=0, c="5,6", o="max,distinct")
    out = {(int(f.start), int(f.end), f.fields[4]) for f in merged}
    pybedtools.cleanup()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=600_000)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--baseline-features", type=int, default=16)
    args = parser.parse_args()
    codes, windows, sizes = synthetic(args.tokens, args.features, args.k)
    tokens = build_token_map(windows, sizes, codes.shape[0])
    csc = codes.tocsc()
    csc.sort_indices()
    maxima = np.asarray(csc.max(axis=0).todense()).ravel()
    relative = np.full(args.features, 0.3)
    t0 = time.perf_counter()
    hits = all_hits(csc, tokens, relative, maxima)
    ours = time.perf_counter() - t0
    sample = np.linspace(0, args.features - 1, args.baseline_features).astype(int)
    t0 = time.perf_counter()
    for f in sample:
        expected = baseline(csc, tokens, int(f), relative[f] * maxima[f])
        got = hits[hits["feature"] == f]
        assert {(int(a), int(b), s) for a, b, s in zip(got["start"], got["end"], got["strand"])} == expected, f
    base = (time.perf_counter() - t0) / len(sample) * args.features
    print(f"tokens {codes.shape[0]:,}  features {args.features}  nnz {codes.nnz:,}  hits {len(hits):,}")
    print(f"all_hits (vectorised)          {ours:8.2f} s")
    print(f"pybedtools per feature (scaled) {base:8.2f} s   ({len(sample)} features timed, same intervals)")
    print(f"speed-up                        {base / ours:8.1f}x")


if __name__ == "__main__":
    main()
