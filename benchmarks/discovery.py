"""Can the report's discovery (candidates.gff3) find genes the annotation lacks? Drop genes and see.

    .venv/bin/python benchmarks/discovery.py results/vcholerae_chr2 [--fraction 0.1] [--seed 0]
        [--max-latents N]   # rescore only the first N latents (a cheap slice)
        [--hit-fraction 0.5] [--gap 30]   # hit and candidate rules (report defaults)

1. Take the annotated protein-coding genes (CDS spans) and drop `fraction` of them (seeded) from the
   annotation.
2. Rebuild, from the REDUCED annotation only, the CDS labels per token in read orientation: CDS,
   CDS_codon_pos1..3 and their _antisense twins (as the labels stage defines them; computed here from
   the CDS pieces, frame kept across introns, not by the labels stage itself).
3. Re-score on TRAIN blocks (probe/split.json, else alternate 50 kb blocks) which latents are CDS-like:
   train AUROC >= 0.75 on one of those concepts and >= 0.05 above a centred 5-mer baseline fitted on
   the same train tokens. The full annotation is never used to pick latents (that would leak).
4. Hits of those latents (report/hits.py, on at > 0.5 × max, the report's strong-run rule) → candidates
   (report/discovery.py) outside the reduced annotation.
5. A dropped gene is found when a candidate on its strand covers >= 50 % of it; a candidate is false
   when < 50 % of it lies in dropped genes on its strand. False candidates per Mb of genome.
6. Reference: pyrodigal (single mode, trained on this genome): its recall of the dropped genes with the
   same rule, and its predictions outside the reduced annotation that match no dropped gene, per Mb.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from dnalens.report.discovery import CANDIDATE_GAP, STRONG_FRACTION, Chosen, find_candidates
from dnalens.report.regions import Regions

CDS_CONCEPTS = ("CDS", "CDS_codon_pos1", "CDS_codon_pos2", "CDS_codon_pos3")
MIN_AUROC, MIN_MARGIN = 0.75, 0.05
HIT_FRACTION = STRONG_FRACTION  # the report's strong-run rule (its label thresholds are not rebuilt here)
BLOCK = 50_000
DROP_TYPES = ("gene", "mRNA", "CDS", "exon", "pseudogene")


def coding_genes(regions: Regions) -> pd.DataFrame:
    """One row per CDS id: contig, start, end (span of its pieces), strand, id, name."""
    cds = regions.table[regions.table["type"] == "CDS"]
    return (
        cds.groupby(["contig", "id", "strand"], sort=False)
        .agg(start=("start", "min"), end=("end", "max"), name=("name", "first"))
        .reset_index()[["contig", "start", "end", "strand", "id", "name"]]
    )


def drop_genes(genes: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dropped, kept), `fraction` of the rows drawn with numpy's seeded generator."""
    rng = np.random.default_rng(seed)
    n = int(round(fraction * len(genes)))
    pick = np.zeros(len(genes), bool)
    pick[rng.choice(len(genes), size=n, replace=False)] = True
    return genes[pick].reset_index(drop=True), genes[~pick].reset_index(drop=True)


def overlap(a0, a1, b0, b1) -> np.ndarray:
    return np.maximum(0, np.minimum(a1, b1) - np.maximum(a0, b0))


def reduced_regions(regions: Regions, dropped: pd.DataFrame) -> Regions:
    """The annotation without the dropped genes: rows of DROP_TYPES on the same contig and strand that lie
    >= 50 % inside a dropped CDS span's gene are removed (gene, mRNA, CDS, exon)."""
    t = regions.table
    remove = np.zeros(len(t), bool)
    for g in dropped.itertuples():
        same = (t["contig"] == g.contig) & (t["strand"] == g.strand) & t["type"].isin(DROP_TYPES)
        ov = overlap(t["start"].to_numpy(), t["end"].to_numpy(), g.start, g.end)
        length = np.maximum(t["end"] - t["start"], 1).to_numpy()
        remove |= same.to_numpy() & ((ov >= 0.5 * length) | (ov >= 0.5 * (g.end - g.start)))
    return Regions(t[~remove].reset_index(drop=True), regions.contig_lengths)


def cds_pieces(table: pd.DataFrame) -> pd.DataFrame:
    """CDS rows with `offset`: coding bases of the same CDS id before the piece, in transcription order
    (so a spliced CDS keeps its frame across introns)."""
    cds = table[table["type"] == "CDS"][["contig", "start", "end", "strand", "id"]].copy()
    key = np.where(cds["strand"] == "-", -cds["end"], cds["start"])
    cds = cds.assign(_key=key).sort_values(["id", "_key"], kind="stable")
    length = cds["end"] - cds["start"]
    cds["offset"] = length.groupby(cds["id"]).cumsum() - length
    return cds.drop(columns="_key").reset_index(drop=True)


def frame_arrays(pieces: pd.DataFrame, lengths: dict[str, int]) -> dict[tuple[str, str], np.ndarray]:
    """(contig, strand) → int8 per base: codon position 0..2 of a CDS on that strand, −1 outside.
    `pieces`: contig, start, end, strand[, offset] (see `cds_pieces`)."""
    out = {(c, s): np.full(n, -1, np.int8) for c, n in lengths.items() for s in "+-"}
    offsets = pieces["offset"] if "offset" in pieces else pd.Series(0, index=pieces.index)
    for g, off in zip(pieces.itertuples(), offsets):
        p = np.arange(g.start, g.end)
        out[(g.contig, g.strand)][p] = (off + ((p - g.start) if g.strand == "+" else (g.end - 1 - p))) % 3
    return out


def token_labels(
    cidx, pos, minus, contigs: list[str], pieces: pd.DataFrame, lengths: dict[str, int]
) -> dict[str, np.ndarray]:
    """Per token, in read orientation: CDS, CDS_codon_posK (sense) and their _antisense twins."""
    frames = frame_arrays(pieces, lengths)
    sense = np.full(len(pos), -1, np.int8)
    anti = np.full(len(pos), -1, np.int8)
    for i, c in enumerate(contigs):
        rows = np.flatnonzero(cidx == i)
        p, m = pos[rows], minus[rows]
        plus_f, minus_f = frames[(c, "+")][p], frames[(c, "-")][p]
        sense[rows] = np.where(m, minus_f, plus_f)
        anti[rows] = np.where(m, plus_f, minus_f)
    out = {}
    for suffix, f in (("", sense), ("_antisense", anti)):
        out["CDS" + suffix] = f >= 0
        for k in range(3):
            out[f"CDS_codon_pos{k + 1}{suffix}"] = f == k
    return out


def sparse_auroc(rows: np.ndarray, values: np.ndarray, labels: np.ndarray, n_tokens: int) -> np.ndarray:
    """AUROC of one non-negative sparse column (zeros elsewhere) for each label column ([n_tokens, L]
    bool), ties at mid-rank (equals sklearn's roc_auc_score)."""
    keep = values > 0
    rows, values = rows[keep], values[keep]
    n_pos = labels.sum(axis=0).astype(float)
    n_neg = n_tokens - n_pos
    z = n_tokens - len(rows)
    ranks = z + rankdata(values)  # zeros take ranks 1..z (mid-rank (z + 1) / 2)
    pos_nonzero = labels[rows].sum(axis=0)
    rank_sum = ranks @ labels[rows] + (n_pos - pos_nonzero) * (z + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def kmer_auroc(kmer: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """In-sample AUROC of P(concept | centred k-mer) per label column (a generous baseline)."""
    from sklearn.metrics import roc_auc_score

    total = np.bincount(kmer).astype(float)
    out = []
    for j in range(labels.shape[1]):
        y = labels[:, j]
        score = np.bincount(kmer[y], minlength=len(total)) / np.maximum(total, 1)
        out.append(roc_auc_score(y, score[kmer]) if 0 < y.sum() < len(y) else np.nan)
    return np.array(out)


def cds_like(aurocs: np.ndarray, baseline: np.ndarray, names: list[str]) -> dict[int, str]:
    """latent → label (largest train margin) among latents with AUROC >= MIN_AUROC and margin >= MIN_MARGIN."""
    margin = aurocs - baseline[None, :]
    ok = (aurocs >= MIN_AUROC) & (margin >= MIN_MARGIN)
    margin = np.where(ok, margin, -np.inf)
    best = np.argmax(margin, axis=1)
    return {int(f): names[best[f]] for f in np.flatnonzero(ok.any(axis=1))}


def recovered(truth: pd.DataFrame, found: pd.DataFrame, share: float = 0.5) -> np.ndarray:
    """Per truth row: some `found` row on its contig and strand covers >= share of it."""
    out = np.zeros(len(truth), bool)
    for i, g in enumerate(truth.itertuples()):
        f = found[(found["contig"] == g.contig) & (found["strand"] == g.strand)]
        out[i] = bool(
            (overlap(f["start"].to_numpy(), f["end"].to_numpy(), g.start, g.end) >= share * (g.end - g.start)).any()
        )
    return out


def inside(found: pd.DataFrame, truth: pd.DataFrame, share: float = 0.5, stranded: bool = True) -> np.ndarray:
    """Per found row: >= share of it lies in `truth` rows (same strand when `stranded`)."""
    out = np.zeros(len(found), bool)
    for i, f in enumerate(found.itertuples()):
        t = truth[(truth["contig"] == f.contig) & ((truth["strand"] == f.strand) if stranded else True)]
        covered = overlap(t["start"].to_numpy(), t["end"].to_numpy(), f.start, f.end).sum()
        out[i] = covered >= share * (f.end - f.start)
    return out


def pyrodigal_genes(sequences: dict[str, str]) -> pd.DataFrame:
    import pyrodigal

    finder = pyrodigal.GeneFinder()
    finder.train(*[s.encode() for s in sequences.values()])
    rows = []
    for c, s in sequences.items():
        for g in finder.find_genes(s.encode()):
            rows.append((c, g.begin - 1, g.end, "+" if g.strand == 1 else "-"))
    return pd.DataFrame(rows, columns=["contig", "start", "end", "strand"])


def train_sides(genome_dir: Path, cidx, pos, contigs) -> np.ndarray:
    """True on train tokens: probe/split.json blocks, else alternate BLOCK-nt blocks."""
    split = genome_dir / "probe" / "split.json"
    if split.exists():
        blocks = json.loads(split.read_text())["blocks"]
        train = np.zeros(len(pos), bool)
        for i, c in enumerate(contigs):
            mine = [b for b in blocks if b["contig"] == c]
            starts = np.array([b["start"] for b in mine])
            side = np.array([b["side"] == "train" for b in mine])
            rows = np.flatnonzero(cidx == i)
            train[rows] = side[np.searchsorted(starts, pos[rows], side="right") - 1]
        return train
    return (pos // BLOCK) % 2 == 0


def run(
    genome_dir: Path,
    fraction: float,
    seed: int,
    max_latents: int | None,
    hit_fraction: float = HIT_FRACTION,
    gap: int = CANDIDATE_GAP,
) -> dict:
    from pyfaidx import Fasta

    from dnalens.concepts.genome_data import encode
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.feature_columns import feature_blocks
    from dnalens.genome.fasta import read_chrom_sizes
    from dnalens.genome.gff3 import read_normalized_gff3
    from dnalens.probe.inputs import token_coordinates
    from dnalens.report.feature_reader import FeatureReader
    from dnalens.report.hits import selected_hits
    from dnalens.report.inputs import read_json, strand_shared
    from dnalens.report.regions import regions_from_annotation
    from dnalens.report.tokens import build_token_map

    sys.path.insert(0, str(Path(__file__).parent))
    from annotation_trust import centred_kmer_codes

    t0 = time.process_time()
    lengths = read_chrom_sizes(genome_dir / "chrom.sizes")
    regions = regions_from_annotation(read_normalized_gff3(genome_dir / "annotation.gff3"), lengths)
    genes = coding_genes(regions)
    dropped, kept = drop_genes(genes, fraction, seed)
    reduced = reduced_regions(regions, dropped)

    with Fasta(str(genome_dir / "genome.fa"), sequence_always_upper=True) as fa:
        seqs = {c: str(fa[c][:]) for c in lengths}
    mb = sum(lengths.values()) / 1e6
    if not (genome_dir / "buffer").exists():  # the reference alone (e.g. before the SAE stage has run)
        model = {
            "latents_scored": 0,
            "cds_like_latents": 0,
            "candidates": 0,
            "model_recall": np.nan,
            "model_touched": np.nan,
            "model_precision": np.nan,
            "model_false_per_mb": np.nan,
            "cpu_s_model": np.nan,
            "labels": "not run: no buffer/",
        }
        return {
            "genome": genome_dir.name,
            "genes": len(genes),
            "dropped": len(dropped),
            **model,
            **reference(seqs, kept, dropped, mb),
        }
    buf = ActivationBuffer.open(genome_dir / "buffer")
    source = buf.feature_columns if buf.feature_columns is not None else buf.code_rows
    n_tokens, n_features = source.shape
    shared = strand_shared(read_json(genome_dir / "sae_quality.json"), getattr(buf, "meta", None) or {})
    n_latents = n_features // 2 if shared else n_features
    scored = min(n_latents, max_latents or n_latents)
    cidx, pos, minus, contigs = token_coordinates(buf.windows, lengths)
    pos = pos.astype(np.int64)
    labels = token_labels(cidx, pos, minus, contigs, cds_pieces(reduced.table), lengths)
    names = list(labels)
    train = train_sides(genome_dir, cidx, pos, contigs)
    y_train = np.stack([labels[n][train] for n in names], axis=1)
    train_rows = np.flatnonzero(train)
    kmer = centred_kmer_codes({c: encode(s) for c, s in seqs.items()}, contigs, cidx, pos, minus)
    baseline = kmer_auroc(kmer[train], y_train)

    aurocs = np.full((scored, len(names)), np.nan)
    maxima = np.zeros(n_features)
    for f0, f1, block in feature_blocks(source, 8_000_000):
        if f0 >= scored:
            break
        for j in range(f0, min(f1, scored)):
            lo, hi = block.indptr[j - f0], block.indptr[j - f0 + 1]
            rows, values = block.indices[lo:hi].astype(np.int64), block.data[lo:hi].astype(np.float64)
            maxima[j] = values.max(initial=0.0)
            on_train = train[rows]
            local = np.searchsorted(train_rows, rows[on_train])
            aurocs[j] = sparse_auroc(local, values[on_train], y_train, len(train_rows))
    chosen_labels = cds_like(aurocs, baseline, names)
    chosen = Chosen({f: (lab, "CDS", True) for f, lab in chosen_labels.items()}, annotated=True)

    tokens = build_token_map(buf.windows, lengths, n_tokens)
    relative = np.full(n_features, hit_fraction)
    hits = selected_hits(FeatureReader(source), list(chosen.latents), tokens, relative, maxima, 10**9)
    candidates = find_candidates(hits, chosen, reduced, gap=gap)
    cpu_model = time.process_time() - t0

    return {
        "genome": genome_dir.name,
        "genes": len(genes),
        "dropped": len(dropped),
        "latents_scored": scored,
        "cds_like_latents": len(chosen.latents),
        "candidates": len(candidates),
        "model_recall": recovered(dropped, candidates).mean() if len(dropped) else np.nan,
        "model_touched": recovered(dropped, candidates, share=1e-9).mean() if len(dropped) else np.nan,
        "model_precision": inside(candidates, dropped).mean() if len(candidates) else np.nan,
        "model_false_per_mb": (~inside(candidates, dropped)).sum() / mb,
        "cpu_s_model": round(cpu_model, 1),
        "labels": ", ".join(f"f{f} {lab}" for f, lab in sorted(chosen_labels.items())[:20]),
        **reference(seqs, kept, dropped, mb),
    }


def reference(seqs: dict[str, str], kept: pd.DataFrame, dropped: pd.DataFrame, mb: float) -> dict:
    """pyrodigal's recall of the dropped genes, and its calls outside the reduced annotation that match no
    dropped gene, per Mb (same rules as the candidates)."""
    t1 = time.process_time()
    predicted = pyrodigal_genes(seqs)
    outside = predicted[~inside(predicted, kept, stranded=False)]  # pyrodigal calls the reduced annotation lacks
    return {
        "pyrodigal_recall": recovered(dropped, predicted).mean() if len(dropped) else np.nan,
        "pyrodigal_touched": recovered(dropped, predicted, share=1e-9).mean() if len(dropped) else np.nan,
        "pyrodigal_precision": inside(outside, dropped).mean() if len(outside) else np.nan,
        "pyrodigal_false_per_mb": (~inside(outside, dropped)).sum() / mb,
        "pyrodigal_recall_all_genes": recovered(pd.concat([kept, dropped]), predicted).mean(),
        "cpu_s_pyrodigal": round(time.process_time() - t1, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("genome_dir", type=Path)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-latents", type=int, default=None)
    ap.add_argument("--hit-fraction", type=float, default=HIT_FRACTION, help="on above this share of a latent's max")
    ap.add_argument("--gap", type=int, default=CANDIDATE_GAP, help="join runs at most this many nt apart")
    args = ap.parse_args(argv)
    r = run(args.genome_dir, args.fraction, args.seed, args.max_latents, args.hit_fraction, args.gap)
    labels = r.pop("labels")
    keys = ("recall", "touched", "precision", "false_per_mb")
    side = pd.DataFrame(
        {
            "dnalens candidates": [r[f"model_{k}"] for k in keys] + [r["cpu_s_model"]],
            "pyrodigal": [r[f"pyrodigal_{k}"] for k in keys] + [r["cpu_s_pyrodigal"]],
        },
        index=[
            "recall of dropped genes (>= 50 % covered)",
            "dropped genes touched (any overlap)",
            "calls outside the reduced annotation that are >= 50 % in a dropped gene",
            "false calls per Mb",
            "CPU s",
        ],
    )
    print(json.dumps({k: v for k, v in r.items() if not k.startswith(("model_", "pyrodigal_", "cpu_"))}))
    print(f"CDS-like latents (first 20): {labels or 'none'}")
    print(side.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
