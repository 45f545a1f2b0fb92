"""Synthetic genome-like inputs with planted feature → concept associations and decoys (for tests)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dnalens.probe.inputs import ProbeInputs


def intervals(rng, n: int, length: int, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """(mask, ids) of random intervals of about `length` covering about `coverage` of n tokens."""
    count = max(1, int(coverage * n / length))
    starts = np.sort(rng.choice(n - length, count, replace=False))
    mask = np.zeros(n, bool)
    ids = np.full(n, -1, np.int32)
    for i, s in enumerate(starts):
        e = s + max(1, int(rng.integers(length // 2, length * 3 // 2 + 1)))
        mask[s:e] = True
        ids[s:e] = i
    return mask, ids


def planted_inputs(seed: int = 0, n: int = 40_000):
    """ProbeInputs + (planted pairs, decoy features). Tokens: one + read of a 40 kb contig."""
    rng = np.random.default_rng(seed)
    specs = {"gene": (800, 0.3), "repeat_region": (200, 0.06), "motif": (12, 0.02), "island": (60, 0.03)}
    names, cols, inst = [], [], []
    for name, (length, cov) in specs.items():
        mask, ids = intervals(rng, n, length, cov)
        names.append(name)
        cols.append(mask)
        inst.append(ids)
    gene = cols[0]
    codon1 = gene & (np.arange(n) % 3 == 0)  # point concept (no instance ids)
    names.append("codon1")
    cols.append(codon1)
    inst.append(np.full(n, -1, np.int32))
    few, few_ids = intervals(rng, n, 100, 0.0001)  # one instance only: never evaluated
    names.append("few")
    cols.append(few)
    inst.append(few_ids)
    labels = np.stack(cols, axis=1)
    instances = np.stack(inst, axis=1)

    features = []
    planted = []
    for c in range(5):  # two planted features per evaluated concept
        for _ in range(2):
            on = labels[:, c] & (rng.random(n) < 0.7)
            on |= rng.random(n) < 0.002
            planted.append((len(features), names[c]))
            features.append(on)
    decoys = []
    for _ in range(30):  # autocorrelated, concept-independent
        mask, _ = intervals(rng, n, int(rng.integers(20, 1000)), float(rng.uniform(0.02, 0.3)))
        decoys.append(len(features))
        features.append(mask & (rng.random(n) < 0.8))
    for _ in range(10):  # iid noise
        decoys.append(len(features))
        features.append(rng.random(n) < 0.05)
    on = np.stack(features, axis=1)
    values = np.where(on, rng.exponential(1.0, on.shape) + 0.05, 0.0).astype(np.float32)
    codes = sp.csr_matrix(values)
    inputs = ProbeInputs(
        codes=codes,
        labels=labels,
        label_names=names,
        instances=instances,
        token_contig=np.zeros(n, np.int64),
        token_position=np.arange(n, dtype=np.int64),
        token_minus=np.zeros(n, bool),
        contig_names=["chr"],
        contig_lengths={"chr": n},
    )
    return inputs, planted, decoys


def frame_inputs(seed: int = 0, n: int = 90_000, gene: int = 900, spacing: int = 3000):
    """+ strand genes (CDS) with codon positions and stop codons (last 3 nt), a random sequence, and
    features: 0 = reading frame (1 on CDS bases, 2 on codon position 3), 1 = a true stop-codon detector,
    2.. = iid noise. Returns ProbeInputs."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    starts = np.cumsum(rng.integers(spacing - gene // 2, spacing + gene // 2, n // spacing)) - spacing // 2
    starts = starts[starts < n - gene]
    cds = np.zeros(n, bool)
    frame = np.full(n, -1, np.int64)
    stop = np.zeros(n, bool)
    for s in starts:
        cds[s : s + gene] = True
        frame[s : s + gene] = (idx[s : s + gene] - s) % 3
        stop[s + gene - 3 : s + gene] = True
    names = ["CDS", "stop_codon", "CDS_codon_pos1", "CDS_codon_pos2", "CDS_codon_pos3"]
    labels = np.stack([cds, stop, frame == 0, frame == 1, frame == 2], axis=1)
    frame_feature = np.where(cds, 1.0 + (frame == 2), 0.0)
    stop_feature = np.where(stop & (rng.random(n) < 0.9), rng.exponential(1.0, n) + 0.5, 0.0)
    stop_feature[rng.random(n) < 0.001] = 0.3
    noise = np.where(rng.random((n, 20)) < 0.05, rng.exponential(1.0, (n, 20)), 0.0)
    values = np.column_stack([frame_feature, stop_feature, noise]).astype(np.float32)
    inputs = ProbeInputs(
        codes=sp.csr_matrix(values),
        labels=labels,
        label_names=names,
        instances=None,
        token_contig=np.zeros(n, np.int64),
        token_position=idx.astype(np.int64),
        token_minus=np.zeros(n, bool),
        contig_names=["chr"],
        contig_lengths={"chr": n},
        sequence={"chr": rng.integers(0, 4, n).astype(np.uint8)},
        edge_distance=np.minimum(idx % 1024, 1023 - idx % 1024),
    )
    return inputs
