"""Model-card measurements: held-out bits/nucleotide vs a 5th-order Markov model, and linear probes.

Probes follow the issue's protocol: read the + strand of a never-seen genome, label every nucleotide
with (a) codon position 0/1/2 inside + strand CDS and (b) sense CDS vs rest (negatives include
antisense genes), fit a logistic regression on the first contiguous half and score the second half.
The same probes on a 15-nt one-hot context (±7 nt) are the baseline: whatever the model adds beyond
local sequence shows up as the gap. Gene coordinates come from pyrodigal (V. cholerae) or the GenBank
CDS (chloroplast), read directly here so the card does not depend on the labels stage.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnalens.models.markov import MarkovModel, base_codes

log = logging.getLogger(__name__)


@dataclass
class GeneLabels:
    name: str
    seq: str  # + strand, uppercase
    sense: np.ndarray  # bool [L]: inside a + strand CDS
    antisense: np.ndarray  # bool [L]: inside a − strand CDS
    codon: np.ndarray  # int8 [L]: codon position in + strand CDS, −1 elsewhere


def _label(seq: str, cds_parts: list[list[tuple[int, int, int]]], name: str) -> GeneLabels:
    """cds_parts: one list per CDS of (start, end, strand) parts in transcription order, 0-based."""
    n = len(seq)
    sense, anti = np.zeros(n, bool), np.zeros(n, bool)
    codon = np.full(n, -1, np.int8)
    for parts in cds_parts:
        done = 0
        for start, end, strand in parts:
            if strand > 0:
                sense[start:end] = True
                codon[start:end] = (done + np.arange(end - start)) % 3
            else:
                anti[start:end] = True
            done += end - start
    return GeneLabels(name, seq, sense, anti, codon)


def predicted_gene_labels(fasta: str | Path, name: str) -> GeneLabels:
    """First record of a (gzipped) FASTA, genes predicted by pyrodigal in single-genome mode."""
    import pyrodigal
    from Bio import SeqIO

    opener = gzip.open if str(fasta).endswith(".gz") else open
    with opener(fasta, "rt") as handle:
        seq = str(next(SeqIO.parse(handle, "fasta")).seq).upper()
    finder = pyrodigal.GeneFinder(meta=len(seq) < 100_000, mask=True)
    if len(seq) >= 100_000:
        finder.train(seq.encode())
    parts = []
    for g in finder.find_genes(seq.encode()):
        if g.partial_begin or g.partial_end:
            continue  # phase of a truncated gene is uncertain
        parts.append([(g.begin - 1, g.end, g.strand)])
    return _label(seq, parts, name)


def genbank_gene_labels(path: str | Path, name: str) -> GeneLabels:
    """CDS of a GenBank record (joins and trans-splicing kept in transcription order)."""
    from Bio import SeqIO

    record = next(SeqIO.parse(str(path), "genbank"))
    cds = []
    for f in record.features:
        if f.type != "CDS":
            continue
        codon_start = int(f.qualifiers.get("codon_start", ["1"])[0]) - 1
        parts = [(int(p.start), int(p.end), int(p.strand or 1)) for p in f.location.parts]
        if codon_start:  # skip the leading bases before the first full codon
            s, e, st = parts[0]
            parts[0] = (s + codon_start, e, st) if st > 0 else (s, e - codon_start, st)
        cds.append(parts)
    return _label(str(record.seq).upper(), cds, name)


def tiled_windows(length: int, step: int, context: int, every: int = 1) -> list[tuple[int, int, int, int]]:
    """(window start, window end, keep start, keep end): windows with `context` nt on each side of a
    kept core of `step` nt, so every scored nucleotide has context on both sides (for rc_pool)."""
    out = []
    for k, core in enumerate(range(0, length, step)):
        if k % every:
            continue
        a, b = max(0, core - context), min(length, core + step + context)
        out.append((a, b, core, min(length, core + step)))
    return out


def genome_features(
    adapter, labels: GeneLabels, layers: Sequence[str], step: int = 512, context: int = 256, every: int = 1
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Activations of the kept cores (+ strand), concatenated: ({layer: [N, d]}, genome positions [N])."""
    from tqdm import tqdm

    wins = tiled_windows(len(labels.seq), step, context, every)
    feats: dict[str, list[np.ndarray]] = {l: [] for l in layers}
    positions = []
    bs = 16
    for i in tqdm(range(0, len(wins), bs), desc=f"activations {labels.name}", leave=False):
        chunk = wins[i : i + bs]
        acts = adapter.activations([labels.seq[a:b] for a, b, _, _ in chunk], layers)
        for layer in layers:
            for (a, _, ka, kb), arr in zip(chunk, acts[layer]):
                feats[layer].append(arr[ka - a : kb - a].astype(np.float32))
        positions.extend(np.arange(ka, kb) for _, _, ka, kb in chunk)
    return {l: np.concatenate(v) for l, v in feats.items()}, np.concatenate(positions)


def onehot_context(seq: str, positions: np.ndarray, radius: int = 7) -> np.ndarray:
    codes = base_codes(seq)
    out = np.zeros((len(positions), 2 * radius + 1, 4), np.float32)
    for j, off in enumerate(range(-radius, radius + 1)):
        p = positions + off
        ok = (p >= 0) & (p < len(seq))
        c = np.where(ok, codes[np.clip(p, 0, len(seq) - 1)], 4)
        hit = c < 4
        out[np.flatnonzero(hit), j, c[hit]] = 1.0
    return out.reshape(len(positions), -1)


def probe_scores(
    x: np.ndarray, positions: np.ndarray, labels: GeneLabels, max_train: int = 20000, seed: int = 0
) -> dict[str, float]:
    """Codon-position accuracy (within + CDS) and sense-CDS AUROC, trained on the first half."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    half = len(labels.seq) // 2
    first = positions < half

    def sample(mask: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(mask)
        return idx if len(idx) <= max_train else np.sort(rng.choice(idx, max_train, replace=False))

    out: dict[str, float] = {}
    codon = labels.codon[positions]
    tr, te = sample(first & (codon >= 0)), sample(~first & (codon >= 0))
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    clf.fit(x[tr], codon[tr])
    out["codon_accuracy"] = float((clf.predict(x[te]) == codon[te]).mean())
    sense = labels.sense[positions]
    tr, te = sample(first), sample(~first)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    clf.fit(x[tr], sense[tr])
    out["sense_cds_auroc"] = float(roc_auc_score(sense[te], clf.predict_proba(x[te])[:, 1]))
    out["n_test_codon"] = int((~first & (codon >= 0)).sum())
    out["n_test"] = int((~first).sum())
    return out


def window_rows(seq: bytes | np.ndarray, seq_len: int, max_windows: int | None = None) -> np.ndarray:
    arr = np.frombuffer(seq, np.uint8) if isinstance(seq, bytes) else np.asarray(seq, np.uint8)
    n = (len(arr) - 1) // seq_len
    rows = (
        np.stack([arr[i * seq_len : i * seq_len + seq_len + 1] for i in range(n)])
        if n
        else np.zeros((0, seq_len + 1), np.uint8)
    )
    if max_windows and len(rows) > max_windows:
        rows = rows[np.linspace(0, len(rows) - 1, max_windows).astype(int)]
    return rows


def compare_bits(model, markov: MarkovModel, rows: np.ndarray, batch: int = 8) -> dict[str, float]:
    """Model and Markov bits/nt on exactly the same targets: positions >= order with ACGT context."""
    import torch
    import torch.nn.functional as F

    k = markov.order
    m_total = mk_total = 0.0
    count = 0
    dev = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            ids = torch.from_numpy(rows[i : i + batch].astype(np.int64)).to(dev)
            logp = F.log_softmax(model(ids[:, :-1]).float(), -1)
            nll = -logp.gather(-1, ids[:, 1:, None])[..., 0].cpu().numpy() / math.log(2)  # target t+1
            for j in range(len(ids)):
                bits, valid = markov.position_bits(rows[i + j])  # positions k..T
                m_total += float(nll[j, k - 1 :][valid].sum())
                mk_total += float(bits[valid].sum())
                count += int(valid.sum())
    return {"model_bits_per_nt": m_total / count, "markov5_bits_per_nt": mk_total / count, "n_nt": count}


def run_cli(args) -> int:
    """`dnalens eval-model`: writes the JSON the model card quotes."""
    import torch

    from dnalens.atomic import write_text
    from dnalens.devices import resolve_device
    from dnalens.models.base import load_model, model_arg, parse_spec, with_options
    from dnalens.models.tiny_adapter import bundled_path, load_tiny_module
    from dnalens.models.training import read_fasta_bytes, split_holdout
    from dnalens.settings import parse_settings

    s = {
        "layers": None,
        "rc_pools": ["none", "concat"],
        "heldout_fraction": 0.02,
        "seq_len": 1024,
        "max_windows": 200,
        "probe_genomes": {},
        "window_every": 1,
        "threads": 2,
    }
    s.update(parse_settings(args.settings))
    torch.set_num_threads(s["threads"])
    spec = parse_spec(model_arg(args.model))
    result: dict[str, Any] = {"model": str(args.model)}
    # bits/nt: held-out tails of the training genomes and whole unseen genomes
    train_parts, held = [], {}
    for g in args.train_genome:
        for name, seq in read_fasta_bytes(g):
            a, b = split_holdout(seq, s["heldout_fraction"])
            train_parts.append(a)
            held[f"heldout:{Path(g).name}"] = b
    markov = MarkovModel(5).fit(train_parts)
    for key, entry in s["probe_genomes"].items():
        held[f"unseen:{key}"] = np.concatenate([seq for _, seq in read_fasta_bytes(entry["path"])])
    # float32 on the configured device (CUDA when visible): the card's bits/nt are not bfloat16 numbers
    module = load_tiny_module(spec.path or bundled_path()).to(resolve_device(spec.device, what="model.device"))
    module.eval()
    bits = {}
    for key, seq in held.items():
        bits[key] = compare_bits(module, markov, window_rows(seq, s["seq_len"], s["max_windows"]))
        log.info("%s: %s", key, bits[key])
    result["bits"] = bits
    # probes
    probes: dict[str, Any] = {}
    for key, entry in s["probe_genomes"].items():
        labels = (
            genbank_gene_labels(entry["path"], key)
            if entry.get("format") == "genbank"
            else predicted_gene_labels(entry["path"], key)
        )
        probes[key] = {
            "sense_fraction": float(labels.sense.mean()),
            "antisense_fraction": float(labels.antisense.mean()),
        }
        # one rc_pool=concat pass gives all three views: forward half = none, halves averaged = mean
        adapter = load_model(with_options(spec, rc_pool="concat", batch_size=16))
        layers = s["layers"] or adapter.layers
        feats, pos = genome_features(adapter, labels, layers, every=entry.get("window_every", s["window_every"]))
        probes[key]["onehot15"] = probe_scores(onehot_context(labels.seq, pos), pos, labels)
        log.info("%s one-hot: %s", key, probes[key]["onehot15"])
        for layer in layers:
            d = feats[layer].shape[1] // 2
            views = {
                "none": feats[layer][:, :d],
                "concat": feats[layer],
                "mean": (feats[layer][:, :d] + feats[layer][:, d:]) / 2,
            }
            for pool in s["rc_pools"]:
                probes[key][f"{layer}|rc_pool={pool}"] = probe_scores(views[pool], pos, labels)
                log.info("%s %s rc_pool=%s: %s", key, layer, pool, probes[key][f"{layer}|rc_pool={pool}"])
        probes[key]["n_scored_nt"] = int(len(pos))
    result["probes"] = probes
    write_text(args.out, json.dumps(result, indent=1) + "\n")
    if getattr(args, "card", None):
        write_card(Path(spec.path or bundled_path()), result, args.card, args.card_layer, args.card_notes)
    return 0


def write_card(model_dir: Path, evaluation: dict[str, Any], out: str | Path, layer: str, notes: str = "") -> None:
    from dnalens.atomic import write_text
    from dnalens.models.card import render_card

    config = json.loads((model_dir / "config.json").read_text())
    training = (
        json.loads((model_dir / "training.json").read_text())
        if (model_dir / "training.json").exists()
        else config.get("training", {})
    )
    write_text(out, render_card(model_dir.name, training, config, evaluation, layer, notes))
