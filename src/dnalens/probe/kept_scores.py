"""Where the probe stage's fitted claims leave their held-out logits (heldout_scores.py turns them into intervals).

A leaf module: the probes, the matched-context baseline and the gather all record into one `Kept` mapping."""

from __future__ import annotations

import numpy as np

# scores[column][concept] = held-out logits [n rows]; for a control's rows also "rows", "positive", "stratum"
Kept = dict[str, dict[str, dict[str, np.ndarray]]]


def keep_scores(keep: Kept | None, column: str, concept: str, scores: np.ndarray, **rows: np.ndarray) -> None:
    """Record one claim's held-out scores (no-op without a collector)."""
    if keep is not None:
        keep.setdefault(column, {})[concept] = {"scores": np.asarray(scores, np.float32), **rows}
