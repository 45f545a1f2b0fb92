"""The matched-context baseline: a sequence-only model that reads as much of the genome as the model does.

The centred 5-mer sees 5 nt; the model reads ≥ 256 nt each side (the demo's trimmed windows). A latent's margin
over a 5-mer proves little for CDS or codon position, which a Markov gene finder reads from the same context. So
each concept also gets a class-balanced logistic probe (`probes.fit_binary_probes`, the dense probe's fit) on a
sequence-only view of ±`context_nt` around each token, in read orientation:
- "kmer" (the default): 3-mer counts upstream and downstream of the token (k-mers wholly on one side), apart by
  phase (k-mer start offset mod 3), 2 × 3 × 64 = 384 columns, plus one-hot of the centred ±`CENTRE_NT` bases
  (68 columns). Phased codon counts are what a gene finder's frame model reads, so CDS, codon position and
  strand are within its reach; a motif sits in the centre's one-hot. 452 columns whatever the context.
- "onehot": one-hot of every base within ±context_nt (4 × (2 context_nt + 1) columns, 2,052 at 256 nt): it can
  place a motif at an exact offset, at ~5× the cost per token.
Cost is bounded by `max_tokens` (a seeded sample of train tokens, as the linear probes) and by scoring held-out
tokens in batches; a CNN would fit better but costs GPU-scale time per genome (benchmarks/context_baseline.py).

Like the k-mer baselines it is fitted on train blocks only: its train AUROC is cross-fitted (block-parity
halves, each scored by the probe fitted on the other), so choosing the strongest baseline stays train-only;
its held-out AUROC comes from the probe fitted on the whole sample. On a matched control (`controls`) it is
fitted on the train control rows and scored as the k-mer baselines are there: same-stratum pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.probe.kept_scores import keep_scores
from dnalens.probe.matched_controls import stratified_auroc_rows
from dnalens.probe.probes import fit_binary_probes, sample_rows
from dnalens.probe.sequence_context import ReadSequence

MODES = ("kmer", "onehot", "none")
K = 3
CENTRE_NT = 8
BATCH = 8192


@dataclass(frozen=True)
class ContextBaselineSettings:
    mode: str = "kmer"
    context_nt: int = 256
    max_tokens: int = 50_000
    l2: float = 1e-3
    max_iter: int = 100
    seed: int = 0


def n_columns(mode: str, context_nt: int) -> int:
    if mode == "onehot":
        return 4 * (2 * context_nt + 1)
    return 2 * 3 * 4**K + 4 * (2 * CENTRE_NT + 1)


def context_features(reader: ReadSequence, rows: np.ndarray, mode: str, context_nt: int) -> np.ndarray:
    """float32 [len(rows), n_columns]: the sequence-only view of each token (module doc); N bases add nothing."""
    rows = np.asarray(rows, np.int64)
    out = np.zeros((rows.size, n_columns(mode, context_nt)), np.float32)
    for b0 in range(0, rows.size, BATCH):
        part = rows[b0 : b0 + BATCH]
        out[b0 : b0 + part.size] = _batch_features(reader, part, mode, context_nt)
    return out


def _one_hot(bases: np.ndarray, out: np.ndarray, first_column: int) -> None:
    n, width = bases.shape
    r, j = np.nonzero(bases < 4)
    out[r, first_column + 4 * j + bases[r, j]] = 1.0


def _batch_features(reader: ReadSequence, rows: np.ndarray, mode: str, w: int) -> np.ndarray:
    out = np.zeros((rows.size, n_columns(mode, w)), np.float32)
    if mode == "onehot":
        _one_hot(reader.bases(rows, np.arange(-w, w + 1)), out, 0)
        return out
    bases = reader.bases(rows, np.arange(-w, w + 1))  # column c = read offset c − w
    n_kmers, d = 4**K, out.shape[1]
    starts = np.r_[np.arange(-w, -K + 1), np.arange(1, w - K + 2)]  # k-mers wholly upstream / downstream
    code = np.zeros((rows.size, starts.size), np.int32)
    bad = np.zeros(code.shape, bool)
    for i in range(K):
        b = bases[:, starts + w + i]
        code = code * 4 + (b & 3)
        bad |= b >= 4
    side = (starts > 0).astype(np.int32)
    code += ((side * 3 + np.mod(starts, 3)) * n_kmers).astype(np.int32)[None, :]
    code += (np.arange(rows.size, dtype=np.int32) * (d + 1))[:, None]
    code[bad] = (np.arange(rows.size, dtype=np.int32) * (d + 1) + d)[np.nonzero(bad)[0]]  # a dropped column
    counts = np.bincount(code.ravel(), minlength=rows.size * (d + 1)).reshape(rows.size, d + 1)
    out[:] = counts[:, :d]
    _one_hot(bases[:, w - CENTRE_NT : w + CENTRE_NT + 1], out, 2 * 3 * n_kmers)
    return out


def _logits(y_fit, x_fit, scored, s: ContextBaselineSettings, reader: ReadSequence | None = None) -> np.ndarray:
    """Logits [n scored, L] of probes fitted on (x_fit, y_fit), NaN columns where y_fit lacks a class. scored:
    features [n, d], or token rows whose features are built a batch at a time from `reader`."""
    out = np.full((len(scored), y_fit.shape[1]), np.nan, np.float32)
    usable = y_fit.any(axis=0) & ~y_fit.all(axis=0)
    if not usable.any() or not len(scored):
        return out
    probe = fit_binary_probes(x_fit, y_fit[:, usable], l2=s.l2, max_iter=s.max_iter)
    if reader is None:
        out[:, usable] = probe.logits(scored)
        return out
    for b0 in range(0, len(scored), 4 * BATCH):
        x = context_features(reader, scored[b0 : b0 + 4 * BATCH], s.mode, s.context_nt)
        out[b0 : b0 + x.shape[0], usable] = probe.logits(x)
    return out


def _aurocs(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUROC per column, 0.5 where a column has no scores (a class missing where it was fitted)."""
    out = np.full(y.shape[1], 0.5)
    ok = np.isfinite(scores).all(axis=0) & y.any(axis=0) & ~y.all(axis=0)
    one_group = np.zeros(y.shape[0], np.int64)
    for j in np.flatnonzero(ok):  # tie-aware Mann–Whitney on the host, like the other baselines
        out[j] = stratified_auroc_rows(scores[:, [j]], y[:, j], one_group)[0]
    return out


def context_baseline_scores(
    reader: ReadSequence,
    labels,
    train: np.ndarray,
    test: np.ndarray,
    fold: np.ndarray,
    s: ContextBaselineSettings,
    keep=None,
    names=(),
) -> tuple[np.ndarray, np.ndarray]:
    """(cross-fitted train AUROC [L], held-out AUROC [L]) of every concept's matched-context probe (module doc).
    labels: bool [N, L] (or PackedLabels), read at the sampled train rows and the held-out rows; fold: bool [N]."""
    fit_rows = sample_rows(np.asarray(train), s.max_tokens, s.seed)
    y_fit = np.asarray(labels[fit_rows], bool)
    x_fit = context_features(reader, fit_rows, s.mode, s.context_nt)
    odd = np.asarray(fold)[fit_rows].astype(bool)
    crossed = np.full(y_fit.shape, np.nan, np.float32)
    for half in (False, True):
        fit, scored = odd != half, odd == half
        crossed[scored] = _logits(y_fit[fit], x_fit[fit], x_fit[scored], s)
    auroc_train = _aurocs(crossed, y_fit)
    test = np.asarray(test)
    logits = _logits(y_fit, x_fit, test, s, reader)
    for j, name in enumerate(names):  # held-out scores for the intervals (heldout_scores.py)
        keep_scores(keep, "baseline_context_auroc_test", name, logits[:, j])
    return auroc_train, _aurocs(logits, np.asarray(labels[test], bool))


def control_context_baseline(
    reader: ReadSequence, strata_rows, fold: np.ndarray, s: ContextBaselineSettings, keep=None, name: str = ""
) -> tuple[float, float]:
    """(cross-fitted train, held-out) same-stratum AUROC of the matched-context probe on a control's rows.
    strata_rows(side) -> (rows, is positive, stratum), as `controls.Control.strata_rows`."""
    rows_tr, y_tr, g_tr = strata_rows("train")
    rows_te, y_te, g_te = strata_rows("test")
    if not rows_tr.size or y_tr.all() or not y_tr.any():
        return 0.5, 0.5
    pick = sample_rows(np.arange(rows_tr.size), s.max_tokens, s.seed)
    rows_tr, y_tr, g_tr = rows_tr[pick], y_tr[pick], g_tr[pick]
    x_tr = context_features(reader, rows_tr, s.mode, s.context_nt)
    odd = np.asarray(fold)[rows_tr].astype(bool)
    crossed = np.full(rows_tr.size, np.nan, np.float32)
    for half in (False, True):
        fit, scored = odd != half, odd == half
        crossed[scored] = _logits(y_tr[fit, None], x_tr[fit], x_tr[scored], s)[:, 0]
    ok = np.isfinite(crossed)
    a_train = float(stratified_auroc_rows(crossed[ok, None], y_tr[ok], g_tr[ok])[0]) if ok.all() else 0.5
    z = _logits(y_tr[:, None], x_tr, rows_te, s, reader)[:, 0]
    keep_scores(keep, "baseline_context_auroc_test", name, z, rows=rows_te, positive=y_te, stratum=g_te)
    a_test = float(stratified_auroc_rows(z[:, None], y_te, g_te)[0]) if rows_te.size and np.isfinite(z).all() else 0.5
    return a_train, a_test
