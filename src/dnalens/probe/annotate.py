"""Turn score matrices into the probe stage's tables (feature × concept, per feature, per concept).

Every choice is made on the training blocks and reported on the held-out blocks (no winner's curse):
a concept's best feature is its argmax TRAIN AUROC, its baseline the sequence-only baseline with the
best (cross-fitted) TRAIN AUROC, a feature's label the concept with its largest TRAIN margin.

Annotation rule. A (feature, concept) pair is `annotated` only when ALL hold:
  1. the concept is evaluated (≥ min_instances instances);
  2. held-out AUROC ≥ min_auroc;
  3. margin = held-out AUROC − held-out AUROC of the concept's train-chosen best baseline ≥ min_margin
     (a feature must say more than the centred k-mer, local GC or window position; `baselines`);
  4. q ≤ max_q (circular-shift null, BH over all evaluated pairs; `nulls`).
Point concepts with a matched control (`controls`: start/stop codons frame-matched, splice sites
dinucleotide-matched) use the AUROC on positives vs controls, and their baselines are scored on the
same rows; their q stays the all-token shift null's. Domain F1 does not annotate on its own any more:
`f1_supported` reports held-out F1 ≥ min_f1 with held-out precision ≥ min_precision_lift × the
concept's held-out base rate and ≥ min_test_instances held-out instances. Every threshold is a `probe:`
setting read from `ProbeSettings` (defaults: the config schema). Columns: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dnalens.probe.baselines import BaselineScores
from dnalens.probe.metric_formulas import DomainF1
from dnalens.probe.settings import ProbeSettings

# Baselines the strict annotation rule does not gate on. The matched-context baseline (a supervised probe on
# hundreds of sequence features over the model's context) answers "does the model know more than its input
# gives a linear reader?", a question for the dense probe and the latent groups; a single unsupervised latent
# is judged against the local sequence (is it more than a k-mer detector?), and every claim also carries its
# margin over the strongest baseline, context included (config/README.md, "probe": "Which baseline").
GATE_SKIPS = ("context",)


@dataclass
class ScoreMatrices:
    """Everything measured, as [F, L] arrays (plus per-feature and per-concept vectors)."""

    concepts: list[str]
    auroc_train: np.ndarray  # controlled concepts: on positives vs controls
    auroc_test: np.ndarray
    f1_train: DomainF1
    f1_test: DomainF1  # at each pair's threshold chosen on train
    p: np.ndarray
    q: np.ndarray
    n_instances: np.ndarray  # [L] whole buffer
    n_positive: np.ndarray  # [L]
    n_positive_train: np.ndarray
    n_positive_test: np.ndarray
    n_tokens: int
    frequency: np.ndarray  # [F] share of tokens where the feature is > 0
    max_activation: np.ndarray  # [F]
    mean_active: np.ndarray  # [F] mean value where non-zero
    n_instances_test: np.ndarray | None = None  # [L] instances in the held-out blocks
    n_test_tokens: int | None = None  # tokens in the held-out blocks
    baselines: BaselineScores | None = None  # [B, L]; None: chance (0.5) is the baseline
    control: list[str] = field(default_factory=list)  # [L] "" or the control kind
    auroc_test_uncontrolled: np.ndarray | None = None  # [F, L] held-out AUROC against all tokens

    def baseline_best(self):
        """The strict rule's baseline: the best (by train AUROC) of the local sequence baselines (centred k-mers,
        GC, window edge). The matched-context baseline is not one of them (`strongest_baseline`)."""
        return self._baselines().best(skip=GATE_SKIPS)

    def strongest_baseline(self):
        """Every sequence-only baseline, the matched-context one included: what each claim's
        `*_margin_strongest` / `*_margin` column is measured against (reported, not the annotation gate)."""
        return self._baselines().best()

    def _baselines(self) -> BaselineScores:
        n_l = len(self.concepts)
        return self.baselines or BaselineScores([], np.zeros((0, n_l)), np.zeros((0, n_l)))

    @property
    def controls(self) -> list[str]:
        return self.control or [""] * len(self.concepts)


def margins(s: ScoreMatrices) -> tuple[np.ndarray, np.ndarray]:
    """(train margin, held-out margin) [F, L] over the concept's train-chosen baseline."""
    _, base_train, base_test, _ = s.baseline_best()
    return s.auroc_train - base_train[None, :], s.auroc_test - base_test[None, :]


def annotated_mask(s: ScoreMatrices, settings: ProbeSettings) -> np.ndarray:
    """[F, L] the annotation rule (module doc)."""
    _, margin = margins(s)
    evaluated = (np.asarray(s.n_instances) >= settings.min_instances)[None, :]
    with np.errstate(invalid="ignore"):
        return (
            evaluated & (s.auroc_test >= settings.min_auroc) & (margin >= settings.min_margin) & (s.q <= settings.max_q)
        )


def f1_supported(s: ScoreMatrices, settings: ProbeSettings) -> np.ndarray:
    """[F, L] held-out F1 evidence (reported, never annotating on its own; module doc)."""
    base_rate = np.asarray(s.n_positive_test, np.float64) / max(int(s.n_test_tokens or 0), 1)
    enough = (
        np.ones(len(s.concepts), bool)
        if s.n_instances_test is None
        else np.asarray(s.n_instances_test) >= settings.min_test_instances
    )
    return (
        (s.f1_test.f1 >= settings.min_f1)
        & (s.f1_test.precision >= settings.min_precision_lift * base_rate[None, :])
        & enough[None, :]
    )


def best_features(s: ScoreMatrices) -> tuple[np.ndarray, np.ndarray]:
    """Per concept: feature with the best training AUROC, and with the best training F1."""
    return np.argmax(s.auroc_train, axis=0), np.argmax(s.f1_train.f1, axis=0)


def feature_labels(s: ScoreMatrices, settings: ProbeSettings) -> np.ndarray:
    """[F] per feature: the evaluated concept with the largest TRAIN margin over its train baseline
    (−1 when no concept is evaluated)."""
    margin_train, _ = margins(s)
    evaluated = np.asarray(s.n_instances) >= settings.min_instances
    if not evaluated.any():
        return np.full(s.auroc_train.shape[0], -1)
    return np.argmax(np.where(evaluated[None, :], margin_train, -np.inf), axis=1)


def feature_concept_table(s: ScoreMatrices, settings: ProbeSettings) -> pd.DataFrame:
    """Long table, one row per (feature, concept)."""
    n_f, n_l = s.auroc_train.shape
    by_auroc, _ = best_features(s)
    best = np.zeros((n_f, n_l), bool)
    best[by_auroc, np.arange(n_l)] = True
    _, _, base_test, _ = s.baseline_best()
    _, margin = margins(s)
    uncontrolled = s.auroc_test if s.auroc_test_uncontrolled is None else s.auroc_test_uncontrolled
    f32 = lambda a: np.asarray(a, np.float32).ravel()  # noqa: E731
    return pd.DataFrame(
        {
            "feature": np.repeat(np.arange(n_f, dtype=np.int32), n_l),
            "concept": pd.Categorical.from_codes(np.tile(np.arange(n_l), n_f), categories=s.concepts),
            "auroc_train": f32(s.auroc_train),
            "auroc_test": f32(s.auroc_test),
            "auroc_test_uncontrolled": f32(uncontrolled),
            "baseline_auroc_test": f32(np.broadcast_to(base_test[None, :], (n_f, n_l))),
            "margin": f32(margin),
            "f1_train": f32(s.f1_train.f1),
            "precision_train": f32(s.f1_train.precision),
            "recall_train": f32(s.f1_train.recall),
            "f1_test": f32(s.f1_test.f1),
            "precision_test": f32(s.f1_test.precision),
            "recall_test": f32(s.f1_test.recall),
            "threshold": f32(s.f1_train.threshold),
            "p": f32(s.p),
            "q": f32(s.q),
            "f1_supported": f1_supported(s, settings).ravel(),
            "annotated": annotated_mask(s, settings).ravel(),
            "best_for_concept": best.ravel(),
        }
    )


def features_table(s: ScoreMatrices, settings: ProbeSettings) -> pd.DataFrame:
    """One row per feature: activation statistics, its label (train margin) and best concepts."""
    n_f = s.auroc_train.shape[0]
    rows = np.arange(n_f)
    names = np.asarray(s.concepts, dtype=object)
    ann = annotated_mask(s, settings)
    by_auroc = np.argmax(s.auroc_train, axis=1)
    by_f1 = np.argmax(s.f1_train.f1, axis=1)
    margin_train, margin_test = margins(s)
    _, _, base_test, _ = s.baseline_best()
    label = feature_labels(s, settings)
    has_label = label >= 0
    lab = np.maximum(label, 0)
    top_ann = np.argmax(np.where(ann, margin_train, -np.inf), axis=1)  # among annotated: largest train margin
    has_ann = ann.any(axis=1)
    pick = lambda m: np.where(has_label, m[rows, lab], np.nan) if n_f and names.size else np.full(n_f, np.nan)  # noqa: E731
    return pd.DataFrame(
        {
            "feature": rows.astype(np.int32),
            "frequency": s.frequency,
            "max_activation": s.max_activation,
            "mean_active": s.mean_active,
            "label": np.where(has_label, names[lab], None) if names.size else None,
            "label_auroc_train": pick(s.auroc_train),
            "label_auroc_test": pick(s.auroc_test),
            "label_baseline_auroc_test": np.where(has_label, base_test[lab], np.nan) if names.size else np.nan,
            "label_margin": pick(margin_test),
            "label_q": pick(s.q),
            "annotated": has_label & (ann[rows, lab] if names.size else False),
            "best_concept_auroc": names[by_auroc] if names.size else None,
            "auroc_train": s.auroc_train[rows, by_auroc],
            "auroc_test": s.auroc_test[rows, by_auroc],
            "auroc_q": s.q[rows, by_auroc],
            "best_concept_f1": names[by_f1] if names.size else None,
            "f1_train": s.f1_train.f1[rows, by_f1],
            "f1_test": s.f1_test.f1[rows, by_f1],
            "f1_threshold": s.f1_train.threshold[rows, by_f1],
            "f1_q": s.q[rows, by_f1],
            "annotation": np.where(has_ann, names[top_ann] if names.size else "", None),
            "n_annotated_concepts": ann.sum(axis=1).astype(np.int32),
        }
    )


def concepts_table(s: ScoreMatrices, settings: ProbeSettings, probes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per concept: counts, baselines, best single features (train-chosen, held-out scores), probes."""
    n_l = len(s.concepts)
    cols = np.arange(n_l)
    by_auroc, by_f1 = best_features(s)
    ann = annotated_mask(s, settings)
    _, margin = margins(s)
    base_name, base_train, base_test, _ = s.baseline_best()
    strong_name, strong_train, strong_test, _ = s.strongest_baseline()
    order = np.argsort(-s.auroc_train, axis=0, kind="stable")[: settings.top_features]
    top = [";".join(f"{f}:{s.auroc_test[f, lab]:.3f}" for f in order[:, lab]) for lab in cols]
    table = pd.DataFrame(
        {
            "concept": s.concepts,
            "control": s.controls,
            "n_positive": s.n_positive,
            "coverage": s.n_positive / max(s.n_tokens, 1),
            "n_instances": s.n_instances,
            "evaluated": s.n_instances >= settings.min_instances,
            "n_positive_train": s.n_positive_train,
            "n_positive_test": s.n_positive_test,
            "baseline": base_name.astype(str),
            "baseline_auroc_train": base_train,
            "baseline_auroc_test": base_test,
            "best_feature_auroc": by_auroc.astype(np.int32),
            "best_auroc_train": s.auroc_train[by_auroc, cols],
            "best_auroc_test": s.auroc_test[by_auroc, cols],
            "best_margin": margin[by_auroc, cols],
            "strongest_baseline": strong_name.astype(str),
            "strongest_baseline_auroc_train": strong_train,
            "strongest_baseline_auroc_test": strong_test,
            "best_margin_strongest": s.auroc_test[by_auroc, cols] - strong_test,
            "best_auroc_q": s.q[by_auroc, cols],
            "best_annotated": ann[by_auroc, cols],
            "best_feature_f1": by_f1.astype(np.int32),
            "best_f1_train": s.f1_train.f1[by_f1, cols],
            "best_f1_test": s.f1_test.f1[by_f1, cols],
            "best_f1_precision_test": s.f1_test.precision[by_f1, cols],
            "best_f1_recall_test": s.f1_test.recall[by_f1, cols],
            "best_f1_threshold": s.f1_train.threshold[by_f1, cols],
            "best_f1_q": s.q[by_f1, cols],
            "top_features_auroc": top,
            "n_annotated_features": ann.sum(axis=0).astype(np.int32),
        }
    )
    from dnalens.probe.sequence_context import BASELINES

    known = s.baselines.names if s.baselines is not None else []
    for name in BASELINES:
        for side, values in (("train", "auroc_train"), ("test", "auroc_test")):
            table[f"baseline_{name}_auroc_{side}"] = (
                getattr(s.baselines, values)[known.index(name)] if name in known else np.nan
            )
    wide = _probe_columns(probes)
    if wide is not None:
        table = table.merge(wide, on="concept", how="left")
    groups = concept_groups(probes, table["baseline_auroc_train"].to_numpy(), s.concepts, settings)
    table = table.merge(groups, on="concept", how="left")
    for name in ("dense_probe_auroc", "sae_probe_auroc"):
        if name not in table:
            table[name] = np.nan
    return table


def _probe_columns(probes: pd.DataFrame | None) -> pd.DataFrame | None:
    """Binary probe results as dense_/sae_ columns per concept."""
    if probes is None or probes.empty:
        return None
    binary = probes[probes["kind"] == "binary"]
    if binary.empty:
        return None
    wide = binary.pivot_table(index="concept", columns="input", values=["auroc", "balanced_accuracy"], aggfunc="first")
    wide.columns = [f"{inp}_probe_{metric}" for metric, inp in wide.columns]
    return wide.reset_index()


GROUP_COLUMNS = ("group_k", "group_latents", "group_auroc_test", "group_auroc_train_cv")


def concept_groups(probes: pd.DataFrame | None, baseline_train: np.ndarray, concepts, settings: ProbeSettings):
    """Per concept its latent group from the k-sparse probes: the smallest k <= group_max_k whose cross-fitted
    train AUROC beats the best baseline's (cross-fitted) train AUROC by min_margin, with its latents (feature
    ids joined by "+") and held-out AUROC; empty where no such k exists. Also the held-out AUROC at each k
    (`k_sparse_auroc_test_k<k>`)."""
    out = pd.DataFrame({"concept": list(concepts)})
    for col in GROUP_COLUMNS:
        out[col] = "" if col == "group_latents" else np.nan
    if probes is None or probes.empty or "k" not in probes:
        return out
    rows = probes[probes["kind"] == "k_sparse"]
    bar = dict(zip(concepts, np.asarray(baseline_train, np.float64) + settings.min_margin))
    for i, concept in enumerate(out["concept"]):
        mine = rows[rows["concept"] == concept].sort_values("k")
        for r in mine.itertuples(index=False):
            if r.k <= settings.group_max_k and r.auroc_train_cv > bar.get(concept, np.inf):
                out.loc[i, list(GROUP_COLUMNS)] = [r.k, r.latents, r.auroc, r.auroc_train_cv]
                break
    per_k = rows.pivot_table(index="concept", columns="k", values="auroc", aggfunc="first")
    per_k.columns = [f"k_sparse_auroc_test_k{int(k)}" for k in per_k.columns]
    out = out.merge(per_k.reset_index(), on="concept", how="left")
    out["group_k"] = out["group_k"].astype("Int64")
    return out
