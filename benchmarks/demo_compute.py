"""The demo's compute, each case against its old form in the same run: strand pairs sharing passes, passes
that stop at the last kept row, and BatchTopK training steps with a numpy cut-off.

The demo reads every window on both strands (`windows.strands: both`) with `model.rc_pool: concat`, so a
window's reverse-complement pass is its partner window's forward pass. With the partner in the same batch
its rows are taken from that pass (models.base.rc_partners) instead of running the model again: half the
forward passes, the same bytes. Timed for the stored path (`adapter.activations`, sample_part) and the
fused path (`sae.fused.device_rows`, encode_part), each against its old form (rc_partners patched to
find nothing) in the same run; the script checks the rows for byte equality and prints process CPU
seconds (robust to other jobs on shared cores) and wall, best of --repeats, one thread as a Snakemake job.

With `model.trim` a causal byte-level model's passes stop at the last kept row (models.base.unread_tail):
the stored path with the demo's trims (a quarter of the window at each end) against whole passes
(unread_tail patched to 0); the kept rows agree up to rounding, so the script prints the largest
difference and the share of float16 values that differ instead of byte equality.

BatchTopK training (the demo's SAE: strand-shared, 4 x 128 latents, k 8, trinucleotide lookup, 512 concat
rows = 1,024 strand states per step, on the bundled model's activations of the chloroplast's 150 windows): steps with `batch_topk`'s numpy cut-off against
torch.topk (`_cutoff` patched to find nothing); the trained weights must be byte-identical.

    .venv/bin/python benchmarks/demo_compute.py [--pairs 16] [--length 1024] [--steps 150]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import dnalens.models.base as model_base  # noqa: E402
from dnalens.formats.window_table import reverse_complement  # noqa: E402
from dnalens.models.base import load_model  # noqa: E402
from dnalens.sae.fused import device_rows  # noqa: E402


def best(fn, repeats: int):
    """(result of the last call, best wall s, best CPU s)."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, min(walls), min(cpus)


def sample_case(pairs: int, length: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    adapter = load_model({"family": "tiny", "rc_pool": "concat", "device": "cpu"})
    seqs = []
    for _ in range(pairs):  # as windows.bed lists them: each window on + then -
        s = "".join(rng.choice(list("ACGT"), length))
        seqs += [s, reverse_complement(s)]
    trim = (length // 4, length // 4)

    def stored():
        return [a.tobytes() for a in adapter.activations(seqs, ["blocks.6"])["blocks.6"]]

    def fused():  # encode_part's batches: --batch windows per pass
        b = adapter.spec.batch_size
        return [
            device_rows(adapter, seqs[i : i + b], "blocks.6", trim).numpy().tobytes() for i in range(0, len(seqs), b)
        ]

    print(f"{2 * pairs} windows of {length:,} nt, both strands, rc_pool concat, bundled model, CPU, one thread")
    for name, fn in (("stored (sample_part)", stored), ("fused (encode_part)", fused)):
        new, new_wall, new_cpu = best(fn, repeats)
        with mock.patch.object(model_base, "rc_partners", lambda seqs, rc: None):
            old, old_wall, old_cpu = best(fn, repeats)
        print(f"  {name}")
        print(f"    two passes per window : {old_cpu:7.2f} CPU s {old_wall:7.2f} wall s")
        print(
            f"    strand pairs share    : {new_cpu:7.2f} CPU s {new_wall:7.2f} wall s   ratio {new_cpu / old_cpu:.2f}"
        )
        print(f"    same bytes            : {new == old}")


def trimmed_pass_case(pairs: int, length: int, repeats: int) -> None:
    rng = np.random.default_rng(1)
    adapter = load_model({"family": "tiny", "rc_pool": "concat", "device": "cpu"})
    seqs = []
    for _ in range(pairs):
        s = "".join(rng.choice(list("ACGT"), length))
        seqs += [s, reverse_complement(s)]
    trim = (length // 4, length // 4)

    def kept():
        rows = adapter.activations(seqs, ["blocks.6"], trim)["blocks.6"]
        return np.concatenate([r[trim[0] : r.shape[0] - trim[1]] for r in rows])

    new, new_wall, new_cpu = best(kept, repeats)
    with mock.patch.object(type(adapter), "unread_tail", lambda self, trim: 0):
        old, old_wall, old_cpu = best(kept, repeats)
    print(f"  passes with trims {trim} (stored path)")
    print(f"    whole windows read    : {old_cpu:7.2f} CPU s {old_wall:7.2f} wall s")
    print(f"    stop at last kept row : {new_cpu:7.2f} CPU s {new_wall:7.2f} wall s   ratio {new_cpu / old_cpu:.2f}")
    differ = float(np.mean(new.astype(np.float16) != old.astype(np.float16)))
    print(f"    kept rows: max |diff| {np.abs(new - old).max():.2e}, float16 values that differ {differ:.2e}")


def sae_step_case(steps: int, repeats: int) -> None:
    from Bio import SeqIO

    import dnalens.sae.batchtopk as batchtopk
    from dnalens.sae.settings import SaeSettings
    from dnalens.sae.training import train_sae

    rng = np.random.default_rng(2)
    adapter = load_model({"family": "tiny", "rc_pool": "concat", "device": "cpu"})
    genome = str(SeqIO.read(ROOT / "resources/genomes/NC_000932.gb", "genbank").seq)  # the demo's chloroplast
    seqs = [genome[a : a + 1024] for a in range(0, len(genome) - 1024, 1024)]  # real states: few dead latents
    rows = np.concatenate([r[256:768] for r in adapter.activations(seqs, ["blocks.6"], (256, 256))["blocks.6"]])
    settings = SaeSettings(
        architecture="batchtopk",
        base_lookup=3,
        strand_shared=True,
        expansion=4,
        k=8,
        lr=0.004,
        batch_size=1024,
        tokens=1024 * steps,
        aux_k_coef=1.0,
        device="cpu",
        replicate=False,
    )
    per_step = settings.rows_per_batch  # 512 concat rows = 1,024 strand states, as the demo trains
    batches = [
        (torch.from_numpy(rows[i : i + per_step].copy()), torch.from_numpy(rng.integers(0, 125, per_step)))
        for i in range(0, rows.shape[0] - per_step + 1, per_step)
    ]

    def train():
        stream = (batches[i % len(batches)] for i in range(steps + 1))
        sae = train_sae(stream, rows.shape[1], settings, progress=False).sae
        return b"".join(t.detach().numpy().tobytes() for t in sae.state_dict().values())

    new, new_wall, new_cpu = best(train, repeats)
    with mock.patch.object(batchtopk, "_cutoff", lambda flat, keep: None):
        old, old_wall, old_cpu = best(train, repeats)
    print(f"  BatchTopK training, {steps} steps of {per_step} concat rows ({2 * per_step} strand states x 512 latents)")
    print(f"    torch.topk            : {old_cpu:7.2f} CPU s {old_wall:7.2f} wall s")
    print(f"    numpy cut-off         : {new_cpu:7.2f} CPU s {new_wall:7.2f} wall s   ratio {new_cpu / old_cpu:.2f}")
    print(f"    same weights          : {new == old}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=16, help="windows per strand")
    ap.add_argument("--length", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--steps", type=int, default=150, help="SAE training steps per timed run")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as a Snakemake job of one thread (OMP_NUM_THREADS=1)
    sample_case(args.pairs, args.length, args.repeats)
    trimmed_pass_case(args.pairs, args.length, args.repeats)
    sae_step_case(args.steps, args.repeats)


if __name__ == "__main__":
    main()
