"""Domain F1 (InterPLM's definition) of every feature for every concept, from the nonzeros only.

A feature is *on* at a token where activation / fmax > t (t = 0: activation > 0). Precision is per
nucleotide (on-tokens inside the concept / on-tokens); recall is per instance (instances with at
least one on-token / instances). `instances[i, l]` is the instance id of token i for concept l, −1
outside; a positive token with id −1 counts as an instance of its own, so point concepts (no ids)
get per-nucleotide recall. With thresholds t_1 < … < t_T each nonzero gets a level (how many it
passes); true positives are counted once per nonzero at its level and summed over levels ≥ j, and
instances hit per (threshold, feature) by the run counting of `f1_counts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dnalens.probe.chunks import DEFAULT_CHUNK_ENTRIES, ColumnBlock, FeatureChunker
from dnalens.probe.f1_counts import InstanceRuns, TokenConcepts
from dnalens.probe.metric_formulas import DomainF1, F1Curves, best_index, best_over_thresholds
from dnalens.settings import schema_defaults

DEFAULT_THRESHOLDS = schema_defaults("probe")["thresholds"]  # probe.thresholds (the config schema)


def _levels(block: ColumnBlock, fmax: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many thresholds each nonzero passes (activation > t·fmax; features with fmax ≤ 0 never on)."""
    scale = fmax[block.f0 : block.f1][block.cols]
    level = np.zeros(block.data.size, np.int8)
    ok = scale > 0
    for t in thresholds:
        level += (block.data > t * scale) & ok
    return level


def _threshold_segments(block: ColumnBlock, level: np.ndarray, n_thresholds: int):
    """Per threshold j, (segment, token) of its on-tokens: segment j·n_cols + f, tokens ascending.
    One threshold at a time: all of them together are up to T copies of a dense feature's tokens."""
    cols = block.cols
    for j in range(n_thresholds):
        mask = level > j
        yield j * block.n_cols + cols[mask], block.rows[mask]


def _from_top(exact: np.ndarray) -> np.ndarray:
    """Counts at exactly level j+1 → counts at level ≥ j+1 (reverse cumulative sum over axis 0)."""
    return np.cumsum(exact[::-1], axis=0)[::-1]


def column_max(codes, *, rows: np.ndarray | None = None, max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES) -> np.ndarray:
    """Per-feature maximum activation over the (selected) tokens; 0 for a feature that never fires."""
    chunker = FeatureChunker(codes, rows=rows, max_entries=max_chunk_entries)
    out = np.zeros(chunker.n_features)
    for block in chunker:
        if block.data.size:
            data = np.append(block.data.astype(np.float64), 0.0)  # reduceat needs every start < size
            top = np.maximum.reduceat(data, block.indptr[:-1])
            out[block.f0 : block.f1] = np.where(block.counts > 0, np.maximum(top, 0.0), 0.0)
    return out


@dataclass(frozen=True)
class F1Labels:
    """The labels and instances of a token subset in the form the counts use, built once for many
    feature blocks (building them is a pass over the whole [N, L] label matrix)."""

    concepts: TokenConcepts
    runs: InstanceRuns
    n_rows: int
    n_labels: int


def prepare_f1_labels(
    labels, instances=None, rows: np.ndarray | None = None, concepts: TokenConcepts | None = None
) -> F1Labels:
    """F1Labels of `rows` (all tokens when None); `instances` may be any [N, L] array-like; `concepts`:
    TokenConcepts of the same rows when the caller has them already (they are the AUROC's too). The
    labels are read a column at a time, never copied for the subset."""
    lab = labels.toarray() if sp.issparse(labels) else labels
    if rows is not None:
        rows = np.arange(lab.shape[0])[rows]  # a boolean mask or a slice as indices
    n_rows = lab.shape[0] if rows is None else len(rows)
    if concepts is None:
        concepts = TokenConcepts.from_labels(lab, rows)
    elif concepts.n != n_rows:
        raise ValueError(f"concepts cover {concepts.n} rows, the labels {n_rows}")
    return F1Labels(concepts, InstanceRuns.from_arrays(lab, instances, rows), n_rows, lab.shape[1])


def concat_curves(parts: list[F1Curves]) -> F1Curves:
    """Curves of consecutive feature blocks as one (the per-concept totals are the same in each)."""
    first = parts[0]
    return F1Curves(
        first.thresholds,
        np.concatenate([p.on for p in parts], axis=1),
        np.concatenate([p.true_pos for p in parts], axis=1),
        np.concatenate([p.hit_instances for p in parts], axis=1),
        first.n_pos,
        first.n_instances,
        np.concatenate([p.best_index for p in parts], axis=0),
    )


def f1_problem(codes, labels, instances, thresholds, fmax, rows, max_chunk_entries: int):
    """(sorted thresholds, chunker, F1Labels of `rows`, fmax [F]) checked once, whichever backend counts."""
    t = np.unique(np.asarray(thresholds, dtype=np.float64))
    if t.size == 0 or t.min() < 0:
        raise ValueError(f"thresholds must be a non-empty list of values >= 0, got {thresholds!r}")
    chunker = FeatureChunker(codes, rows=rows, max_entries=max_chunk_entries)
    prepared = labels if isinstance(labels, F1Labels) else prepare_f1_labels(labels, instances, rows)
    if prepared.n_rows != chunker.n_rows:
        raise ValueError(f"labels have {prepared.n_rows} rows, codes {chunker.n_rows}")
    if fmax is None:
        fmax = column_max(codes, rows=rows, max_chunk_entries=max_chunk_entries)
    return t, chunker, prepared, np.asarray(fmax, float)


def domain_f1_curves(
    codes,
    labels,
    instances=None,
    thresholds=DEFAULT_THRESHOLDS,
    fmax=None,
    *,
    rows: np.ndarray | None = None,
    max_chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> F1Curves:
    """Precision/recall counts of every (threshold, feature, concept), on numpy; thresholds sorted
    ascending. `labels` may be F1Labels of `rows` (then `instances` is ignored). The torch twin is
    `f1_torch.domain_f1_curves_torch`; `backend.domain_f1_curves` picks one."""
    t, chunker, prepared, fmax = f1_problem(codes, labels, instances, thresholds, fmax, rows, max_chunk_entries)
    concepts, runs = prepared.concepts, prepared.runs
    n_t, n_f, n_l = t.size, chunker.n_features, prepared.n_labels
    on = np.zeros((n_t, n_f), np.int32)
    true_pos = np.zeros((n_t, n_f, n_l), np.int32)
    hit = np.zeros((n_t, n_f, n_l), np.int32)
    best = np.zeros((n_f, n_l), np.int64)
    for block in chunker:
        level = _levels(block, fmax, t)
        n_seg, shape = n_t * block.n_cols, (n_t, block.n_cols, n_l)
        passed = level > 0  # each on-token once, at its highest threshold; sums over levels ≥ j follow
        seg = (level[passed].astype(np.int64) - 1) * block.n_cols + block.cols[passed]
        tok = block.rows[passed]
        on[:, block.f0 : block.f1] = _from_top(np.bincount(seg, minlength=n_seg).reshape(n_t, block.n_cols))
        tp = _from_top(concepts.counts(seg, tok, n_seg).reshape(shape))
        true_pos[:, block.f0 : block.f1] = tp
        hits = np.where(runs.region[None, None, :], 0, tp)  # point concepts: every positive is an instance
        if runs.singles is not None:
            hits += _from_top(runs.singles.counts(seg, tok, n_seg).reshape(shape))
        if runs.region.any() and passed.any():
            for seg_j, tok_j in _threshold_segments(block, level, n_t):
                hits += runs.hits(seg_j, tok_j, n_seg).reshape(shape)
        hit[:, block.f0 : block.f1] = hits
        best[block.f0 : block.f1] = best_index(on[:, block.f0 : block.f1], tp, hits, runs.n_instances)
    return F1Curves(t, on, true_pos, hit, concepts.n_pos, runs.n_instances, best)


def domain_f1(codes, labels, instances=None, thresholds=DEFAULT_THRESHOLDS, fmax=None, **options) -> DomainF1:
    """Best F1, precision, recall and threshold per [F, L] (see module doc). fmax: per-feature
    normaliser [F] (default: each feature's maximum over the selected tokens); options: `rows`,
    `max_chunk_entries` as for `domain_f1_curves`."""
    return best_over_thresholds(domain_f1_curves(codes, labels, instances, thresholds, fmax, **options))
