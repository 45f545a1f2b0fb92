"""The tables a biologist opens: per feature, per feature × concept, per concept, across genomes.

Pure functions over DataFrames. Scores arrive in one normalised long format (SCORE_COLUMNS; the stage
loader maps the probing stage's parquet onto it), so the selection rules here are testable by hand.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.buffer.columns import feature_bounds
from dnalens.report.options import ReportSettings

SCORE_COLUMNS = (
    "feature", "concept",
    "auroc_train", "f1_train", "precision_train", "recall_train",
    "auroc_heldout", "f1_heldout", "precision_heldout", "recall_heldout",
    "threshold", "p_value", "q_value", "annotated", "best_for_concept",
)
FEATURE_COLUMNS = (
    "feature_id", "layer", "sae", "activation_frequency", "max_activation", "mean_active_activation",
    "best_concept", "annotated", "heldout_auroc", "heldout_f1", "heldout_precision", "heldout_recall",
    "threshold", "q_value", "top_locus", "top_strand", "top_activation", "n_hits",
)


def feature_stats(codes: sp.spmatrix, max_nnz: int = 2_000_000) -> pd.DataFrame:
    """Per feature: share of tokens with activation > 0, max, and mean over active tokens.

    Column blocks of ~`max_nnz` values: expanding a column index per nonzero for the whole matrix
    cost 8 bytes per value several times over (E. coli, 297 M values: ~8 GB)."""
    csc = sp.csc_matrix(codes)
    n_tokens, n_features = csc.shape
    n_active = np.zeros(n_features, dtype=np.int64)
    total = np.zeros(n_features)
    fmax = np.zeros(n_features)
    for lo, hi in feature_bounds(np.diff(csc.indptr), max_nnz):
        a, b = csc.indptr[lo], csc.indptr[hi]
        data = np.asarray(csc.data[a:b], dtype=np.float64)
        counts = np.diff(csc.indptr[lo:hi + 1])
        cols = np.repeat(np.arange(hi - lo), counts)
        positive = data > 0
        n_active[lo:hi] = np.bincount(cols[positive], minlength=hi - lo)
        total[lo:hi] = np.bincount(cols[positive], weights=data[positive], minlength=hi - lo)
        filled = np.flatnonzero(counts)
        if len(filled):
            starts = (csc.indptr[lo:hi] - a)[filled]
            fmax[lo + filled] = np.maximum(np.maximum.reduceat(data, starts), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_active = np.where(n_active > 0, total / np.maximum(n_active, 1), 0.0)
    return pd.DataFrame(
        {
            "feature": np.arange(n_features),
            "n_active_tokens": n_active,
            "activation_frequency": n_active / max(n_tokens, 1),
            "max_activation": fmax,
            "mean_active_activation": mean_active,
        }
    )


def passes(scores: pd.DataFrame, settings: ReportSettings) -> pd.Series:
    """Which pairs pass: the probing stage's `annotated` flag, unless report thresholds are set.

    Report thresholds apply to held-out metrics; a missing q-value (no null run) does not block.
    """
    flag = scores["annotated"] if "annotated" in scores else pd.Series(np.nan, index=scores.index)
    if not settings.overrides_probing and flag.notna().all():
        return flag.astype(bool)
    q_ok = scores["q_value"].isna() | (scores["q_value"] <= settings.threshold("max_q"))
    return ((scores["f1_heldout"] >= settings.threshold("min_f1"))
            & (scores["auroc_heldout"] >= settings.threshold("min_auroc")) & q_ok)


def feature_concepts(scores: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """Long table: feature × concept pairs that pass (`passes` True), plus each tested concept's best
    feature (chosen on train) even when it fails, so every concept shows how close the dictionary came.
    Passing pairs first, then best held-out F1."""
    passing = passes(scores, settings)
    best = scores["best_for_concept"].astype("boolean").fillna(False).astype(bool)
    columns = [c for c in SCORE_COLUMNS if c not in ("annotated", "best_for_concept")]
    kept = scores.loc[passing | best, columns].assign(passes=passing[passing | best], best_for_concept=best[passing | best])
    kept = kept.rename(columns={"feature": "feature_id"})
    return kept.sort_values(["passes", "f1_heldout", "auroc_heldout", "feature_id"],
                            ascending=[False, False, False, True], kind="stable").reset_index(drop=True)


def _selection_keys(scores: pd.DataFrame) -> pd.DataFrame:
    """F1 and AUROC to choose a "best" by: train metrics (no winner's curse on the held-out numbers
    that are reported), held-out ones only where the probing stage gave no train metric."""
    return scores.assign(_f1=scores["f1_train"].fillna(scores["f1_heldout"]),
                         _auroc=scores["auroc_train"].fillna(scores["auroc_heldout"]))


def best_concepts(scores: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """One row per feature: its best concept (passing pairs first, then train F1, then train AUROC)."""
    ranked = _selection_keys(scores).assign(annotated=passes(scores, settings)).sort_values(
        ["feature", "annotated", "_f1", "_auroc", "concept"],
        ascending=[True, False, False, False, True], kind="stable",
    )
    return ranked.drop_duplicates("feature").set_index("feature").drop(columns=["_f1", "_auroc"])


def feature_table(
    stats: pd.DataFrame, best: pd.DataFrame, top_hits: pd.DataFrame, *, layer: str, sae: str
) -> pd.DataFrame:
    """features.tsv: stats + best concept + strongest hit; annotated features first, by held-out F1.

    `top_hits` has one row per feature: top_locus (1-based display string), top_strand,
    top_activation, n_hits.
    """
    table = stats.set_index("feature").join(best, how="left").join(top_hits, how="left")
    table["annotated"] = table["annotated"].fillna(False).astype(bool)
    table["n_hits"] = table["n_hits"].fillna(0).astype(np.int64)
    table = table.rename(
        columns={"concept": "best_concept", "auroc_heldout": "heldout_auroc", "f1_heldout": "heldout_f1",
                 "precision_heldout": "heldout_precision", "recall_heldout": "heldout_recall"}
    )
    table.index.name = "feature_id"
    table = table.reset_index().assign(layer=layer, sae=sae)
    for col in FEATURE_COLUMNS:
        if col not in table:
            table[col] = np.nan
    table = table.sort_values(["annotated", "heldout_f1", "max_activation", "feature_id"],
                              ascending=[False, False, False, True], kind="stable", na_position="last")
    return table[list(FEATURE_COLUMNS)].reset_index(drop=True)


def rank_features(table: pd.DataFrame, n: int, chosen: tuple[int, ...] = ()) -> list[int]:
    """Features to draw: the configured ones, else the `n` best by held-out F1 that ever fire."""
    if chosen:
        return [int(f) for f in chosen]
    live = table[table["max_activation"] > 0]
    return [int(f) for f in live["feature_id"].head(n)]


def concept_summary(
    labels: pd.DataFrame, scores: pd.DataFrame, probes: pd.DataFrame, settings: ReportSettings, n_best: int = 3
) -> pd.DataFrame:
    """Per concept: label counts (from the labels stage), best features (chosen on train, held-out F1
    shown), dense vs SAE probe AUROC.

    `labels`: concept, instances, nucleotides, coverage. `probes`: concept, dense_probe_auroc,
    sae_probe_auroc (held-out; NaN where the probing stage did not fit that probe).
    """
    ok = scores[passes(scores, settings)]
    keyed = _selection_keys(scores)
    rows = []
    for concept in labels["concept"]:
        mine = keyed[keyed["concept"] == concept].sort_values(
            ["_f1", "_auroc", "feature"], ascending=[False, False, True], kind="stable")
        top = mine.head(n_best)
        rows.append(
            {
                "concept": concept,
                "n_features_passing": int((ok["concept"] == concept).sum()),
                "best_features": "; ".join(f"f{int(r.feature)} (F1 {r.f1_heldout:.2f})" for r in top.itertuples()),
                "best_feature_f1": float(top["f1_heldout"].iloc[0]) if len(top) else np.nan,
                "best_feature_auroc": float(mine["auroc_heldout"].max()) if len(mine) else np.nan,
            }
        )
    out = labels.merge(pd.DataFrame(rows, columns=["concept", "n_features_passing", "best_features",
                                                   "best_feature_f1", "best_feature_auroc"]),
                       on="concept", how="left")
    probe_cols = probes.reindex(columns=["concept", "dense_probe_auroc", "sae_probe_auroc"])
    return out.merge(probe_cols, on="concept", how="left")


def features_across_genomes(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Wide table, one row per (layer, sae, feature_id), one column group per genome.

    `shared_concept` is the best concept when every genome that annotates the feature agrees.
    """
    keys = ["layer", "sae", "feature_id"]
    wide: pd.DataFrame | None = None
    for genome, table in sorted(tables.items()):
        part = table[keys + ["best_concept", "annotated", "heldout_f1", "activation_frequency"]].copy()
        part = part.rename(columns={c: f"{genome}:{c}" for c in part.columns if c not in keys})
        wide = part if wide is None else wide.merge(part, on=keys, how="outer")
    if wide is None:
        return pd.DataFrame(columns=keys + ["n_genomes_annotated", "shared_concept"])
    genomes = sorted(tables)
    annotated = np.column_stack([wide[f"{g}:annotated"].fillna(False).astype(bool) for g in genomes])
    concepts = np.column_stack([wide[f"{g}:best_concept"].astype(object) for g in genomes])
    wide.insert(3, "n_genomes_annotated", annotated.sum(axis=1))
    shared = []
    for flags, names in zip(annotated, concepts):
        chosen = {n for f, n in zip(flags, names) if f}
        shared.append(chosen.pop() if len(chosen) == 1 else "")
    wide.insert(4, "shared_concept", shared)
    for g in genomes:
        wide[f"{g}:annotated"] = wide[f"{g}:annotated"].astype("boolean")
    return wide.sort_values(["n_genomes_annotated", "layer", "sae", "feature_id"],
                            ascending=[False, True, True, True], kind="stable").reset_index(drop=True)
