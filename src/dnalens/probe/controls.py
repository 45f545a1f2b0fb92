"""Matched controls for point concepts: a stop-codon feature must beat other codons, not all tokens.

Against all tokens, a feature that fires on every third base of a gene (reading frame) scores a high
AUROC for stop codons: they are in-frame CDS bases. So point concepts are scored on positives versus
matched negatives only, pairs compared within one stratum (`baselines.stratified_auroc`):
- frame-matched (start_codon, stop_codon and their `_antisense` twins): stratum = codon position
  (1, 2, 3) of a CDS base of the same read-strand orientation (CDS_codon_pos{1,2,3}[_antisense]
  columns; the label store's sense-only `codon_position` categorical when those are missing). A
  positive at codon position 2 is compared only with other codon-position-2 CDS bases.
- sequence-matched (splice_donor / splice_acceptor and twins): stratum = place in the canonical
  dinucleotide as read (GT for donors, AG for acceptors; AC / CT for the antisense twins, the reverse
  complement); negatives are the same dinucleotide elsewhere, so GT-ness alone is worth 0.5.
Positives outside every stratum (no codon position; a non-canonical splice site) are left out; a splice
concept with fewer than half of its positives on the canonical dinucleotide gets no control and is scored
against all tokens (the chloroplast's group II introns).
Negatives are sampled (seeded, at most `max_negatives` per side and stratum; concepts with the same
strata share the sample), so scoring every feature on them is one small extra pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from dnalens.probe.backend import auroc_matrix
from dnalens.probe.baselines import PSEUDOCOUNT, auroc_from_counts, fit_table, stratified_auroc
from dnalens.probe.token_concepts import TokenConcepts

log = logging.getLogger(__name__)
FRAME_CONCEPTS = ("start_codon", "stop_codon")
SPLICE_DINUCLEOTIDES = {"splice_donor": "GT", "splice_acceptor": "AG"}
# A sequence-matched control needs most positives on the canonical dinucleotide: group II introns
# (plastids, mitochondria) follow no GT-AG rule, and a control that excludes the positives scores 0.5.
MIN_CANONICAL_SHARE = 0.5
ANTISENSE = "_antisense"
_BASE = {"A": 0, "C": 1, "G": 2, "T": 3}
_REVCOMP = str.maketrans("ACGT", "TGCA")


def label_column(labels, j: int) -> np.ndarray:
    """Column j of an [N, L] bool array or PackedLabels."""
    if hasattr(labels, "column"):
        return np.asarray(labels.column(j), bool)
    return np.asarray(labels[:, j], bool)


def frame_strata(name: str, label_names: list[str], labels, categorical: dict) -> np.ndarray | None:
    """Codon position − 1 of CDS bases of the concept's orientation, −1 elsewhere; None when unknown."""
    suffix = ANTISENSE if name.endswith(ANTISENSE) else ""
    cols = [f"CDS_codon_pos{k}{suffix}" for k in (1, 2, 3)]
    if all(c in label_names for c in cols):
        stratum = np.full(labels.shape[0], -1, np.int8)
        for k, c in enumerate(cols):
            stratum[label_column(labels, label_names.index(c))] = k
        return stratum
    if not suffix and "codon_position" in categorical:
        return np.asarray(categorical["codon_position"][0], np.int8)
    return None


def dinucleotide_strata(name: str, kmer3: np.ndarray) -> np.ndarray:
    """0 at the first base of the concept's dinucleotide as read, 1 at the second, −1 elsewhere (kmer3:
    centred 3-mer codes in read orientation, 64 = other)."""
    base_name = name[: -len(ANTISENSE)] if name.endswith(ANTISENSE) else name
    di = SPLICE_DINUCLEOTIDES[base_name]
    if name.endswith(ANTISENSE):
        di = di.translate(_REVCOMP)[::-1]
    a, b = _BASE[di[0]], _BASE[di[1]]
    valid = kmer3 < 64
    left, mid, right = kmer3 // 16, (kmer3 // 4) % 4, kmer3 % 4
    stratum = np.full(kmer3.size, -1, np.int8)
    stratum[valid & (mid == a) & (right == b)] = 0
    stratum[valid & (left == a) & (mid == b)] = 1
    return stratum


@dataclass
class Control:
    """One controlled concept: per side, per stratum (positive rows, negative rows), global row ids."""

    column: int
    name: str
    kind: str
    rows: dict[str, list[tuple[np.ndarray, np.ndarray]]]

    def counts(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([p.size for p, _ in self.rows[side]]), np.array([n.size for _, n in self.rows[side]]))

    def summary(self) -> dict:
        """Kind and positives / sampled negatives per side (summed over strata), for summary.json."""
        out = {"kind": self.kind}
        for side in self.rows:
            n_pos, n_neg = self.counts(side)
            out[f"n_positive_{side}"], out[f"n_negative_{side}"] = int(n_pos.sum()), int(n_neg.sum())
        return out


def find_controls(
    label_names: list[str],
    labels,
    categorical: dict,
    kmer3: np.ndarray | None,
    sides: dict[str, np.ndarray],
    evaluated: np.ndarray,
    max_negatives: int,
    seed: int,
) -> list[Control]:
    """Controls of every evaluated point concept present (module doc)."""
    out = []
    samples: dict[tuple, np.ndarray] = {}
    for j, name in enumerate(label_names):
        base_name = name[: -len(ANTISENSE)] if name.endswith(ANTISENSE) else name
        if not evaluated[j]:
            continue
        if base_name in FRAME_CONCEPTS:
            kind, key = "frame-matched", ("frame", name.endswith(ANTISENSE))
            stratum = frame_strata(name, label_names, labels, categorical)
        elif base_name in SPLICE_DINUCLEOTIDES and kmer3 is not None:
            kind, stratum, key = "sequence-matched", dinucleotide_strata(name, kmer3), ("splice", name)
        else:
            continue
        if stratum is None:
            log.warning("%s: no codon positions in the labels, scored against all tokens", name)
            continue
        y = label_column(labels, j)
        if kind == "sequence-matched":
            share = float((y & (stratum >= 0)).sum()) / max(int(y.sum()), 1)
            if share < MIN_CANONICAL_SHARE:  # e.g. organelle group II introns: no GT-AG rule to match
                log.warning(
                    "%s: only %.0f %% of its positives sit on the canonical dinucleotide; scored against all tokens",
                    name,
                    100 * share,
                )
                continue
        rows = {}
        for side, side_rows in sides.items():
            per = []
            for k in range(int(stratum.max(initial=-1)) + 1):
                eligible = side_rows[stratum[side_rows] == k]
                sample = samples.get((key, side, k))
                if sample is None:
                    rng = np.random.default_rng([seed, k, list(sides).index(side)])
                    sample = (
                        eligible
                        if eligible.size <= max_negatives
                        else np.sort(rng.choice(eligible, max_negatives, replace=False))
                    )
                    samples[(key, side, k)] = sample
                per.append((eligible[y[eligible]], sample[~y[sample]]))
            rows[side] = per
        out.append(Control(j, name, kind, rows))
    return out


class ControlScorer:
    """Feature AUROC on the controls, one feature block at a time: the union of all control rows is cut
    out of the block once, then each (concept, side, stratum) is one AUROC over its rows."""

    def __init__(self, controls: list[Control]) -> None:
        self.controls = controls
        parts = [r for c in controls for per in c.rows.values() for p, n in per for r in (p, n)]
        self.union = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        self.tasks = {}
        for ci, c in enumerate(controls):
            for side, per in c.rows.items():
                for k, (p, n) in enumerate(per):
                    rows = np.concatenate([p, n])
                    order = np.argsort(rows)
                    idx = np.searchsorted(self.union, rows[order])
                    y = np.concatenate([np.ones(p.size, bool), np.zeros(n.size, bool)])[order]
                    self.tasks[(ci, side, k)] = (idx, TokenConcepts.from_labels(y[:, None]))

    def score(self, block, max_chunk_entries: int, device: str | None = None) -> dict[tuple[int, str], np.ndarray]:
        """{(control index, side): AUROC [n_cols]} for one CSC feature block over all tokens (device: the
        AUROC backend, `backend.auroc_backend`)."""
        out = {}
        if not self.controls:
            return out
        sub = block[self.union]
        for ci, c in enumerate(self.controls):
            for side in c.rows:
                n_pos, n_neg = c.counts(side)
                aucs = (
                    np.stack(
                        [
                            auroc_matrix(
                                sub,
                                self.tasks[(ci, side, k)][1],
                                rows=self.tasks[(ci, side, k)][0],
                                max_chunk_entries=max_chunk_entries,
                                device=device,
                            )[:, 0]
                            for k in range(n_pos.size)
                        ]
                    )
                    if n_pos.size
                    else np.full((1, block.shape[1]), 0.5)
                )
                out[(ci, side)] = stratified_auroc(aucs, n_pos, n_neg) if n_pos.size else aucs[0]
        return out


def control_baselines(
    control: Control,
    codes: dict[str, np.ndarray],
    n_codes: dict[str, int],
    fold: np.ndarray,
    pseudocount: float = PSEUDOCOUNT,
) -> tuple[np.ndarray, np.ndarray]:
    """(train cross-fitted, held-out) stratified AUROC [B] of every baseline on the control rows; the
    table P(concept | code) is fitted on the train control rows (all strata together)."""
    a_train, a_test = np.full(len(codes), 0.5), np.full(len(codes), 0.5)
    n_pos_tr, n_neg_tr = control.counts("train")
    n_pos_te, n_neg_te = control.counts("test")
    for b, name in enumerate(codes):
        code, k = codes[name], n_codes[name]

        def counts(rows_pos, rows_neg, mask_pos=None, mask_neg=None):
            cp = code[rows_pos] if mask_pos is None else code[rows_pos][mask_pos]
            cn = code[rows_neg] if mask_neg is None else code[rows_neg][mask_neg]
            pos = np.bincount(cp, minlength=k).astype(np.float64)
            return pos, pos + np.bincount(cn, minlength=k)

        train = control.rows["train"]
        whole = [counts(p, n) for p, n in train]
        table = fit_table(sum(c[0] for c in whole), sum(c[1] for c in whole), pseudocount)
        test_auc = [auroc_from_counts(table, *counts(p, n))[0] for p, n in control.rows["test"]]
        a_test[b] = stratified_auroc(np.array(test_auc)[:, None], n_pos_te, n_neg_te)[0] if test_auc else 0.5
        halves = [[counts(p, n, fold[p] == h, fold[n] == h) for p, n in train] for h in (False, True)]
        tables = [fit_table(sum(c[0] for c in half), sum(c[1] for c in half), pseudocount) for half in halves]
        train_auc = []
        for s in range(len(train)):
            (p0, t0), (p1, t1) = halves[0][s], halves[1][s]
            scores = np.concatenate([tables[1], tables[0]])
            train_auc.append(auroc_from_counts(scores, np.concatenate([p0, p1]), np.concatenate([t0, t1]))[0])
        a_train[b] = stratified_auroc(np.array(train_auc)[:, None], n_pos_tr, n_neg_tr)[0] if train_auc else 0.5
    return a_train, a_test
