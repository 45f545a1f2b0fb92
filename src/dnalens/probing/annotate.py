"""Turn score matrices into the probe stage's tables (feature × concept, per feature, per concept).

Every "best" is chosen on the training blocks and reported on the held-out blocks (no winner's
curse). A pair is *annotated* when its held-out AUROC ≥ min_auroc or held-out F1 ≥ min_f1, with
q ≤ max_q, for a concept with ≥ min_instances instances. The F1 route also needs ≥ min_test_instances
instances in the held-out blocks (recall is a share of instances, and with one held-out gene any
feature that fires once inside it scores recall 1), a held-out AUROC above 0.5, and an F1 above that
of a feature firing everywhere (2c / (1 + c) for held-out coverage c: 0.59 for CDS at c = 0.42). Column meanings: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnalens.probing.f1 import DomainF1


@dataclass(frozen=True)
class Thresholds:
    min_auroc: float = 0.75
    min_f1: float = 0.5
    max_q: float = 0.05
    min_instances: int = 10
    top_features: int = 5
    min_test_instances: int = 5


@dataclass
class ScoreMatrices:
    """Everything measured, as [F, L] arrays (plus per-feature and per-concept vectors)."""

    concepts: list[str]
    auroc_train: np.ndarray
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


def always_on_f1(n_positive: np.ndarray, n_tokens: int) -> np.ndarray:
    """[L] F1 of a feature that fires on every token: precision = coverage c, recall 1 → 2c / (1 + c).
    A concept covering most of a genome (gene: ~0.9) gives any frequent feature a high F1."""
    c = np.asarray(n_positive, np.float64) / max(int(n_tokens), 1)
    return 2 * c / (1 + c)


def annotated_mask(s: ScoreMatrices, t: Thresholds) -> np.ndarray:
    if s.n_instances_test is None:
        f1_evaluable = np.ones((1, len(s.concepts)), bool)
    else:
        f1_evaluable = (np.asarray(s.n_instances_test) >= t.min_test_instances)[None, :]
    f1_route = (s.f1_test.f1 >= t.min_f1) & f1_evaluable & (s.auroc_test > 0.5)
    if s.n_test_tokens:
        f1_route &= s.f1_test.f1 > always_on_f1(s.n_positive_test, s.n_test_tokens)[None, :]
    strong = (s.auroc_test >= t.min_auroc) | f1_route
    return strong & (s.q <= t.max_q) & (s.n_instances >= t.min_instances)[None, :]


def best_features(s: ScoreMatrices) -> tuple[np.ndarray, np.ndarray]:
    """Per concept: feature with the best training AUROC, and with the best training F1."""
    return np.argmax(s.auroc_train, axis=0), np.argmax(s.f1_train.f1, axis=0)


def feature_concept_table(s: ScoreMatrices, t: Thresholds) -> pd.DataFrame:
    """Long table, one row per (feature, concept)."""
    n_f, n_l = s.auroc_train.shape
    by_auroc, by_f1 = best_features(s)
    best = np.zeros((n_f, n_l), bool)
    best[by_auroc, np.arange(n_l)] = True
    best[by_f1, np.arange(n_l)] = True
    f32 = lambda a: np.asarray(a, np.float32).ravel()  # noqa: E731
    return pd.DataFrame(
        {
            "feature": np.repeat(np.arange(n_f, dtype=np.int32), n_l),
            "concept": pd.Categorical.from_codes(np.tile(np.arange(n_l), n_f), categories=s.concepts),
            "auroc_train": f32(s.auroc_train),
            "auroc_test": f32(s.auroc_test),
            "f1_train": f32(s.f1_train.f1),
            "precision_train": f32(s.f1_train.precision),
            "recall_train": f32(s.f1_train.recall),
            "f1_test": f32(s.f1_test.f1),
            "precision_test": f32(s.f1_test.precision),
            "recall_test": f32(s.f1_test.recall),
            "threshold": f32(s.f1_train.threshold),
            "p": f32(s.p),
            "q": f32(s.q),
            "annotated": annotated_mask(s, t).ravel(),
            "best_for_concept": best.ravel(),
        }
    )


def features_table(s: ScoreMatrices, t: Thresholds) -> pd.DataFrame:
    """One row per feature: activation statistics and its best concept by AUROC and by F1."""
    n_f = s.auroc_train.shape[0]
    rows = np.arange(n_f)
    names = np.asarray(s.concepts, dtype=object)
    ann = annotated_mask(s, t)
    by_auroc = np.argmax(s.auroc_train, axis=1)
    by_f1 = np.argmax(s.f1_train.f1, axis=1)
    ann_score = np.where(ann, s.auroc_test, -np.inf)
    top_ann = np.argmax(ann_score, axis=1)
    has_ann = ann.any(axis=1)
    return pd.DataFrame(
        {
            "feature": rows.astype(np.int32),
            "frequency": s.frequency,
            "max_activation": s.max_activation,
            "mean_active": s.mean_active,
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


def concepts_table(s: ScoreMatrices, t: Thresholds, probes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per concept: counts, best single features (train-chosen, held-out scores), probes."""
    n_l = len(s.concepts)
    cols = np.arange(n_l)
    by_auroc, by_f1 = best_features(s)
    ann = annotated_mask(s, t)
    order = np.argsort(-s.auroc_train, axis=0, kind="stable")[: t.top_features]
    top = [
        ";".join(f"{f}:{s.auroc_test[f, lab]:.3f}" for f in order[:, lab]) for lab in cols
    ]
    table = pd.DataFrame(
        {
            "concept": s.concepts,
            "n_positive": s.n_positive,
            "coverage": s.n_positive / max(s.n_tokens, 1),
            "n_instances": s.n_instances,
            "evaluated": s.n_instances >= t.min_instances,
            "n_positive_train": s.n_positive_train,
            "n_positive_test": s.n_positive_test,
            "best_feature_auroc": by_auroc.astype(np.int32),
            "best_auroc_train": s.auroc_train[by_auroc, cols],
            "best_auroc_test": s.auroc_test[by_auroc, cols],
            "best_auroc_q": s.q[by_auroc, cols],
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
    wide = _probe_columns(probes)
    if wide is not None:
        table = table.merge(wide, on="concept", how="left")
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
