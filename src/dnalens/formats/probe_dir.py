"""The probe directory (results/<genome>/probe/): what the probe stage writes and the report reads.

feature_concept.parquet (one row per feature x concept), features.parquet (per feature: its label, the
train-chosen primary concept), concepts.parquet (per concept: baselines and its train-chosen best feature),
probes.parquet (linear probes), split.json (the region-held-out blocks) and summary.json (settings, counts,
the annotation rule). Tables are read in the probe stage's own column names, with no aliases: a folder
written by an older probe stage stops with an InputError naming the missing column(s).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError

FEATURE_CONCEPT, FEATURES, CONCEPTS = "feature_concept.parquet", "features.parquet", "concepts.parquet"
PROBES, SPLIT, SUMMARY = "probes.parquet", "split.json", "summary.json"
PROBE_COLUMNS = (
    "concept",
    "kind",
    "input",
    "n_classes",
    "n_train",
    "n_test",
    "auroc",
    "accuracy",
    "balanced_accuracy",
    "chance",
)

# The probe stage's tables (its own column names; no aliases: an older probe folder fails with the
# missing column named). SCORE_COLUMNS: what the report reads of feature_concept.parquet, in the order it
# shows them; all are required but SCORE_OPTIONAL (NaN when absent).
SCORE_COLUMNS = (
    "feature",
    "concept",
    "auroc_train",
    "auroc_test",
    "baseline_auroc_test",
    "margin",
    "f1_train",
    "f1_test",
    "precision_train",
    "precision_test",
    "recall_train",
    "recall_test",
    "threshold",
    "p",
    "q",
    "f1_supported",
    "annotated",
    "best_for_concept",
)
SCORE_OPTIONAL = frozenset(
    {"f1_train", "f1_test", "precision_train", "precision_test", "recall_train", "recall_test", "p", "f1_supported"}
)
SCORE_REQUIRED = tuple(c for c in SCORE_COLUMNS if c not in SCORE_OPTIONAL)
LABEL_REQUIRED = ("feature", "label")
CONCEPT_REQUIRED = (
    "concept",
    "evaluated",
    "baseline",
    "baseline_auroc_test",
    "best_feature_auroc",
    "best_auroc_train",
    "best_auroc_test",
    "best_margin",
    "best_auroc_q",
    "best_annotated",
)


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], path: Path | str | None) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"probe table lacks column(s) {', '.join(missing)} (it has: {', '.join(map(str, frame.columns))}).",
            path=path,
            fix="rerun `dnalens probe` (the probe stage of this dnalens version writes them).",
        )


@dataclass(frozen=True)
class ProbeTables:
    scores: pd.DataFrame  # SCORE_COLUMNS
    labels: pd.DataFrame  # feature, label, ... (probe/features.parquet)
    concepts: pd.DataFrame  # probe/concepts.parquet
    summary: dict[str, Any]


def _read(directory: Path, name: str, required: tuple[str, ...]) -> pd.DataFrame:
    path = directory / name
    if not path.exists():
        raise InputError(f"{name} not found in the probe folder.", path=path, fix="run `dnalens probe` first.")
    frame = pd.read_parquet(path)
    require_columns(frame, required, path)
    return frame


def read_probe_dir(probe_dir: str | Path) -> ProbeTables:
    """feature_concept.parquet, features.parquet, concepts.parquet and summary.json of the probe stage."""
    directory = Path(probe_dir)
    if not directory.is_dir():
        raise InputError("probe results folder not found.", path=directory, fix="run `dnalens probe` first.")
    scores = _read(directory, FEATURE_CONCEPT, SCORE_REQUIRED)
    labels = _read(directory, FEATURES, LABEL_REQUIRED)
    labels = labels.assign(
        feature=labels["feature"].astype(np.int64),
        label=labels["label"].astype(object).where(labels["label"].notna(), None),
    )
    concepts = _read(directory, CONCEPTS, CONCEPT_REQUIRED)
    concepts = concepts.assign(concept=concepts["concept"].astype(str))
    return ProbeTables(scores, labels, concepts, read_json(directory / SUMMARY))


def read_json(path: str | Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {}
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg}).", path=path) from None


def write_probe_dir(result, out: str | Path, extra_summary: dict | None = None) -> Path:
    """results/<genome>/probe/: feature_concept, features, concepts, probes (.parquet), split.json, summary.json."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        result.feature_concept.to_parquet(tmp / FEATURE_CONCEPT, index=False)
        result.features.to_parquet(tmp / FEATURES, index=False)
        result.concepts.to_parquet(tmp / CONCEPTS, index=False)
        probes = result.probes if not result.probes.empty else pd.DataFrame(columns=list(PROBE_COLUMNS))
        probes.to_parquet(tmp / PROBES, index=False)
        (tmp / SPLIT).write_text(json.dumps(result.split.to_json(), indent=1))
        summary = {**result.summary, **(extra_summary or {})}
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=1, default=str))
    return out
