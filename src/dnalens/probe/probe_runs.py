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
from dnalens.probe.kept_scores import keep_scores
from dnalens.probe.probes import balanced_accuracy, fit_binary_probes, fit_softmax_probe, sample_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeRunSettings:
    max_tokens: int = 50_000
    l2: float = 1e-3
    max_iter: int = 100
    seed: int = 0
    sparse_ks: tuple[int, ...] = ()  # k-sparse probing (sparse_probing.py); () = off
    sparse_max_tokens: int = 20_000  # train rows of the k-sparse probes
    group_max_k: int = 0  # cross-fitted train AUROC for k <= this (the concept's latent group is chosen from it)


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
    name: str, x, labels, evaluated: np.ndarray, names, train, test, s: ProbeRunSettings, keep=None
) -> list[dict]:
    """Logistic probes of the `evaluated` columns of `labels` ([N, L], read only at the sampled and
    held-out rows); `names` are those columns' names. `keep` (heldout_scores.Kept) collects the held-out logits."""
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
        keep_scores(keep, f"{name}_probe_auroc", names[c], z[:, j])
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


def sparse_probe_rows(
    x, labels, evaluated: np.ndarray, names, train, test, fold: np.ndarray, s: ProbeRunSettings
) -> list[dict]:
    """k-sparse probes (SAEBench) of the `evaluated` binary concepts on the SAE codes: per concept and k, the
    latents (chosen on the probes' train sample), the held-out AUROC, and for k <= group_max_k the AUROC
    cross-fitted over the train sample's `fold`s (the baselines' block parity), from which the report's
    concept groups are chosen."""
    from dnalens.probe.sparse_probing import cross_fitted_auroc, k_sparse_probing

    ks = sorted(set(s.sparse_ks) | set(range(1, s.group_max_k + 1)))  # every k a concept group may take
    fit_rows = sample_rows(train, s.sparse_max_tokens, s.seed)
    y_fit = np.asarray(labels[fit_rows], bool)[:, evaluated]
    y_test = np.asarray(labels[test], bool)[:, evaluated]
    codes_fit, codes_test = sp.csc_matrix(rows_of(x, fit_rows)), sp.csc_matrix(rows_of(x, test))
    folds = np.asarray(fold)[fit_rows].astype(np.int64)
    out = []
    for j, concept in enumerate(names):
        y = y_fit[:, j]
        if not y.any() or y.all():
            continue
        for r in k_sparse_probing(codes_fit, y, codes_test, y_test[:, j], ks, l2=s.l2):
            cv = cross_fitted_auroc(codes_fit, y, folds, r.k, l2=s.l2) if r.k <= s.group_max_k else np.nan
            out.append(
                {
                    "concept": concept,
                    "kind": "k_sparse",
                    "input": "sae",
                    "n_classes": 2,
                    "n_train": int(fit_rows.size),
                    "n_test": int(test.size),
                    "auroc": r.auroc_test,
                    "k": r.k,
                    "latents": "+".join(str(i) for i in r.latents),
                    "auroc_train": r.auroc_train,
                    "auroc_train_cv": cv,
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


def run_probes(
    inp,
    train: np.ndarray,
    test: np.ndarray,
    evaluated: np.ndarray,
    s: ProbeRunSettings,
    fold: np.ndarray | None = None,
    keep=None,
) -> pd.DataFrame:
    """One row per (concept, input): binary concepts with evaluated=True, and every categorical concept; with
    `s.sparse_ks`, one k_sparse row per (binary concept, k) on the SAE codes (`fold`: the train folds)."""
    names = [n for n, e in zip(inp.label_names, evaluated) if e]
    sources = [("sae", inp.codes)] + ([("dense", inp.dense)] if inp.dense is not None else [])
    rows: list[dict] = []
    for name, x in sources:
        log.info("probes on %s: %d binary concepts, %d categorical", name, len(names), len(inp.categorical))
        if names:
            rows.extend(binary_probe_rows(name, x, inp.labels, evaluated, names, train, test, s, keep))
        for concept, (values, classes) in inp.categorical.items():
            row = categorical_probe_row(name, x, concept, np.asarray(values), classes, train, test, s)
            if row is not None:
                rows.append(row)
    if s.sparse_ks and names and fold is not None:
        log.info(
            "k-sparse probes on sae: %d binary concepts, k in %s and 1..%d",
            len(names),
            list(s.sparse_ks),
            s.group_max_k,
        )
        rows.extend(sparse_probe_rows(inp.codes, inp.labels, evaluated, names, train, test, fold, s))
    return pd.DataFrame(rows)
