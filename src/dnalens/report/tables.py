"""The tables a biologist opens: per latent, per latent × concept, per concept.

Pure functions over DataFrames in the probe stage's own vocabulary (`formats.probe_dir.SCORE_COLUMNS`, the
columns of probe/feature_concept.parquet). Every "best" here is one the probe stage chose on TRAIN blocks
(`best_for_concept`, the feature `label`, concepts.parquet `best_feature_auroc`); held-out numbers are
only ever reported, never maximised over.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.atomic import atomic_path
from dnalens.formats.feature_columns import feature_bounds
from dnalens.formats.probe_dir import SCORE_COLUMNS
from dnalens.report.findings import FINDING_COLUMNS, fold_findings
from dnalens.report.options import ReportSettings

# what the feature table shows of a feature's label pair (for strand-shared SAEs: once per view)
VIEW_COLUMNS = (
    "label",
    "annotated",
    "auroc_train",
    "auroc_test",
    "baseline_auroc_test",
    "margin",
    "q",
    "f1_test",
    "precision_test",
    "recall_test",
    "threshold",
    "n_annotated_concepts",
)
STAT_COLUMNS = ("activation_frequency", "max_activation", "mean_active_activation")
HIT_SUMMARY_COLUMNS = ("top_locus", "top_strand", "top_activation", "n_hits", "top_genes")
CONCEPT_COLUMNS = (
    "concept",
    "evaluated",
    "control",
    "best_latent",
    "best_view",
    "best_auroc_train",
    "best_auroc_test",
    "baseline",
    "baseline_auroc_test",
    "best_margin",
    "best_q",
    "passes",
    "beats_baseline",
    "n_features_passing",
    "dense_probe_auroc",
    "sae_probe_auroc",
)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """A report table, atomically: .parquet as is, else TSV with NA for missing values and 6 significant digits."""
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")


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
        counts = np.diff(csc.indptr[lo : hi + 1])
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
    """Which pairs pass: the probe stage's `annotated` flag, AND each report override that is set.

    An override can only make the rule stricter (never pass a pair probing rejected). Held-out
    metrics, as the probing rule; a pair without a q-value is not blocked by `max_q` (probing already
    required one where it had a null run)."""
    ok = scores["annotated"].astype("boolean").fillna(False).astype(bool)
    if settings.min_auroc is not None:
        ok &= scores["auroc_test"] >= settings.min_auroc
    if settings.min_margin is not None:
        ok &= scores["margin"] >= settings.min_margin
    if settings.min_f1 is not None:
        ok &= scores["f1_test"] >= settings.min_f1
    if settings.max_q is not None:
        ok &= scores["q"].isna() | (scores["q"] <= settings.max_q)
    return ok


def feature_concepts(scores: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """Long table: feature × concept pairs that pass, plus each concept's train-chosen best feature even
    when it fails (so every concept shows how close the dictionary came). Passing first, then margin."""
    passing = passes(scores, settings)
    best = scores["best_for_concept"].astype("boolean").fillna(False).astype(bool)
    keep = passing | best
    columns = [c for c in SCORE_COLUMNS if c not in ("annotated", "best_for_concept")]
    kept = scores.loc[keep, columns].assign(passes=passing[keep], best_for_concept=best[keep])
    return kept.sort_values(
        ["passes", "margin", "auroc_test", "feature"], ascending=[False, False, False, True], kind="stable"
    ).reset_index(drop=True)


def label_metrics(scores: pd.DataFrame, labels: pd.DataFrame, settings: ReportSettings) -> pd.DataFrame:
    """Per feature (index): its probing `label` (primary metric, chosen on train) and that pair's numbers.

    `labels`: probe/features.parquet (feature, label[, n_annotated_concepts]). `annotated` = the label
    pair passes (`passes`); `n_annotated_concepts` counts the feature's passing pairs under the same rule."""
    scored = scores.assign(annotated=passes(scores, settings))
    counts = scored[scored["annotated"]].groupby("feature").size()
    pairs = scored.set_index(["feature", "concept"])
    keys = [(int(f), c) for f, c in zip(labels["feature"], labels["label"]) if isinstance(c, str)]
    picked = pairs.reindex(pd.MultiIndex.from_tuples(keys, names=["feature", "concept"])) if keys else pairs.iloc[:0]
    out = picked.reset_index().rename(columns={"concept": "label"}).set_index("feature")
    out = out.reindex(columns=[c for c in VIEW_COLUMNS if c != "n_annotated_concepts"])
    out["annotated"] = out["annotated"].astype("boolean").fillna(False).astype(bool)
    out["n_annotated_concepts"] = counts.reindex(out.index).fillna(0).astype(np.int64)
    return out


def feature_table(
    stats: pd.DataFrame, probe: pd.DataFrame, top_hits: pd.DataFrame, *, layer: str, sae: str
) -> pd.DataFrame:
    """features.tsv, one row per latent: stats + label pair (`views.per_latent`) + strongest hit, sorted
    (`sort_latents`). `stats` and `top_hits` are indexed by the latent's (own-view) feature id."""
    table = stats.rename(columns={"feature": "latent"}).set_index("latent").join(probe, how="left")
    table = table.join(top_hits, how="left")
    table["view"] = table["view"].fillna("own") if "view" in table else "own"
    table["annotated"] = table["annotated"].astype("boolean").fillna(False).astype(bool)
    table["n_annotated_concepts"] = table["n_annotated_concepts"].fillna(0).astype(np.int64)
    table["n_hits"] = table["n_hits"].fillna(0).astype(np.int64)
    table = table.assign(layer=layer, sae=sae)
    for col in VIEW_COLUMNS + HIT_SUMMARY_COLUMNS:
        if col not in table:
            table[col] = np.nan
    table.index.name = "latent"
    head = ["latent", "view", "layer", "sae", *STAT_COLUMNS, *VIEW_COLUMNS, *HIT_SUMMARY_COLUMNS]
    table = table.reset_index()
    views = [c for c in table.columns if c.startswith(("own_", "opposite_"))]
    return sort_latents(table[head + views])


def sort_latents(table: pd.DataFrame) -> pd.DataFrame:
    """Annotated first, then by margin over the best sequence-only baseline, then max activation."""
    return table.sort_values(
        ["annotated", "margin", "max_activation", "latent"],
        ascending=[False, False, False, True],
        kind="stable",
        na_position="last",
    ).reset_index(drop=True)


def rank_features(table: pd.DataFrame, n: int, chosen: tuple[int, ...] = ()) -> list[int]:
    """Latents to draw: the configured ones, else the first `n` of the (sorted) table that ever fire."""
    if chosen:
        return [int(f) for f in chosen]
    live = table[table["max_activation"] > 0]
    return [int(f) for f in live["latent"].head(n)]


def browser_latents(table: pd.DataFrame, n: int, chosen: tuple[int, ...] = ()) -> list[int]:
    """Latents with genome-browser files (hits, bigWigs): the first `n` annotated latents that fire, in
    table order, then the configured ones. A latent that fails the annotation rule is not a finding, and
    drawing all of them made hits files of hundreds of MB."""
    live = table[(table["max_activation"] > 0) & table["annotated"].astype(bool)]
    return list(dict.fromkeys([int(f) for f in live["latent"].head(n)] + [int(f) for f in chosen]))


def named_latents(feature_ids, latent_of) -> str:
    """Buffer feature ids as latents with their strand view: "12+1036" -> "f12 + f12 (opposite)"."""
    if not isinstance(feature_ids, str) or not feature_ids:
        return ""
    named = []
    for feature in feature_ids.split("+"):
        latent, view = latent_of(int(feature))
        named.append(f"f{int(latent)}" + (" (opposite)" if view == "opposite" else ""))
    return " + ".join(named)


def concept_summary(
    labels: pd.DataFrame,
    scores: pd.DataFrame,
    concepts: pd.DataFrame,
    settings: ReportSettings,
    latent_of,
    margin_cut: float,
) -> pd.DataFrame:
    """Per finding (report/findings.py folds twins and identical concepts): label counts (labels stage) + the
    probe stage's train-chosen best feature with its held-out AUROC and interval, the best sequence-only
    baseline (train-chosen) and the margin over it, q, whether that pair passes, whether its margin is >=
    `margin_cut`, how many pairs pass, and the outcome in words. `latent_of(feature) -> (latent, view)`."""
    ok = passes(scores, settings)
    n_passing = scores.loc[ok].groupby("concept").size()
    passing_pairs = scores.loc[ok, ["feature", "concept"]]  # few: a set, not a dict of every pair (Evo 2: 1.3 M)
    pair_ok = set(zip(passing_pairs["feature"].astype(int), passing_pairs["concept"].astype(str)))
    rows = []
    for c in concepts.itertuples(index=False):
        best = c.best_feature_auroc
        has_best = best is not None and best == best
        latent, view = latent_of(int(best)) if has_best else (np.nan, "")
        passing = bool(has_best and (int(best), str(c.concept)) in pair_ok and bool(c.best_annotated))
        margin = float(c.best_margin) if c.best_margin == c.best_margin else np.nan
        rows.append(
            {
                "concept": c.concept,
                "evaluated": bool(c.evaluated) if c.evaluated == c.evaluated else False,
                "control": getattr(c, "control", ""),
                "best_latent": latent,
                "best_view": view,
                "best_auroc_train": c.best_auroc_train,
                "best_auroc_test": c.best_auroc_test,
                "baseline": c.baseline,
                "baseline_auroc_test": c.baseline_auroc_test,
                "best_margin": margin,
                "best_q": c.best_auroc_q,
                "passes": passing,
                "beats_baseline": bool(margin >= margin_cut) if margin == margin else False,
                "n_features_passing": int(n_passing.get(c.concept, 0)),
                "dense_probe_auroc": getattr(c, "dense_probe_auroc", np.nan),
                "sae_probe_auroc": getattr(c, "sae_probe_auroc", np.nan),
            }
        )
    table = pd.DataFrame(rows, columns=list(CONCEPT_COLUMNS))
    extra = [
        c
        for c in concepts.columns
        if (c.startswith("baseline_") and c.endswith("_auroc_test") and c != "baseline_auroc_test")
        or c.startswith(("group_", "k_sparse_auroc_test_"))  # the concept's latent group (k-sparse probing)
        or c in (*FINDING_COLUMNS, "untestable_reason")  # what belongs together (probe/findings.py)
        or c.startswith(("strongest_baseline", "control_"))  # the strongest baseline (context included); controls
        or c.endswith("_margin")
        or c == "best_margin_strongest"  # each claim's margin over the strongest baseline
        or c.endswith(("_lo", "_hi", "_note"))  # bootstrap intervals of the AUROCs
    ]
    extra = [c for c in extra if c not in table.columns]
    table = table.merge(concepts[["concept"] + extra], on="concept", how="left")
    if "group_latents" in table:  # the group's feature ids as the report names latents (f<latent>, view)
        table["group_latents_named"] = [named_latents(ids, latent_of) for ids in table["group_latents"]]
    out = labels.merge(table, on="concept", how="outer")
    out["evaluated"] = out["evaluated"].astype("boolean").fillna(False).astype(bool)
    for col in ("passes", "beats_baseline"):
        out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    out["n_features_passing"] = out["n_features_passing"].fillna(0).astype(np.int64)
    return fold_findings(out, margin_cut)  # one row per finding: twins and identical concepts folded
