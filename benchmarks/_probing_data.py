"""Synthetic SAE codes and genome-like labels for the probing benchmarks (shared by auroc and f1).

Codes: TopK-style, k nonzeros per token, features drawn with Zipf-like frequencies (a few fire on
~10% of tokens, most are rare), values exponential and rounded to bfloat16 precision (as codes from
a bf16 model are), so the nonzeros hold ties too. Labels: each concept is a set of intervals along
the token axis with its own interval length (1 nt .. 3 kb) and coverage (0.1% .. 50%); concepts with
intervals longer than 3 nt carry instance ids (regions), the others are point concepts (id −1).
Also the dense rank baseline, written the usual way (argsort ranks of dense column chunks).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def bf16_round(x: np.ndarray) -> np.ndarray:
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + np.uint32(0x8000)) & np.uint32(0xFFFF0000)).view(np.float32)


def make_codes(n: int, f: int, k: int, seed: int = 0, rows_per_step: int = 100_000) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    weight = 1.0 / (np.arange(f) + 20.0) ** 0.9
    cdf = np.cumsum(rng.permutation(weight))
    cdf /= cdf[-1]
    parts = []
    for r0 in range(0, n, rows_per_step):
        m = min(rows_per_step, n - r0)
        cols = np.searchsorted(cdf, rng.random((m, k))).astype(np.int32)
        cols.sort(axis=1)
        vals = bf16_round(rng.exponential(size=(m, k)).astype(np.float32) + 0.01)
        part = sp.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, m * k + 1, k)), shape=(m, f))
        part.sum_duplicates()  # a repeated draw becomes one larger value
        part.data = bf16_round(part.data)
        parts.append(part)
    return sp.vstack(parts, format="csr")


def make_labels(n: int, n_labels: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """labels bool [n, L] and instances int32 [n, L] (−1 outside or for point concepts)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((n, n_labels), bool)
    instances = np.full((n, n_labels), -1, np.int32)
    for lab in range(n_labels):
        length = float(np.exp(rng.uniform(0, np.log(3000))))
        coverage = float(np.exp(rng.uniform(np.log(0.001), np.log(0.5))))
        count = max(1, int(coverage * n / length))
        starts = np.sort(rng.integers(0, n, count))
        lengths = np.maximum(1, rng.geometric(1 / length, count))
        ends = np.minimum(starts + lengths, n)
        col = np.zeros(n + 1, np.int32)
        np.add.at(col, starts, 1)
        np.add.at(col, ends, -1)
        labels[:, lab] = np.cumsum(col[:-1]) > 0
        if length > 3:  # region concept: id = index of the last interval started at or before the token
            ids = np.searchsorted(starts, np.arange(n), side="right") - 1
            instances[:, lab] = np.where(labels[:, lab], ids, -1)
    return labels, instances


def save(dirpath: Path, codes: sp.csr_matrix, labels: np.ndarray, instances: np.ndarray) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    np.save(dirpath / "data.npy", codes.data)
    np.save(dirpath / "indices.npy", codes.indices)
    np.save(dirpath / "indptr.npy", codes.indptr)
    np.save(dirpath / "labels.npy", labels)
    np.save(dirpath / "instances.npy", instances)
    (dirpath / "shape.json").write_text(json.dumps(list(codes.shape)))


def load(dirpath: Path) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    shape = tuple(json.loads((dirpath / "shape.json").read_text()))
    codes = sp.csr_matrix(
        (np.load(dirpath / "data.npy"), np.load(dirpath / "indices.npy"), np.load(dirpath / "indptr.npy")),
        shape=shape,
    )
    return codes, np.load(dirpath / "labels.npy"), np.load(dirpath / "instances.npy", mmap_mode="r")


def dense_rank_baseline(codes, labels: np.ndarray, chunk: int = 256) -> np.ndarray:
    """AUROC the usual way: argsort ranks of dense [N, chunk] column blocks, then labelsᵀ @ ranks.

    Plain argsort ranks break ties by position, so on SAE codes (mostly tied zeros) they are biased.
    """
    csc = sp.csc_matrix(codes)
    n, f = csc.shape
    lab = labels.astype(np.float64)
    n_pos = lab.sum(axis=0)
    n_neg = n - n_pos
    out = np.empty((f, labels.shape[1]))
    for f0 in range(0, f, chunk):
        dense = csc[:, f0 : f0 + chunk].toarray()
        ranks = dense.argsort(axis=0).argsort(axis=0).astype(np.float64) + 1
        u = lab.T @ ranks
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f0 : f0 + chunk] = ((u - (n_pos * (n_pos + 1) / 2)[:, None]) / (n_pos * n_neg)[:, None]).T
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pin_two_cores() -> None:
    """The targets are for 2 cores: pin this process (and its BLAS threads) to at most two."""
    try:
        cpus = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError):
        pass


def run_worker(script: str, *args: str) -> dict:
    """Run one measurement in a fresh process (its own peak RSS); it prints one JSON line last."""
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


class Timer:
    """Wall seconds and CPU seconds of this process (the machine may be shared: both are printed)."""

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_seconds = time.process_time() - self.c0
