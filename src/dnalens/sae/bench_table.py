"""The SAE sweep's tables: one row per variant (sae_bench.tsv), per variant x genome, per concept, and the k-sparse
probes in long form, built from each variant's sae_quality.json (held-out rows and train rows) and probe tables.

Two kinds of numbers sit side by side and never mix. Train-side ones (`train_*`, init cosine, seed agreement)
are what the declared rule may read: quality on training windows, and the strict annotation rule's AUROC and
margin conditions evaluated on the train blocks (train AUROC of the train-chosen best latent against the
cross-fitted train AUROC of the train-chosen baseline; the q-value is a held-out statistic and has no train
twin), plus the concept groups, chosen on cross-fitted train AUROC. Held-out ones (`fvu`, `l0`, ...,
`concepts_annotated`) only report. Antisense twins count with their concept (`_antisense` folded), and with a
strand-shared SAE features j and j + F/2 are one latent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from dnalens.sae.bench_settings import QUALITY_COLUMNS, TRAIN_TWIN

ANTISENSE = "_antisense"
# the sae keys a variant row shows (besides what it overrides)
SETTING_COLUMNS = ("architecture", "expansion", "k", "lr", "layer", "tokens", "base_lookup", "strand_shared")
# the counts: held out, then the train-block twins the rule ranks on
COUNT_COLUMNS = (*TRAIN_TWIN, *TRAIN_TWIN.values())


@dataclass(frozen=True)
class VariantRun:
    """One variant on one genome: what the gather reads."""

    variant: str
    genome: str
    settings: Mapping[str, Any]  # the variant's whole sae: section
    overrides: Mapping[str, Any]
    quality_held_out: Mapping[str, Any]  # sae_quality.json
    quality_train: Mapping[str, Any]  # sae_quality.json measured on train rows
    concepts: pd.DataFrame  # probe/concepts.parquet
    scores: pd.DataFrame  # probe/feature_concept.parquet
    probes: pd.DataFrame  # probe/probes.parquet
    probe_settings: Mapping[str, Any]  # probe/summary.json "settings"


def fold(concept: str) -> str:
    return concept[: -len(ANTISENSE)] if concept.endswith(ANTISENSE) else concept


def quality_columns(report: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """sae_quality.json -> the table's quality columns, per strand state for a strand-shared SAE (the unit its
    health is judged in: the `dictionary` block)."""
    d = report.get("dictionary") or {}
    loss = report.get("loss") or {}
    fvu = d.get("fvu", report.get("fvu"))
    ce = [loss.get(k) for k in ("ce_clean", "ce_sae")]
    values = {
        "fvu": fvu,
        "explained_variance": None if fvu is None else 1.0 - float(fvu),
        "l0": d.get("l0", report.get("l0")),
        "l0_over_d_in": d.get("l0_per_d_in"),
        "dead_fraction": d.get("dead_fraction", report.get("dead_fraction")),
        "dense_fraction": d.get("dense_fraction", report.get("dense_fraction")),
        "loss_recovered": loss.get("loss_recovered"),
        # the ablation gap's other side: how much the SAE's reconstruction raises the model's loss (nats/token)
        "ce_increase": None if None in ce else float(ce[1]) - float(ce[0]),
    }
    return {prefix + k: (np.nan if v is None else float(v)) for k, v in values.items()}


def _latent(features: np.ndarray, n_features: int, strand_shared: bool) -> np.ndarray:
    return features % (n_features // 2) if strand_shared and n_features > 1 else features


def single_latent_train_cv(probes: pd.DataFrame, concepts: pd.Series) -> np.ndarray:
    """Per concept the k = 1 sparse probe's cross-fitted train AUROC (NaN where it did not run), reported beside
    the best latent's in-sample train AUROC that `passes_train` reads.

    Why it does not replace it: tried on the V. cholerae sweep (benchmarks/README.md), it removed no over-count.
    The sigma70 -35 box's cross-fitted value is 0.89 against 0.81 in-sample (0.77 held out): its few instances
    make each half of the train blocks noisy, and a one-latent logistic probe may take a latent's absence as the
    signal, which the annotation rule (a latent active on its concept) does not."""
    out = np.full(len(concepts), np.nan)
    if probes is None or probes.empty or not {"kind", "k", "auroc_train_cv"} <= set(probes):
        return out
    ones = probes[(probes["kind"] == "k_sparse") & (probes["k"] == 1)].drop_duplicates("concept")
    found = ones.set_index("concept")["auroc_train_cv"].astype(float)
    return concepts.astype(str).map(found).to_numpy(float)


def concept_rows(run: VariantRun) -> pd.DataFrame:
    """Per concept: its best single latent (train-chosen) on train and held-out blocks, the strict rule on each
    side, and its latent group."""
    s, c = run.probe_settings, run.concepts
    margin, min_auroc = float(s.get("min_margin", 0.05)), float(s.get("min_auroc", 0.75))
    evaluated = c["evaluated"].astype(bool).to_numpy()
    train = c["best_auroc_train"].to_numpy(float)
    train_cv = single_latent_train_cv(run.probes, c["concept"])  # reported beside it; the rule reads `train`
    base_train = c["baseline_auroc_train"].to_numpy(float)
    group_k = c["group_k"] if "group_k" in c else pd.Series(np.nan, index=c.index)
    group_test = c["group_auroc_test"].to_numpy(float) if "group_auroc_test" in c else np.full(len(c), np.nan)
    base_test = c["baseline_auroc_test"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return pd.DataFrame(
            {
                "variant": run.variant,
                "genome": run.genome,
                "concept": c["concept"].astype(str).to_numpy(),
                "evaluated": evaluated,
                "best_feature": c["best_feature_auroc"].to_numpy(),
                "best_auroc_train": train,
                "best_auroc_train_cv": train_cv,
                "baseline_auroc_train": base_train,
                "passes_train": evaluated & (train >= min_auroc) & (train - base_train >= margin),
                "best_auroc_test": c["best_auroc_test"].to_numpy(float),
                "baseline_auroc_test": base_test,
                "annotated": c["n_annotated_features"].to_numpy() > 0,
                "group_k": pd.array(group_k, dtype="Int64"),
                "group_latents": (c["group_latents"] if "group_latents" in c else pd.Series("", index=c.index))
                .fillna("")
                .to_numpy(),
                "group_auroc_test": group_test,
                "group_beats_baseline_test": evaluated & (group_test - base_test >= margin),
            }
        )


def _count_concepts(names: pd.Series, mask) -> int:
    return int(names[np.asarray(mask, bool)].map(fold).nunique())


def genome_row(run: VariantRun) -> dict[str, Any]:
    """One variant x genome row: settings, quality (held-out and train rows), counts on each side."""
    concepts = concept_rows(run)
    strand_shared = bool((run.quality_held_out or {}).get("strand_shared", False))
    scores = run.scores
    n_features = int(scores["feature"].max()) + 1 if len(scores) else 0
    s = run.probe_settings
    base_train = dict(zip(concepts["concept"], concepts["baseline_auroc_train"]))
    evaluated = dict(zip(concepts["concept"], concepts["evaluated"]))
    concept = scores["concept"].astype(str)
    with np.errstate(invalid="ignore"):
        passes = (
            concept.map(evaluated).fillna(False).to_numpy(bool)
            & (scores["auroc_train"].to_numpy(float) >= float(s.get("min_auroc", 0.75)))
            & (
                scores["auroc_train"].to_numpy(float) - concept.map(base_train).to_numpy(float)
                >= float(s.get("min_margin", 0.05))
            )
        )
    annotated = scores["annotated"].to_numpy(bool)
    features = scores["feature"].to_numpy(np.int64)
    d = (run.quality_held_out or {}).get("dictionary") or {}
    row: dict[str, Any] = {
        "variant": run.variant,
        "genome": run.genome,
        **{key: run.settings.get(key) for key in SETTING_COLUMNS},
        "changes": " ".join(f"{k}={v}" for k, v in run.overrides.items()) or "(run's sae settings)",
        "unit": d.get("unit", "row"),
        "d_in": d.get("d_in", (run.quality_held_out or {}).get("d_in")),
        "d_sae": d.get("d_sae", (run.quality_held_out or {}).get("d_sae")),
        **quality_columns(run.quality_held_out),
        **quality_columns(run.quality_train, prefix="train_"),
        "init_cosine": float(d.get("init_cosine_median", np.nan) or np.nan),
        "seed_agreement": np.nan if d.get("seed_agreement") is None else float(d["seed_agreement"]),
        "healthy": bool((d.get("health") or {}).get("pass", False)),
        "concepts_evaluated": _count_concepts(concepts["concept"], concepts["evaluated"]),
        "concepts_annotated": _count_concepts(concepts["concept"], concepts["annotated"]),
        "latents_annotated": int(np.unique(_latent(features[annotated], n_features, strand_shared)).size),
        "concept_groups": _count_concepts(concepts["concept"], concepts["group_beats_baseline_test"]),
        "train_concepts_passing": _count_concepts(concepts["concept"], concepts["passes_train"]),
        "train_latents_passing": int(np.unique(_latent(features[passes], n_features, strand_shared)).size),
        "train_concept_groups": _count_concepts(concepts["concept"], concepts["group_k"].notna().to_numpy(bool)),
    }
    return row


def variant_table(genome_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per variant (in sweep order): counts add up over genomes, quality is the mean over genomes and
    `healthy` holds when the dictionary passes its health check on every genome."""
    if genome_rows.empty:
        return genome_rows
    by = genome_rows.groupby("variant", sort=False)
    means = [*QUALITY_COLUMNS, *(f"train_{c}" for c in QUALITY_COLUMNS), "init_cosine", "seed_agreement"]
    counts = [*COUNT_COLUMNS, "concepts_evaluated"]
    kept = [c for c in genome_rows.columns if c not in {*means, *counts, "variant", "genome", "healthy"}]
    table = pd.concat(
        [
            by["genome"].agg(",".join).rename("genomes"),
            by[kept].first(),
            by[means].mean(),
            by[counts].sum(),
            by["healthy"].all(),
        ],
        axis=1,
    )
    return table.reset_index()


def sparse_probing_rows(run: VariantRun) -> pd.DataFrame:
    """k-sparse probes of one variant x genome in long form, with the dense probe (the same tokens, the variant's
    layer), the probe over all SAE codes and the concept's best sequence-only baseline beside each."""
    probes = run.probes
    if probes.empty or "k" not in probes:
        return pd.DataFrame()
    sparse = probes[probes["kind"] == "k_sparse"]
    binary = probes[probes["kind"] == "binary"]
    by_input = {name: dict(zip(g["concept"], g["auroc"])) for name, g in binary.groupby("input")}
    base = dict(zip(run.concepts["concept"].astype(str), run.concepts["baseline_auroc_test"]))
    return pd.DataFrame(
        {
            "variant": run.variant,
            "genome": run.genome,
            "layer": run.settings.get("layer"),
            "concept": sparse["concept"].astype(str).to_numpy(),
            "k": sparse["k"].astype(int).to_numpy(),
            "latents": sparse["latents"].to_numpy(),
            "auroc_test": sparse["auroc"].to_numpy(float),
            "auroc_train": sparse["auroc_train"].to_numpy(float),
            "auroc_train_cv": sparse["auroc_train_cv"].to_numpy(float),
            "dense_auroc_test": sparse["concept"].map(by_input.get("dense", {})).to_numpy(float),
            "sae_probe_auroc_test": sparse["concept"].map(by_input.get("sae", {})).to_numpy(float),
            "baseline_auroc_test": sparse["concept"].map(base).to_numpy(float),
        }
    )


def bench_tables(runs: Sequence[VariantRun]) -> dict[str, pd.DataFrame]:
    """{"genomes", "variants", "concepts", "sparse_probing"}: every table of the gather but the choice."""
    genome_rows = pd.DataFrame([genome_row(r) for r in runs])
    concepts = pd.concat([concept_rows(r) for r in runs], ignore_index=True) if runs else pd.DataFrame()
    sparse = [t for t in (sparse_probing_rows(r) for r in runs) if not t.empty]
    return {
        "genomes": genome_rows,
        "variants": variant_table(genome_rows),
        "concepts": concepts,
        "sparse_probing": pd.concat(sparse, ignore_index=True) if sparse else pd.DataFrame(),
    }
