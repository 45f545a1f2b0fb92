"""How much of a run's feature annotation survives an independent check (issue #17's targets).

    .venv/bin/python benchmarks/annotation_trust.py results/vcholerae_chr2 [results/chloroplast ...]

For each genome directory it reads the probe tables, features.tsv and sae_quality.json, and recomputes,
independently of the probe stage's own baselines, a centred 5-mer baseline per concept: P(concept | 5-mer
in read orientation) counted on the train blocks of probe/split.json, scored on the held-out blocks with
sklearn's roc_auc_score. It prints, side by side for the annotated features:

- how many are annotated, and how many of those have held-out AUROC < 0.65 for their own label;
- how many beat that independent 5-mer baseline on their label (held-out AUROC above the baseline's);
- SAE health (L0 / d_in per strand state, dead and dense shares, decoder cosine to the initialisation);
- rows in features.tsv against latents (a strand-shared SAE listed twice gives 2×).

Works on results from before and after the trust changes (old tables: `annotation`; new: `label` +
`annotated`). Point concepts scored against frame-matched controls use the all-token baseline here, so
their row is only a reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from dnalens.concepts.genome_data import encode
from dnalens.formats.buffer import ActivationBuffer
from dnalens.probe.inputs import token_coordinates

K = 5
PSEUDO = 1.0


def centred_kmer_codes(genome: dict[str, np.ndarray], contigs: list[str], cidx, pos, minus) -> np.ndarray:
    """Code of the centred K-mer of every token in its read orientation (− reads: reverse complement)."""
    codes = np.zeros(pos.size, np.int64)
    half = K // 2
    for c, name in enumerate(contigs):
        rows = np.flatnonzero(cidx == c)
        seq = genome[name].astype(np.int64)
        n = seq.size
        for i, off in enumerate(range(-half, half + 1)):
            plus_base = seq[(pos[rows] + off) % n]
            minus_base = seq[(pos[rows] - off) % n]
            minus_base = np.where(minus_base < 4, 3 - minus_base, 4)
            base = np.where(minus[rows], minus_base, plus_base)
            codes[rows] += base * 5 ** (K - 1 - i)
    return codes


def token_sides(split: dict, contigs: list[str], cidx, pos) -> np.ndarray:
    """1 = held out, 0 = train, per token, from the block list of probe/split.json."""
    side = np.zeros(pos.size, np.int8)
    for c, name in enumerate(contigs):
        blocks = [b for b in split["blocks"] if b["contig"] == name]
        starts = np.array([b["start"] for b in blocks])
        test = np.array([b["side"] == "test" for b in blocks])
        rows = np.flatnonzero(cidx == c)
        side[rows] = test[np.searchsorted(starts, pos[rows], side="right") - 1]
    return side


def kmer_baseline(labels: np.ndarray, kmer: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Held-out AUROC of P(concept | k-mer) fitted on train tokens, per label column."""
    train, test = side == 0, side == 1
    n_codes = 5**K
    total = np.bincount(kmer[train], minlength=n_codes).astype(float)
    out = np.full(labels.shape[1], np.nan)
    for j in range(labels.shape[1]):
        y = labels[:, j]
        pos_count = np.bincount(kmer[train & y], minlength=n_codes).astype(float)
        score = (pos_count + PSEUDO * y[train].mean()) / (total + PSEUDO)
        yt = y[test]
        if 0 < yt.sum() < yt.size:
            out[j] = roc_auc_score(yt, score[kmer[test]])
    return out


def feature_labels(probe: Path) -> pd.DataFrame:
    """feature, label, annotated, label held-out AUROC — old or new probe tables."""
    feats = pd.read_parquet(probe / "features.parquet")
    pairs = pd.read_parquet(probe / "feature_concept.parquet", columns=["feature", "concept", "auroc_test"])
    if "label" in feats:
        out = feats[["feature", "label", "annotated"]].copy()
    else:
        out = pd.DataFrame(
            {"feature": feats["feature"], "label": feats["annotation"], "annotated": feats["annotation"].notna()}
        )
    pairs["concept"] = pairs["concept"].astype(str)
    out = out.merge(
        pairs.rename(columns={"concept": "label", "auroc_test": "label_auroc_test"}),
        on=["feature", "label"],
        how="left",
    )
    return out


def sae_health(quality: dict) -> dict:
    """Per strand state: the `dictionary` block (sae_quality.json since #17), else derived from row figures."""
    d = quality.get("dictionary")
    if d:
        return {
            "L0/d_in": d["l0_per_d_in"],
            "dead": d["dead_fraction"],
            "dense": d["dense_fraction"],
            "init_cosine": d.get("init_cosine_median"),
            "seed_agreement": d.get("seed_agreement"),
        }
    shared = bool(quality.get("strand_shared"))
    d_in = quality["d_in"] // 2 if shared else quality["d_in"]
    l0 = quality["l0"] / 2 if shared else quality["l0"]
    return {
        "L0/d_in": l0 / d_in,
        "dead": quality.get("dead_fraction"),
        "dense": quality.get("dense_fraction"),
        "init_cosine": None,
        "seed_agreement": None,
    }


def report(genome_dir: Path) -> dict:
    probe = genome_dir / "probe"
    buf = ActivationBuffer.open(genome_dir / "buffer")
    meta = json.loads((genome_dir / "labels" / "meta.json").read_text())
    lengths = {str(k): int(v) for k, v in meta["contigs"].items()}
    cidx, pos, minus, contigs = token_coordinates(buf.windows, lengths)
    from pyfaidx import Fasta

    with Fasta(str(genome_dir / "genome.fa"), sequence_always_upper=True) as fa:
        genome = {c: encode(str(fa[c][:])) for c in contigs}
    kmer = centred_kmer_codes(genome, contigs, cidx, pos.astype(np.int64), minus)
    side = token_sides(json.loads((probe / "split.json").read_text()), contigs, cidx, pos)
    labels = np.asarray(buf.labels, bool)
    baseline = dict(zip(buf.label_names, kmer_baseline(labels, kmer, side)))
    feats = feature_labels(probe)
    ann = feats[feats["annotated"].astype(bool)]
    beats = ann["label_auroc_test"].to_numpy() > ann["label"].map(baseline).to_numpy(float)
    table = pd.read_csv(genome_dir / "features.tsv", sep="\t")
    quality = json.loads((genome_dir / "sae_quality.json").read_text())
    latents = quality["d_sae"] // 2 if quality.get("strand_shared") else quality["d_sae"]
    return {
        "genome": genome_dir.name,
        "features": len(feats),
        "annotated": len(ann),
        "annotated_auroc_lt_0.65": int((ann["label_auroc_test"] < 0.65).sum()),
        "annotated_beat_5mer": int(beats.sum()),
        "features.tsv rows / latents": f"{len(table)} / {latents}",
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in sae_health(quality).items()},
        "5mer_baseline": {k: round(v, 3) for k, v in baseline.items() if np.isfinite(v)},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("genome_dirs", nargs="+", type=Path)
    args = ap.parse_args(argv)
    rows = [report(d) for d in args.genome_dirs]
    for r in rows:
        print(f"## {r['genome']}: independent centred 5-mer baseline (held-out AUROC)")
        print(", ".join(f"{k} {v}" for k, v in r.pop("5mer_baseline").items()))
    print()
    frame = pd.DataFrame(rows).set_index("genome").T
    print(frame.to_markdown() if hasattr(frame, "to_markdown") else frame.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
