"""Fit and score the linear probes of the probe stage (binary concepts and categorical ones).

For each input (SAE codes, and the dense activations when the buffer has them): one joint fit of
class-balanced logistic probes for the evaluated binary concepts, one softmax probe per categorical
concept; all trained on a token sample of the training blocks, scored on every held-out token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.probe.auroc import auroc_matrix
from dnalens.probe.probes import balanced_accuracy, fit_binary_probes, fit_softmax_probe, sample_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeRunSettings:
    max_tokens: int = 50_000
    l2: float = 1e-3
    max_iter: int = 100
    seed: int = 0


def rows_of(x, rows: np.ndarray):
    """Rows of a sparse matrix, on-disk codes (formats.codes.CodeRows) or (memory-mapped, possibly float16)
    dense array, as float32."""
    if hasattr(x, "take") and not isinstance(x, np.ndarray):
        return x.take(rows)
    if sp.issparse(x):
        return sp.csr_matrix(x[rows], dtype=np.float32)
    return np.asarray(x[rows], dtype=np.float32)


def _logits(probe, x, rows: np.ndarray, batch: int = 32_768) -> np.ndarray:
    return np.concatenate(
        [probe.logits(rows_of(x, rows[i : i + batch])) for i in range(0, rows.size, batch)]
        or [np.zeros((0, probe.weight.shape[1]), np.float32)]
    )


def paired_auroc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of scores[:, j] for labels[:, j], each column on its own."""
    return np.array([auroc_matrix(scores[:, [j]], labels[:, [j]])[0, 0] for j in range(labels.shape[1])])


def binary_probe_rows(
    name: str, x, labels, evaluated: np.ndarray, names, train, test, s: ProbeRunSettings
) -> list[dict]:
    """Logistic probes of the `evaluated` columns of `labels` ([N, L], read only at the sampled and
    held-out rows); `names` are those columns' names."""
    fit_rows = sample_rows(train, s.max_tokens, s.seed)
    y_fit = np.asarray(labels[fit_rows], bool)[:, evaluated]
    usable = (y_fit.any(axis=0)) & (~y_fit.all(axis=0))
    if not usable.any():
        return []
    cols = np.flatnonzero(usable)
    probe = fit_binary_probes(rows_of(x, fit_rows), y_fit[:, cols], l2=s.l2, max_iter=s.max_iter)
    z = _logits(probe, x, test)
    y_test = np.asarray(labels[test], bool)[:, evaluated][:, cols]
    aucs = paired_auroc(z, y_test)
    out = []
    for j, c in enumerate(cols):
        pred, truth = z[:, j] > 0, y_test[:, j]
        out.append(
            {
                "concept": names[c],
                "kind": "binary",
                "input": name,
                "n_classes": 2,
                "n_train": int(fit_rows.size),
                "n_test": int(test.size),
                "auroc": float(aucs[j]),
                "accuracy": float(np.mean(pred == truth)),
                "balanced_accuracy": balanced_accuracy(truth.astype(int), pred.astype(int), 2),
                "chance": float(max(truth.mean(), 1 - truth.mean())) if truth.size else np.nan,
            }
        )
    return out


def categorical_probe_row(
    name: str, x, concept: str, values: np.ndarray, classes: list[str], train, test, s: ProbeRunSettings
) -> dict | None:
    fit_rows = sample_rows(train[values[train] >= 0], s.max_tokens, s.seed)
    test_rows = test[values[test] >= 0]
    if fit_rows.size == 0 or test_rows.size == 0 or np.unique(values[fit_rows]).size < 2:
        return None
    k = len(classes)
    probe = fit_softmax_probe(rows_of(x, fit_rows), values[fit_rows].astype(np.int64), k, l2=s.l2, max_iter=s.max_iter)
    pred = _logits(probe, x, test_rows).argmax(axis=1)
    truth = values[test_rows].astype(np.int64)
    return {
        "concept": concept,
        "kind": "categorical",
        "input": name,
        "n_classes": k,
        "n_train": int(fit_rows.size),
        "n_test": int(test_rows.size),
        "auroc": np.nan,
        "accuracy": float(np.mean(pred == truth)),
        "balanced_accuracy": balanced_accuracy(truth, pred, k),
        "chance": float(np.bincount(truth, minlength=k).max() / truth.size),
    }


def run_probes(inp, train: np.ndarray, test: np.ndarray, evaluated: np.ndarray, s: ProbeRunSettings) -> pd.DataFrame:
    """One row per (concept, input): binary concepts with evaluated=True, and every categorical concept."""
    names = [n for n, e in zip(inp.label_names, evaluated) if e]
    sources = [("sae", inp.codes)] + ([("dense", inp.dense)] if inp.dense is not None else [])
    rows: list[dict] = []
    for name, x in sources:
        log.info("probes on %s: %d binary concepts, %d categorical", name, len(names), len(inp.categorical))
        if names:
            rows.extend(binary_probe_rows(name, x, inp.labels, evaluated, names, train, test, s))
        for concept, (values, classes) in inp.categorical.items():
            row = categorical_probe_row(name, x, concept, np.asarray(values), classes, train, test, s)
            if row is not None:
                rows.append(row)
    return pd.DataFrame(rows)
