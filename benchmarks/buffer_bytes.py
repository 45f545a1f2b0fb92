"""ActivationBuffer bytes per token: sparse fp16/uint16 codes + bit-packed labels vs dense F x 2 codes.

    .venv/bin/python benchmarks/buffer_bytes.py                          # synthetic Evo 2-like + tiny-like
    .venv/bin/python benchmarks/buffer_bytes.py --buffer results/chloroplast/buffer   # a built buffer

Synthetic buffers are written with ActivationBuffer.save and measured on disk (file sizes), side by side
with the dense baseline (the same codes as a float16 [N, F] .npy, written in the same run) and with
the target k x 4 + L / 8 bytes per token (k x 6 past 65,536 latents: int32 indices). Also times opening
the buffer and materialising `.codes` against loading the dense array, and transposing the one row-major
copy into the feature-major view probing and the report read. Target: codes within 10 % of k x 4 bytes
per token (+ 8 for the row pointers). Whole results/ directories, file by file: benchmarks/results_bytes.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dnalens.formats.buffer import ActivationBuffer  # noqa: E402
from dnalens.formats.codes import CsrArrays  # noqa: E402

# name: (tokens, features F, k, labels L, region concepts R)
SIZES = {"tiny-like": (100_000, 1_024, 32, 40, 12), "evo2-like": (20_000, 32_768, 64, 100, 30)}


def synthetic_buffer(n: int, f: int, k: int, n_labels: int, n_regions: int, seed: int = 0) -> ActivationBuffer:
    import pandas as pd

    rng = np.random.default_rng(seed)
    indices = (
        np.sort(rng.random((n, f)).argpartition(k, axis=1)[:, :k], axis=1).astype(np.int32).ravel()
        if f * n <= 50_000_000
        else np.sort(rng.integers(0, f, (n, k)), axis=1).astype(np.int32).ravel()
    )
    values = rng.exponential(1.0, n * k).astype(np.float16)
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    labels = np.packbits(rng.random((n, n_labels)) < 0.2, axis=1)
    instances = np.where(rng.random((n, n_regions)) < 0.2, rng.integers(0, 500, (n, n_regions)), -1).astype(np.int32)
    w = 1000
    starts = np.arange(0, n, w)
    windows = pd.DataFrame(
        {
            "row": np.arange(len(starts)),
            "contig": "chr",
            "start": starts,
            "end": starts + w,
            "strand": "+",
            "name": "w",
            "token_start": starts,
            "token_end": np.minimum(starts + w, n),
            "read_offset": 0,
        }
    )
    return ActivationBuffer(
        codes=CsrArrays(indptr, indices, values, f),
        labels_packed=labels,
        label_names=[f"c{i}" for i in range(n_labels)],
        instances=instances,
        instance_names=[f"c{i}" for i in range(n_regions)],
        windows=windows,
    )


def disk_bytes(path: Path, names: tuple[str, ...]) -> int:
    return sum(os.path.getsize(path / name) for name in names)


def measure(buffer: ActivationBuffer, k: float, workdir: Path, write_dense: bool) -> dict:
    path = buffer.path if buffer.path is not None else buffer.save(workdir / "buffer")
    n, f, n_labels = buffer.n_tokens, buffer.n_features, len(buffer.label_names)
    codes = disk_bytes(path, ("codes.indptr.npy", "codes.indices.npy", "codes.values.npy")) / n
    # a buffer built by `dnalens buffer` reads both through its label store (0 bytes here); one built in
    # memory holds labels.npy and instance-id runs (formats/instance_runs.py)
    labels = disk_bytes(path, tuple(p.name for p in path.glob("labels.npy"))) / n
    instances = disk_bytes(path, tuple(p.name for p in path.glob("instances.*.npy"))) / n
    t0 = time.perf_counter()
    opened = ActivationBuffer.open(path)
    csr = opened.codes
    open_s = time.perf_counter() - t0
    dense_bytes = n * f * 2 + 128
    load_dense_s = None
    if write_dense:
        dense_path = workdir / "dense_codes.npy"
        dense = np.lib.format.open_memmap(dense_path, mode="w+", dtype=np.float16, shape=(n, f))
        for start in range(0, n, 1000):
            dense[start : start + 1000] = csr[start : start + 1000].toarray()
        dense.flush()
        del dense
        dense_bytes = os.path.getsize(dense_path)
        t0 = time.perf_counter()
        np.load(dense_path).max()
        load_dense_s = time.perf_counter() - t0
        dense_path.unlink()
    t0 = time.perf_counter()
    columns = opened.feature_columns
    transpose_s = time.perf_counter() - t0
    del columns
    per_value = 2 + np.dtype(opened.code_arrays.indices.dtype).itemsize
    return {
        "tokens": n,
        "features": f,
        "k": k,
        "labels": n_labels,
        "codes_B": codes,
        "labels_B": labels,
        "instances_B": instances,
        "target_B": k * per_value + n_labels / 8,
        "dense_B": dense_bytes / n,
        "open_s": open_s,
        "load_dense_s": load_dense_s,
        "transpose_s": transpose_s,
        "per_value": per_value,
    }


def report(name: str, m: dict) -> None:
    ratio = m["dense_B"] / (m["codes_B"] + m["labels_B"])
    print(f"\n{name}: N={m['tokens']:,} F={m['features']:,} k={m['k']:.1f} L={m['labels']}")
    print(f"  {'':34s}{'bytes/token':>14s}")
    pv = m["per_value"]
    print(
        f"  {'sparse codes (fp16 + index + indptr)':34s}{m['codes_B']:14.1f}   target k x {pv} = {m['k'] * pv:.1f}"
        f"  ({m['codes_B'] / (m['k'] * pv):.3f}x)"
    )
    print(f"  {'labels (bit-packed)':34s}{m['labels_B']:14.1f}   L / 8 = {m['labels'] / 8:.1f}")
    print(f"  {'codes + labels':34s}{m['codes_B'] + m['labels_B']:14.1f}   target {m['target_B']:.1f}")
    print(f"  {'instances (runs, separate)':34s}{m['instances_B']:14.1f}")
    print(f"  {'dense baseline F x 2':34s}{m['dense_B']:14.1f}   -> sparse is {ratio:.0f}x smaller")
    dense_t = "" if m["load_dense_s"] is None else f"; np.load of the dense baseline {m['load_dense_s']:.2f} s"
    print(f"  open + .codes (CSR float32) {m['open_s']:.2f} s{dense_t}")
    print(f"  feature-major view transposed on demand (temporary, 6 B/value) {m['transpose_s']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", help="measure this built buffer instead of synthetic ones")
    parser.add_argument("--no-dense", action="store_true", help="compute the dense baseline size instead of writing it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dnalens-bench-") as tmp:
        if args.buffer:
            buf = ActivationBuffer.open(args.buffer)
            report(args.buffer, measure(buf, buf.nnz / max(buf.n_tokens, 1), Path(tmp), not args.no_dense))
            return
        for name, (n, f, k, n_labels, n_regions) in SIZES.items():
            buf = synthetic_buffer(n, f, k, n_labels, n_regions)
            report(name, measure(buf, k, Path(tmp) / name, not args.no_dense))


if __name__ == "__main__":
    main()
