"""Extraction overhead: nnsight capture + fp16 shard writes vs a bare forward pass, in one run.

Target (issue 3/7): capture + write <= 1.15 x a bare forward. Both paths run the same windows in the
same batches; the bare path is `model(ids)` under no_grad with nothing captured. Reports process CPU
seconds (robust to other jobs on shared cores) and wall seconds, best of --repeats.

    .venv/bin/python benchmarks/extract_overhead.py [--windows 64] [--length 1024] [--model DIR]
    .venv/bin/python benchmarks/extract_overhead.py --device cuda [--dtype float32]   # on a GPU host
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dnalens.extract.shards import write_shard  # noqa: E402
from dnalens.models.base import load_model  # noqa: E402
from dnalens.models.tiny_adapter import bundled_path  # noqa: E402
from dnalens.models.tokenizer import encode  # noqa: E402


def timed(fn, device: torch.device = torch.device("cpu")):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)  # CUDA calls return early
    sync()
    w, c = time.perf_counter(), time.process_time()
    fn()
    sync()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=64)
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", default="blocks.6,blocks.7", help="comma-separated; each timed on its own")
    ap.add_argument("--model", default=str(bundled_path()))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (model.device)")
    ap.add_argument("--dtype", default="auto", help="auto (bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), args.length)) for _ in range(args.windows)]
    adapter = load_model({"family": "tiny", "path": args.model, "batch_size": args.batch, "rc_pool": "none",
                          "device": args.device, "dtype": args.dtype})
    batches = [torch.from_numpy(np.stack([encode(s) for s in seqs[i : i + args.batch]])).to(adapter.device)
               for i in range(0, len(seqs), args.batch)]

    def bare():
        with torch.no_grad():
            for ids in batches:
                adapter.model(ids)

    tmp = Path(tempfile.mkdtemp(prefix="extract-bench-"))

    def capture_and_write(layer):
        shard = np.empty((args.windows * args.length, adapter.d_model(layer)), np.float16)
        for i in range(0, len(seqs), args.batch):
            acts = adapter.activations(seqs[i : i + args.batch], [layer])[layer]
            for k, a in enumerate(acts):
                shard[(i + k) * args.length : (i + k + 1) * args.length] = a
        write_shard(tmp, 0, shard, list(range(args.windows)), list(range(0, len(shard) + 1, args.length)),
                    {"layer": layer})

    layers = args.layers.split(",")
    bare()
    for layer in layers:
        capture_and_write(layer)  # warm-up
    b_runs = [timed(bare, adapter.device) for _ in range(args.repeats)]
    bw, bc = min(r[0] for r in b_runs), min(r[1] for r in b_runs)
    tokens = args.windows * args.length
    print(f"model {args.model}, {len(adapter.layers)} blocks, {args.windows} windows x {args.length} nt, "
          f"batch {args.batch}, {args.threads} threads, device {adapter.device} {str(adapter.dtype).removeprefix('torch.')}, "
          f"best of {args.repeats}")
    print(f"{'path':<40}{'wall s':>9}{'CPU s':>9}{'tokens/s':>10}{'ratio wall':>12}{'ratio CPU':>11}")
    print(f"{'bare forward (logits, nothing saved)':<40}{bw:>9.2f}{bc:>9.2f}{tokens / bw:>10.0f}{1:>12.3f}{1:>11.3f}")
    for layer in layers:
        c_runs = [timed(lambda: capture_and_write(layer), adapter.device) for _ in range(args.repeats)]
        cw, cc = min(r[0] for r in c_runs), min(r[1] for r in c_runs)
        name = f"capture {layer} + fp16 shard write"
        print(f"{name:<40}{cw:>9.2f}{cc:>9.2f}{tokens / cw:>10.0f}{cw / bw:>12.3f}{cc / bc:>11.3f}")
    print("target: capture + write <= 1.15 x bare forward (the trace stops after the deepest captured layer)")


if __name__ == "__main__":
    main()
