"""What a biologist reads off a generated sequence: pure functions of the sequence (and of arrays the model gave).

Why these: a steering run that raises a latent can also just wreck composition (an Evo 2 helix-steering run
dropped GC from 0.44 to 0.13), so every row carries composition (GC, GC by codon phase, homopolymers, 4-mer
divergence to the genome) beside gene-likeness (period-3 power, pyrodigal genes) and plausibility under the
plain model. Every readout ignores non-ACGT letters.
"""

from __future__ import annotations

import math

import numpy as np

BASES = "ACGT"
HOMOPOLYMER_RUN = 5  # a base belongs to a homopolymer when its run of one letter is at least this long
_CODE = np.full(256, 4, np.int8)
for _i, _b in enumerate(BASES):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i


def base_codes(seq: str) -> np.ndarray:
    """A0 C1 G2 T3, anything else 4 (int8)."""
    return _CODE[np.frombuffer(seq.encode("ascii", "replace"), np.uint8)]


def gc_fraction(seq: str) -> float:
    """Share of G + C among the A/C/G/T bases (NaN when there are none)."""
    codes = base_codes(seq)
    acgt = codes < 4
    return float(np.isin(codes[acgt], (1, 2)).mean()) if acgt.any() else math.nan


def gc_by_phase(seq: str) -> tuple[float, float, float]:
    """GC of the bases at positions i ≡ 0, 1, 2 (mod 3) of the sequence, in that order."""
    return tuple(gc_fraction(seq[p::3]) for p in range(3))  # type: ignore[return-value]


def frame_gc(seq: str) -> dict[str, float]:
    """Composition by frame, GC3-like: the three phases' GC sorted high → low, and `gc_frame_skew` = high − low.

    Why sorted, not a called frame: a generated sequence has no annotation, and a coding-like sequence shows up
    as one phase far from the others (in bacteria the third codon position) whatever its frame; a frameless
    sequence has a skew near 0 (binomial noise, ~0.05 at 1 kb)."""
    hi, mid, lo = sorted(gc_by_phase(seq), reverse=True)
    return {"gc_frame_high": hi, "gc_frame_mid": mid, "gc_frame_low": lo, "gc_frame_skew": hi - lo}


def period3_power(seq: str) -> float:
    """Power at period 3 of the four base-indicator signals, over their mean power.

    The sequence is cut to a multiple of 3 (N) so 1/3 is a Fourier frequency (k = N/3); each indicator
    x_b(i) = [base i is b] is mean-centred, |FFT|² is summed over the four bases, and the value at k = N/3 is
    divided by the mean over k = 1 … ⌊N/2⌋. A sequence with no 3-periodicity gives ~1; a pure codon repeat
    (ATGATG…) puts all power at 1/3 and gives ⌊N/2⌋."""
    codes = base_codes(seq)
    n = (codes.size // 3) * 3
    if n < 6:
        return math.nan
    codes = codes[:n]
    power = np.zeros(n // 2 + 1)
    for b in range(4):
        x = (codes == b).astype(float)
        power += np.abs(np.fft.rfft(x - x.mean())) ** 2
    mean = power[1 : n // 2 + 1].mean()
    return float(power[n // 3] / mean) if mean > 0 else math.nan


def homopolymer_fraction(seq: str, run: int = HOMOPOLYMER_RUN) -> float:
    """Share of the bases that lie in a run of one letter (A, C, G or T) at least `run` long."""
    codes = base_codes(seq)
    if codes.size == 0:
        return math.nan
    change = np.flatnonzero(np.diff(codes) != 0) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [codes.size]]))
    long = (lengths >= run) & (codes[starts] < 4)
    return float(lengths[long].sum() / codes.size)


def kmer_counts(seq: str, k: int = 4) -> np.ndarray:
    """Counts [4^k] of the overlapping k-mers made only of A/C/G/T (index = base-4 number, first base highest)."""
    codes = base_codes(seq)
    n = codes.size - k + 1
    if n <= 0:
        return np.zeros(4**k, np.int64)
    index = np.zeros(n, np.int64)
    ok = np.ones(n, bool)
    for o in range(k):
        part = codes[o : o + n]
        ok &= part < 4
        index = index * 4 + part
    return np.bincount(index[ok], minlength=4**k)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence in bits (0 = same distribution, 1 = disjoint) of two count or probability vectors."""
    p = np.asarray(p, float)
    q = np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        return math.nan
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float((a[keep] * np.log2(a[keep] / m[keep])).sum())

    return (kl(p) + kl(q)) / 2


def kmer4_jsd(seq: str, genome_counts: np.ndarray) -> float:
    """4-mer Jensen–Shannon divergence (bits) of the sequence to the genome's 4-mer counts (both strands)."""
    return jensen_shannon(kmer_counts(seq, 4), genome_counts)


def gene_calls(seq: str, finder=None) -> dict[str, float]:
    """pyrodigal in meta mode (no training; generated sequences are short): genes per kb and their mean length (nt).

    `finder`: a reused `pyrodigal.GeneFinder(meta=True)` (building one loads the metagenomic models)."""
    import pyrodigal

    finder = finder or pyrodigal.GeneFinder(meta=True)
    genes = finder.find_genes(seq.upper().encode("ascii")) if len(seq) else []
    lengths = [g.end - g.begin + 1 for g in genes]
    return {
        "genes_per_kb": len(lengths) / (len(seq) / 1000) if len(seq) else math.nan,
        "mean_orf_length": float(np.mean(lengths)) if lengths else math.nan,
    }


def mean_latent_activation(codes: np.ndarray) -> float:
    """Mean of one latent's activations over the rows it was read at (zeros included: not only where it fires)."""
    codes = np.asarray(codes, float)
    return float(codes.mean()) if codes.size else math.nan


def bits_per_base(observed_log_probs: np.ndarray) -> float:
    """Mean log2-likelihood per scored base (negative; NaN rows, e.g. non-ACGT bases, left out)."""
    values = np.asarray(observed_log_probs, float)
    values = values[np.isfinite(values)]
    return float(values.mean() / math.log(2)) if values.size else math.nan


def sequence_readouts(seq: str, genome_counts: np.ndarray, finder=None) -> dict[str, float]:
    """Every readout that needs only the sequence (the model's two are added by the stage)."""
    return {
        "gc": gc_fraction(seq),
        **frame_gc(seq),
        "period3_power": period3_power(seq),
        **gene_calls(seq, finder),
        "kmer4_jsd": kmer4_jsd(seq, genome_counts),
        "homopolymer_fraction": homopolymer_fraction(seq),
    }
