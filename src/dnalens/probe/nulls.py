"""Null distribution by circular shifts of the labels along the genome, and BH q-values.

Shifting every label track by the same offset along genome order keeps each concept's own
autocorrelation (gene lengths, codon periodicity) and breaks only its alignment with the activations,
which a token shuffle would not (it makes any smooth feature look significant). Tokens of each read
strand are ordered by (contig, position) and shifted among themselves, by the same fraction.

p-values: dictionary scale means 10⁶ tests, far below what raw per-pair shift counts resolve, so each
pair's statistic is standardised by its own null spread (root-mean-square distance from 0.5 over the
shifts; leave-one-out for the null draws themselves) and compared with the standardised null draws of
every feature for the same concept: p = (1 + #{null z ≥ z}) / (1 + #draws), one-sided (AUROC > 0.5).
"""

from __future__ import annotations

import numpy as np


def genome_order(token_contig: np.ndarray, token_position: np.ndarray, token_minus: np.ndarray) -> np.ndarray:
    """Token indices sorted by (strand, contig, genome position); ties keep token order."""
    return np.lexsort((np.arange(token_position.size), token_position, token_contig, token_minus))


def shift_fractions(n_shifts: int, seed: int = 0, min_fraction: float = 0.05) -> np.ndarray:
    """Random circular offsets, as fractions of a strand's tokens, in [min_fraction, 1 − min_fraction]."""
    if n_shifts <= 0:
        return np.zeros(0)
    return np.random.default_rng(seed).uniform(min_fraction, 1 - min_fraction, n_shifts)


def shift_rows(values: np.ndarray, order: np.ndarray, offset: int) -> np.ndarray:
    """values with rows moved `offset` places along `order` (circularly): out[order[i]] = values[order[i+offset]]."""
    out = np.empty_like(values)
    out[order] = values[np.roll(order, -int(offset))]
    return out


class GenomeShift:
    """Circular shifts along genome order, each read strand on its own (+ tokens take + tokens' labels)."""

    def __init__(self, token_contig: np.ndarray, token_position: np.ndarray, token_minus: np.ndarray):
        order = genome_order(token_contig, token_position, token_minus)
        minus_sorted = np.asarray(token_minus, bool)[order]
        self.orders = [o for o in (order[~minus_sorted], order[minus_sorted]) if o.size]
        index_type = np.int32 if order.size < np.iinfo(np.int32).max else np.int64  # [N] arrays: a genome's worth
        self.orders = [o.astype(index_type) for o in self.orders]
        self.group = np.empty(order.size, np.int8)
        self.rank = np.empty(order.size, index_type)
        for k, o in enumerate(self.orders):
            self.group[o] = k
            self.rank[o] = np.arange(o.size)
        if any(o.size < 20 for o in self.orders):
            raise ValueError("too few tokens on a strand for circular-shift nulls")

    def sources(self, rows: np.ndarray, fraction: float) -> np.ndarray:
        """For tokens `rows`, the token whose labels they carry after shifting by `fraction` of a strand."""
        out = np.empty(rows.size, np.int64)
        group = self.group[rows]
        for k, o in enumerate(self.orders):
            sel = group == k
            offset = max(1, int(round(fraction * o.size))) % o.size
            out[sel] = o[(self.rank[rows[sel]] + offset) % o.size]
        return out


def pooled_pvalues(observed: np.ndarray, null: np.ndarray, center: float = 0.5) -> np.ndarray:
    """One-sided p [F, L] of observed [F, L] against null [S, F, L], pooled per concept (module doc).

    Concept by concept, so memory stays at one [S, F] slice (null itself may be float32)."""
    n_shifts = null.shape[0]
    if n_shifts < 2:
        raise ValueError("need at least 2 null shifts")
    p = np.ones(observed.shape, dtype=np.float64)
    for lab in range(observed.shape[1]):
        dev = null[:, :, lab].astype(np.float64) - center
        msq = np.mean(dev**2, axis=0)
        keep = msq > 0  # a feature whose null never moves (never fires) has nothing to test
        if not keep.any():
            continue
        dev, msq = dev[:, keep], msq[keep]
        z_obs = (observed[keep, lab] - center) / np.sqrt(msq)
        loo = np.sqrt(np.maximum(n_shifts * msq[None, :] - dev**2, 0) / (n_shifts - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            z_null = np.where(dev == 0, 0.0, dev / loo)  # dev ≠ 0 with loo = 0 gives ±inf: conservative
        pool = np.sort(z_null.ravel())
        above = pool.size - np.searchsorted(pool, z_obs, side="left")
        p[keep, lab] = (1 + above) / (1 + pool.size)
    return p


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values (scipy.stats.false_discovery_control) over all entries of p.

    NaN marks a pair that was not tested (concept not evaluated): it stays NaN and is not counted, so
    BH's m is the number of pairs tested."""
    from scipy.stats import false_discovery_control

    flat = np.asarray(p, dtype=float).ravel()
    ok = ~np.isnan(flat)
    q = np.full(flat.shape, np.nan)
    if ok.any():
        q[ok] = false_discovery_control(flat[ok], method="bh")
    return q.reshape(np.shape(p))
