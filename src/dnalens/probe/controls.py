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
Motif-like concepts first get negatives matched in sequence (`matched_controls`: start codons against internal
in-frame ATG/GTG/TTG, stop codons against out-of-frame stop triplets, Shine–Dalgarno against the same k-mer
elsewhere, σ70 boxes against the same hexamer outside promoters); where fewer than half of a concept's positives
sit on such a motif the frame-matched control above stands in (start/stop), and where the matched set is below
`min_negatives` on a side (or a side has no positive) the control is "untestable", stated with its n in
summary.json and concepts.parquet, and the concept keeps its fallback.
Negatives are sampled (seeded): at most `max_negatives` per side and stratum for the frame and dinucleotide
controls (concepts with the same strata share the sample), and `max_negatives` per side in all for the motif
controls, spread over strata in proportion to their positives; scoring every feature on them is one small
extra pass (`matched_controls.stratified_u`: one sort for all strata).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dnalens.probe.baselines import PSEUDOCOUNT, fit_table
from dnalens.probe.matched_controls import (
    NEGATIVE_SETS,
    base_concept,
    canonical_codes,
    frame_eligibility,
    motif_strata,
    stratified_auroc_rows,
)
from dnalens.probe.sequence_context import ReadSequence

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
    negatives: str = ""  # the matched negative set's name (`control` in concepts.parquet); "" = the kind
    status: str = "tested"  # or "untestable: <n> ..." (then not applied)
    n_matched: dict[str, int] | None = None  # eligible matched negatives per side before sampling

    @property
    def label(self) -> str:
        """The control's name in the tables: concept|vs_<negative set>."""
        return f"{self.name}|vs_{self.negatives or self.kind}"

    def strata_rows(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, is positive, stratum) of one side, strata concatenated."""
        per = self.rows[side]
        rows = np.concatenate([r for p, n in per for r in (p, n)] or [np.zeros(0, np.int64)]).astype(np.int64)
        y = np.concatenate(
            [np.r_[np.ones(p.size, bool), np.zeros(n.size, bool)] for p, n in per] or [np.zeros(0, bool)]
        )
        group = np.concatenate([np.full(p.size + n.size, k, np.int64) for k, (p, n) in enumerate(per)] or [[]])
        return rows, y, np.asarray(group, np.int64)

    def counts(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([p.size for p, _ in self.rows[side]]), np.array([n.size for _, n in self.rows[side]]))

    def summary(self) -> dict:
        """Kind and positives / sampled negatives per side (summed over strata), for summary.json."""
        out = {"kind": self.kind}
        if self.negatives:
            out.update(negatives=self.negatives, control=self.label, status=self.status)
        for side in self.rows:
            n_pos, n_neg = self.counts(side)
            out[f"n_positive_{side}"], out[f"n_negative_{side}"] = int(n_pos.sum()), int(n_neg.sum())
            if self.n_matched is not None:
                out[f"n_matched_{side}"] = int(self.n_matched.get(side, 0))
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
    reader: ReadSequence | None = None,
    min_negatives: int = 1,
) -> list[Control]:
    """Controls applied to every evaluated point concept present (module doc)."""
    return plan_controls(
        label_names, labels, categorical, kmer3, sides, evaluated, max_negatives, seed, reader, min_negatives
    )[0]


def plan_controls(
    label_names: list[str],
    labels,
    categorical: dict,
    kmer3: np.ndarray | None,
    sides: dict[str, np.ndarray],
    evaluated: np.ndarray,
    max_negatives: int,
    seed: int,
    reader: ReadSequence | None = None,
    min_negatives: int = 1,
) -> tuple[list[Control], list[Control]]:
    """(controls applied, motif controls found untestable) of every evaluated point concept (module doc)."""
    out, untestable = [], []
    samples: dict[tuple, np.ndarray] = {}
    for j, name in enumerate(label_names):
        base_name = base_concept(name)
        if not evaluated[j]:
            continue
        if base_name in NEGATIVE_SETS and reader is not None:
            motif = motif_control(j, name, label_names, labels, categorical, sides, max_negatives, seed, reader)
            if motif is not None:
                if _testable(motif, min_negatives):
                    out.append(motif)
                    continue
                untestable.append(motif)
                log.warning("%s: %s", motif.label, motif.status)
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
        negatives = "same_dinucleotide_elsewhere" if kind == "sequence-matched" else ""
        out.append(Control(j, name, kind, rows, negatives=negatives))
    return out, untestable


def _testable(control: Control, min_negatives: int) -> bool:
    """Enough matched negatives and some positive on every side; else sets the stated outcome."""
    short = []
    for side in control.rows:
        n_pos = int(control.counts(side)[0].sum())
        n_neg = int((control.n_matched or {}).get(side, 0))
        if n_neg < min_negatives or n_pos == 0:
            short.append(f"{n_neg} matched negatives and {n_pos} positives on {side} blocks")
    if short:
        control.status = f"untestable: {'; '.join(short)} (minimum {min_negatives} negatives, 1 positive)"
    return not short


def motif_control(
    j: int, name: str, label_names, labels, categorical: dict, sides: dict, max_negatives: int, seed: int, reader
) -> Control | None:
    """The sequence-matched negative set of a motif concept (`matched_controls`), None where its positives do
    not sit on the motif (fewer than MIN_CANONICAL_SHARE) or codon positions are missing (start / stop)."""
    base_name = base_concept(name)
    y = label_column(labels, j)
    motifs = canonical_codes(name)
    if motifs is not None:
        codon_index = frame_strata(name, label_names, labels, categorical)
        if codon_index is None:
            return None
        eligible_at = frame_eligibility(name, np.asarray(codon_index))
    else:
        promoter = "promoter" + (ANTISENSE if name.endswith(ANTISENSE) else "")
        outside = (
            ~label_column(labels, label_names.index(promoter))
            if base_name.startswith("sigma70") and promoter in label_names
            else np.ones(y.size, bool)
        )
        eligible_at = lambda ell, m: outside  # noqa: E731
    strata = motif_strata(y, reader, eligible_at, motifs)
    if strata.share < MIN_CANONICAL_SHARE:
        log.warning("%s: only %.0f %% of its positives sit on a matched motif", name, 100 * strata.share)
        return None
    rows, matched = {}, {}
    for si, (side, side_rows) in enumerate(sides.items()):
        st = strata.stratum[side_rows]
        keep = side_rows[st >= 0]
        st = st[st >= 0]
        order = np.argsort(st, kind="stable")
        keep, st = keep[order], st[order]
        bounds = np.flatnonzero(np.r_[True, st[1:] != st[:-1], True]) if st.size else np.zeros(1, np.int64)
        groups = [keep[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        pos_groups = [g[y[g]] for g in groups]
        n_pos = sum(p.size for p in pos_groups)
        rng = np.random.default_rng([seed, j, si])
        per, n_matched = [], 0
        for g, p in zip(groups, pos_groups):
            if not p.size:
                continue
            eligible = g[strata.negative[g]]
            n_matched += eligible.size
            quota = int(np.ceil(max_negatives * p.size / n_pos))
            sample = eligible if eligible.size <= quota else np.sort(rng.choice(eligible, quota, replace=False))
            per.append((p, sample))
        rows[side], matched[side] = per, n_matched
    return Control(j, name, "sequence-matched", rows, negatives=NEGATIVE_SETS[base_name], n_matched=matched)


class ControlScorer:
    """Feature AUROC on the controls, one feature block at a time: the union of all control rows is cut
    out of the block once, then each (concept, side) is one same-stratum AUROC over its rows."""

    def __init__(self, controls: list[Control]) -> None:
        self.controls = controls
        parts = [r for c in controls for per in c.rows.values() for p, n in per for r in (p, n)]
        self.union = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        self.tasks = {}
        for ci, c in enumerate(controls):
            for side in c.rows:
                rows, y, group = c.strata_rows(side)
                self.tasks[(ci, side)] = (np.searchsorted(self.union, rows), y, group)

    def score(self, block, max_chunk_entries: int, device: str | None = None) -> dict[tuple[int, str], np.ndarray]:
        """{(control index, side): AUROC [n_cols]} for one CSC feature block over all tokens (on the host for
        any `device`: the control rows are few)."""
        out = {}
        if not self.controls:
            return out
        sub = sp.csr_matrix(block[self.union])
        for key, (idx, y, group) in self.tasks.items():
            out[key] = stratified_auroc_rows(sub[idx], y, group)
        return out


def control_baselines(
    control: Control,
    codes: dict[str, np.ndarray],
    n_codes: dict[str, int],
    fold: np.ndarray,
    pseudocount: float = PSEUDOCOUNT,
) -> tuple[np.ndarray, np.ndarray]:
    """(train cross-fitted, held-out) stratified AUROC [B] of every baseline on the control rows; the
    table P(concept | code) is fitted on the train control rows (all strata together); cross-fitted: each
    half of the train blocks (block parity) scored by the other half's table."""
    a_train, a_test = np.full(len(codes), 0.5), np.full(len(codes), 0.5)
    rows_tr, y_tr, g_tr = control.strata_rows("train")
    rows_te, y_te, g_te = control.strata_rows("test")
    half = np.asarray(fold)[rows_tr].astype(bool)
    for b, name in enumerate(codes):
        code, k = np.asarray(codes[name], np.int64), n_codes[name]

        def table_of(mask):
            c = code[rows_tr[mask]]
            pos = np.bincount(c[y_tr[mask]], minlength=k).astype(np.float64)
            return fit_table(pos, np.bincount(c, minlength=k).astype(np.float64), pseudocount)[:, 0]

        if rows_te.size:
            a_test[b] = stratified_auroc_rows(
                table_of(np.ones(rows_tr.size, bool))[code[rows_te]][:, None], y_te, g_te
            )[0]
        if rows_tr.size:
            crossed = np.where(half, table_of(~half)[code[rows_tr]], table_of(half)[code[rows_tr]])
            a_train[b] = stratified_auroc_rows(crossed[:, None], y_tr, g_tr)[0]
    return a_train, a_test
