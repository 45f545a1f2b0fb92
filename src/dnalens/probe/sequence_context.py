"""What a sequence-only baseline sees at each token: centred k-mers, local GC, distance to the window edge.

Every array is one small integer code per buffer row (token), vectorised over the whole buffer:
- `kmer_codes`: the k-mer centred on the token (k odd) as READ: a − strand token sees the reverse
  complement, so its k-mer is complemented and reversed. Code = Σ base_i·4^(k−1−i) in read order
  (A0 C1 G2 T3); a k-mer with an N or running past a contig end gets the extra code 4^k ("other").
- `gc_codes`: G+C share of the non-N bases in a centred window (clipped at contig ends; the same on
  both strands), in `n_bins` equal bins, plus one "other" code when the window has no A/C/G/T.
- `edge_codes`: min(read position, window length − 1 − read position) in `EDGE_BIN` nt bins (the
  context a model had on its shorter side), the last bin open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.concepts.genome_data import N_CODE

EDGE_BIN = 16
EDGE_BINS = 64  # 0 .. 1023 nt in 16 nt bins, then one bin for everything farther
BASELINES = ("kmer1", "kmer3", "kmer5", "gc", "edge")


@dataclass(frozen=True)
class ContextCodes:
    """code [N] and the number of codes (including "other") per baseline name."""

    codes: dict[str, np.ndarray]
    n_codes: dict[str, int]


def _per_contig(token_contig: np.ndarray, contig_names: list[str]):
    for c, name in enumerate(contig_names):
        rows = np.flatnonzero(token_contig == c)
        if rows.size:
            yield name, rows


def kmer_codes(
    sequence: dict[str, np.ndarray],
    contig_names: list[str],
    token_contig: np.ndarray,
    token_position: np.ndarray,
    token_minus: np.ndarray,
    k: int,
) -> np.ndarray:
    """Centred k-mer code in read orientation (module doc); k odd."""
    if k < 1 or k % 2 == 0:
        raise ValueError(f"k must be odd and >= 1, got {k}")
    h = k // 2
    other = 4**k
    out = np.full(token_position.size, other, np.int32)
    for name, rows in _per_contig(token_contig, contig_names):
        seq = sequence.get(name)
        if seq is None:
            continue
        pos = np.asarray(token_position[rows], np.int64)
        minus = np.asarray(token_minus[rows], bool)
        code = np.zeros(rows.size, np.int64)
        bad = np.zeros(rows.size, bool)
        for i in range(k):  # i-th base in read order
            offset = np.where(minus, h - i, i - h)
            at = pos + offset
            inside = (at >= 0) & (at < seq.size)
            base = np.full(rows.size, N_CODE, np.int64)
            base[inside] = seq[at[inside]]
            bad |= base >= N_CODE
            base = np.where(minus, 3 - base, base)  # complement on − (A<->T, C<->G); N stays bad
            code = code * 4 + np.where(bad, 0, base)
        out[rows] = np.where(bad, other, code)
    return out


def gc_codes(
    sequence: dict[str, np.ndarray],
    contig_names: list[str],
    token_contig: np.ndarray,
    token_position: np.ndarray,
    window: int,
    n_bins: int,
) -> np.ndarray:
    """Bin of the G+C share in the centred window of `window` nt (module doc); n_bins = "other"."""
    half = window // 2
    out = np.full(token_position.size, n_bins, np.int32)
    for name, rows in _per_contig(token_contig, contig_names):
        seq = sequence.get(name)
        if seq is None:
            continue
        gc = np.concatenate(([0], np.cumsum((seq == 1) | (seq == 2), dtype=np.int64)))
        acgt = np.concatenate(([0], np.cumsum(seq < N_CODE, dtype=np.int64)))
        pos = np.asarray(token_position[rows], np.int64)
        lo = np.clip(pos - half, 0, seq.size)
        hi = np.clip(pos - half + window, 0, seq.size)
        valid = acgt[hi] - acgt[lo]
        frac = (gc[hi] - gc[lo]) / np.maximum(valid, 1)
        out[rows] = np.where(valid > 0, np.minimum((frac * n_bins).astype(np.int32), n_bins - 1), n_bins)
    return out


def edge_codes(edge_distance: np.ndarray) -> np.ndarray:
    """Bin of the distance to the nearer window end (module doc)."""
    return np.minimum(np.asarray(edge_distance, np.int64) // EDGE_BIN, EDGE_BINS).astype(np.int32)


def context_codes(
    sequence: dict[str, np.ndarray] | None,
    contig_names: list[str],
    token_contig: np.ndarray,
    token_position: np.ndarray,
    token_minus: np.ndarray,
    edge_distance: np.ndarray | None,
    gc_window: int = 100,
    gc_bins: int = 20,
) -> ContextCodes:
    """Every baseline's codes that the inputs allow (k-mers and GC need the sequence, edge the windows)."""
    codes, n_codes = {}, {}
    if sequence is not None:
        for k in (1, 3, 5):
            codes[f"kmer{k}"], n_codes[f"kmer{k}"] = (
                kmer_codes(sequence, contig_names, token_contig, token_position, token_minus, k),
                4**k + 1,
            )
        codes["gc"] = gc_codes(sequence, contig_names, token_contig, token_position, gc_window, gc_bins)
        n_codes["gc"] = gc_bins + 1
    if edge_distance is not None:
        codes["edge"], n_codes["edge"] = edge_codes(edge_distance), EDGE_BINS + 1
    return ContextCodes(codes, n_codes)
