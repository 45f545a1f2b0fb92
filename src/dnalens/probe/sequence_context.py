"""What a sequence-only baseline sees at each token: centred k-mers, local GC, distance to the window edge.

Every array is one small integer code per buffer row (token), vectorised over the whole buffer:
- `kmer_codes`: the k-mer centred on the token (k odd) as READ: a − strand token sees the reverse
  complement, so its k-mer is complemented and reversed. Code = Σ base_i·4^(k−1−i) in read order
  (A0 C1 G2 T3); a k-mer with an N or running past a contig end gets the extra code 4^k ("other").
- `gc_codes`: G+C share of the non-N bases in a centred window (clipped at contig ends; the same on
  both strands), in `n_bins` equal bins, plus one "other" code when the window has no A/C/G/T.
- `edge_codes`: min(read position, window length − 1 − read position) in `EDGE_BIN` nt bins (the
  context a model had on its shorter side), the last bin open-ended.
`ReadSequence` is the one rule underneath: the base a token reads at read offset j (+: genome position + j;
−: position − j, complemented), N or past a contig end → 4; the matched-context baseline and the motif controls
read k-mers and whole contexts through it. "context" names the matched-context baseline (`context_baseline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.concepts.genome_data import N_CODE

EDGE_BIN = 16
EDGE_BINS = 64  # 0 .. 1023 nt in 16 nt bins, then one bin for everything farther
BASELINES = ("kmer1", "kmer3", "kmer5", "gc", "edge", "context")


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


@dataclass(frozen=True)
class ReadSequence:
    """The genome as each token reads it (module doc): vectorised over rows, offsets in read order."""

    sequence: dict[str, np.ndarray]
    contig_names: list[str]
    token_contig: np.ndarray
    token_position: np.ndarray
    token_minus: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.token_position.size)

    def bases(self, rows: np.ndarray | None, offsets: np.ndarray) -> np.ndarray:
        """uint8 [len(rows), len(offsets)]: base (A0 C1 G2 T3) at each read offset, 4 = N or off the contig."""
        rows = np.arange(self.n_tokens) if rows is None else np.asarray(rows, np.int64)
        offsets = np.asarray(offsets, np.int64)
        out = np.full((rows.size, offsets.size), N_CODE, np.uint8)
        contig = np.asarray(self.token_contig)[rows]
        for c, name in enumerate(self.contig_names):
            seq = self.sequence.get(name)
            at_rows = np.flatnonzero(contig == c)
            if seq is None or not at_rows.size:
                continue
            r = rows[at_rows]
            minus = np.asarray(self.token_minus[r], bool)
            at = np.asarray(self.token_position[r], np.int64)[:, None] + np.where(minus, -1, 1)[:, None] * offsets
            inside = (at >= 0) & (at < seq.size)
            base = np.full(at.shape, N_CODE, np.uint8)
            base[inside] = seq[at[inside]]
            flip = minus[:, None] & (base < N_CODE)
            out[at_rows] = np.where(flip, 3 - base, base)
        return out

    def kmer(self, k: int, start: int, rows: np.ndarray | None = None) -> np.ndarray:
        """int32 [n]: code (Σ base_i·4^(k−1−i)) of the k-mer read at offsets start .. start + k − 1; 4^k = other.
        A gather from per-contig tracks (the k-mer read from each genome position, per strand), kept per k."""
        rows = np.arange(self.n_tokens) if rows is None else np.asarray(rows, np.int64)
        out = np.full(rows.size, 4**k, np.int32)
        contig = np.asarray(self.token_contig)[rows]
        for c, name in enumerate(self.contig_names):
            at_rows = np.flatnonzero(contig == c)
            if name not in self.sequence or not at_rows.size:
                continue
            plus, minus_track = self._tracks(name, k)
            r = rows[at_rows]
            minus = np.asarray(self.token_minus[r], bool)
            at = np.asarray(self.token_position[r], np.int64) + np.where(minus, -start, start)
            inside = (at >= 0) & (at < plus.size)
            got = np.full(r.size, 4**k, np.int32)
            got[inside] = np.where(minus[inside], minus_track[at[inside]], plus[at[inside]])
            out[at_rows] = got
        return out

    def _tracks(self, name: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """int32 [contig length] per strand: the k-mer read from each position (+: rightwards; −: leftwards,
        complemented); 4^k where it has an N or runs off the contig."""
        cache = self.__dict__.setdefault("_track_cache", {})
        if (name, k) not in cache:
            seq = np.asarray(self.sequence[name])
            n = seq.size
            padded = np.r_[np.full(k, N_CODE, np.uint8), seq, np.full(k, N_CODE, np.uint8)]
            plus = kmer_code_of(np.stack([padded[k + i : k + i + n] for i in range(k)], axis=1))
            comp = np.where(padded < N_CODE, 3 - padded, N_CODE).astype(np.uint8)
            minus = kmer_code_of(np.stack([comp[k - i : k - i + n] for i in range(k)], axis=1))
            cache[(name, k)] = (plus, minus)
        return cache[(name, k)]


def kmer_code_of(bases: np.ndarray) -> np.ndarray:
    """Code of each row's k-mer (uint8 [n, k] bases in read order); 4^k where a base is N / off the contig."""
    k = bases.shape[1]
    code = np.zeros(bases.shape[0], np.int64)
    for i in range(k):
        code = code * 4 + np.minimum(bases[:, i], 3)
    return np.where((bases >= N_CODE).any(axis=1), 4**k, code).astype(np.int32)


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
    reader = ReadSequence(sequence, contig_names, token_contig, token_position, token_minus)
    return reader.kmer(k, -(k // 2))


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
