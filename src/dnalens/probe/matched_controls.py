"""Negatives matched in sequence: does a latent tell a start codon from an internal ATG, which the sequence cannot?

Against other codons, the centred 5-mer scores 0.97 for start codons and no latent can pass; the biological
question is whether a latent tells a motif at its place from the same motif elsewhere (issue #30). Each
motif-like concept gets a negative set of the same k-mer, at the same position within it, somewhere the concept
does not hold:

| concept (and `_antisense` twin) | negatives (`control` name) |
|---|---|
| start_codon | ATG/GTG/TTG read in frame inside a CDS of the same orientation (`internal_in_frame_ATG_GTG_TTG`) |
| stop_codon | TAA/TAG/TGA inside a CDS of the same orientation, out of its frame (`out_of_frame_stop`) |
| Shine_Dalgarno_sequence | the same k-mer (each instance's own string) anywhere else (`same_kmer_elsewhere`) |
| sigma70_minus_10_box / _35_box | the same hexamer outside promoters of the same orientation (`same_hexamer_outside_promoters`) |

A concept's instances are runs of consecutive positives in read order; a positive's stratum is (run length,
the run's k-mer as read, position in the run), so a negative at position m of the same k-mer is compared only
with positives at position m of it (`stratified_u`: only same-stratum pairs count). Start and stop codons use
the canonical triplets of genetic code 11 (reverse-complemented for the twins, which read the other strand);
the others take the k-mers their positives carry. Splice sites keep `controls.dinucleotide_strata` (GT/AG
elsewhere), which is this rule for 2-nt runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from dnalens.probe.sequence_context import ReadSequence

ANTISENSE = "_antisense"
CANONICAL = {"start_codon": ("ATG", "GTG", "TTG"), "stop_codon": ("TAA", "TAG", "TGA")}
NEGATIVE_SETS = {
    "start_codon": "internal_in_frame_ATG_GTG_TTG",
    "stop_codon": "out_of_frame_stop",
    "Shine_Dalgarno_sequence": "same_kmer_elsewhere",
    "sigma70_minus_10_box": "same_hexamer_outside_promoters",
    "sigma70_minus_35_box": "same_hexamer_outside_promoters",
}
MAX_RUN = 12  # longer runs are regions, not motifs: no stratum
_BASE = {"A": 0, "C": 1, "G": 2, "T": 3}
_REVCOMP = str.maketrans("ACGT", "TGCA")


def base_concept(name: str) -> str:
    return name[: -len(ANTISENSE)] if name.endswith(ANTISENSE) else name


def encode_kmer(kmer: str) -> int:
    code = 0
    for b in kmer:
        code = code * 4 + _BASE[b]
    return code


def canonical_codes(name: str) -> set[int] | None:
    """The concept's canonical triplets as read on its own read strand (twins: reverse complement)."""
    kmers = CANONICAL.get(base_concept(name))
    if kmers is None:
        return None
    if name.endswith(ANTISENSE):
        kmers = tuple(k.translate(_REVCOMP)[::-1] for k in kmers)
    return {encode_kmer(k) for k in kmers}


def run_positions(y: np.ndarray, reader: ReadSequence) -> tuple[np.ndarray, np.ndarray]:
    """(position in its run, run length) int32 [N] for positives (runs of consecutive positives in read order
    on one contig and strand); −1 elsewhere."""
    pos_in, length = np.full(y.size, -1, np.int32), np.full(y.size, -1, np.int32)
    rows = np.flatnonzero(y)
    if not rows.size:
        return pos_in, length
    minus = np.asarray(reader.token_minus[rows], bool)
    read_coord = np.where(minus, -1, 1) * np.asarray(reader.token_position[rows], np.int64)
    key = np.asarray(reader.token_contig[rows], np.int64) * 2 + minus
    order = np.lexsort((read_coord, key))
    r, k, c = rows[order], key[order], read_coord[order]
    new = np.r_[True, (k[1:] != k[:-1]) | (c[1:] != c[:-1] + 1)]
    run = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    sizes = np.diff(np.r_[first, r.size])
    pos_in[r] = np.arange(r.size) - first[run]
    length[r] = sizes[run]
    return pos_in, length


@dataclass(frozen=True)
class MatchedStrata:
    """Per token its stratum (−1 none) and whether it may serve as a matched negative; share of positives kept."""

    stratum: np.ndarray  # int32 [N]
    negative: np.ndarray  # bool [N]: eligible negative (not a positive)
    share: float  # positives with a stratum / positives


def motif_strata(
    y: np.ndarray,
    reader: ReadSequence,
    eligible_at,
    motifs: set[int] | None = None,
) -> MatchedStrata:
    """Strata (run length, k-mer, position in it) of a motif concept (module doc). `eligible_at(length, m)` →
    bool [N]: where a negative whose k-mer starts m bases before it may sit; `motifs`: the allowed codes of
    3-nt runs (None: the k-mers the positives carry)."""
    y = np.asarray(y, bool)
    pos_in, length = run_positions(y, reader)
    stratum = np.full(y.size, -1, np.int32)
    negative = np.zeros(y.size, bool)
    n_strata = 0
    for ell in sorted(set(length[y].tolist()) - {-1}):
        if ell > MAX_RUN or (motifs is not None and ell != 3):  # canonical triplets: 3-nt runs only
            continue
        at_len = y & (length == ell)
        run_codes = [reader.kmer(ell, -m) for m in range(ell)]  # the k-mer starting m bases before each token
        own = np.zeros(y.size, np.int64) - 1
        for m in range(ell):
            own[at_len & (pos_in == m)] = run_codes[m][at_len & (pos_in == m)]
        allowed = set(own[at_len].tolist()) - {4**ell} if motifs is None else motifs
        if not allowed:
            continue
        kmers = np.array(sorted(allowed), np.int64)
        for m in range(ell):
            ids = n_strata + np.searchsorted(kmers, run_codes[m]) * ell + m
            hit = np.isin(run_codes[m], kmers)
            mine = at_len & (pos_in == m) & hit
            stratum[mine] = ids[mine]
            free = hit & ~y & (stratum < 0) & eligible_at(ell, m)
            stratum[free] = ids[free]
            negative |= free
        n_strata += kmers.size * ell
    share = float((y & (stratum >= 0)).sum()) / max(int(y.sum()), 1)
    return MatchedStrata(stratum, negative, share)


def frame_eligibility(name: str, codon_index: np.ndarray):
    """eligible_at for start (in frame) and stop (out of frame) codons: codon_index = codon position − 1 of
    CDS bases of the concept's orientation (−1 elsewhere); position m of a triplet read on the twin's strand
    is codon position 3 − m of the other strand's gene."""
    antisense = name.endswith(ANTISENSE)
    in_frame = base_concept(name) == "start_codon"

    def eligible_at(ell: int, m: int) -> np.ndarray:
        expected = 2 - m if antisense else m
        if in_frame:
            return codon_index == expected
        return (codon_index >= 0) & (codon_index != expected)

    return eligible_at


def stratified_u(x, y: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, float]:
    """(U [c], pairs): Mann–Whitney U per column summed over strata, counting only same-stratum (positive,
    negative) pairs (ties ½), and the number of such pairs; AUROC = U / pairs. x: [n, c] sparse or dense
    (implicit zeros are values), y bool [n], group int [n] ≥ 0. One sort of the stored values, so many
    strata cost no more than one."""
    x = sp.csc_matrix(x, dtype=np.float64)
    x.eliminate_zeros()
    y, group = np.asarray(y, bool), np.asarray(group, np.int64)
    n_cols, n_groups = x.shape[1], int(group.max(initial=-1)) + 1
    n_pos = np.bincount(group[y], minlength=n_groups).astype(np.float64)
    n_neg = np.bincount(group[~y], minlength=n_groups).astype(np.float64)
    pairs = float(n_pos @ n_neg)
    coo = x.tocoo()
    col, val = coo.col.astype(np.int64), coo.data
    grp, pos = group[coo.row], y[coo.row]
    seg = col * n_groups + grp
    size = n_cols * n_groups
    pos_nz = np.bincount(seg, weights=pos, minlength=size).reshape(n_cols, n_groups)
    neg_nz = np.bincount(seg, weights=~pos, minlength=size).reshape(n_cols, n_groups)
    neg_below0 = np.bincount(seg, weights=~pos & (val < 0), minlength=size).reshape(n_cols, n_groups)
    pos_zero, neg_zero = n_pos[None, :] - pos_nz, n_neg[None, :] - neg_nz
    u = (pos_zero * (neg_below0 + 0.5 * neg_zero)).sum(axis=1)  # positives at 0
    if val.size:
        order = np.lexsort((val, seg))
        seg, val, pos, col = seg[order], val[order], pos[order], col[order]
        new_tie = np.r_[True, (seg[1:] != seg[:-1]) | (val[1:] != val[:-1])]
        tie = np.cumsum(new_tie) - 1
        neg_tie = np.bincount(tie, weights=~pos)
        before = np.cumsum(neg_tie) - neg_tie  # negatives in earlier ties, all segments
        tie_seg = seg[new_tie]
        seg_first = np.flatnonzero(np.r_[True, tie_seg[1:] != tie_seg[:-1]])
        seg_of_tie = np.cumsum(np.r_[True, tie_seg[1:] != tie_seg[:-1]]) - 1
        below = before - before[seg_first][seg_of_tie]  # negatives below, same segment
        zeros_below = np.where(val > 0, neg_zero.ravel()[seg], 0.0)
        wins = np.where(pos, below[tie] + 0.5 * neg_tie[tie] + zeros_below, 0.0)
        u += np.bincount(col, weights=wins, minlength=n_cols)
    return u, pairs


def stratified_auroc_rows(x, y: np.ndarray, group: np.ndarray) -> np.ndarray:
    """[c] same-stratum AUROC (`stratified_u`); 0.5 without any pair."""
    u, pairs = stratified_u(x, y, group)
    return u / pairs if pairs else np.full(u.shape, 0.5)
