"""Prokaryotic (and plastid) translation and transcription signals, searched only where biology puts them.

Shine–Dalgarno (SD) site: the ribosome binding site pairs with the 3' end of 16S rRNA, the anti-SD
3'-AUUCCUCCA-5' (Shine & Dalgarno 1974, PNAS 71:1342). Its DNA complement is 5'-TAAGGAGGT-3' (`ANTI_SD_TARGET`).
A site is the longest run of >= 4 bases that matches a substring of that target exactly (>= 4 contiguous
Watson–Crick pairs with the anti-SD; core GGAGG and its shorter variants GGAG, GAGG, AGGA), whose last base
lies 3–15 nt upstream of an annotated or predicted start codon (spacer 3–15 nt, the range Prodigal scores;
Hyatt et al. 2010). One site per start codon: the longest, ties to the one nearest the start codon. For
pyrodigal genes, Prodigal's own call (`rbs_motif`, `rbs_spacer` on the CDS) is used when it names a motif.

sigma70 promoter boxes: -35 TTGACA and -10 TATAAT as position weight matrices, 15–19 nt apart. The matrices
give each consensus base the frequency found in 112 E. coli promoters by Hawley & McClure (1983, Nucleic
Acids Res 11:2237; -35: T .82 T .84 G .78 A .65 C .54 A .45; -10: T .80 A .95 T .45 A .60 A .50 T .96)
and split the rest evenly over the other three bases (the compilation's summary gives the consensus base
only). A box pair is scored as log2(p / 0.25) summed over its 12 positions; the best pair within
`promoter_upstream` nt upstream of each operon (or transcript) start is kept when it scores
>= `SIGMA70_MIN_BITS` (10 bits: about 5 % of i.i.d. random 100-nt windows
with the genome's own base composition reach it, whatever the composition; log-odds are against that
composition). Plastid genes transcribed by the plastid-encoded polymerase (PEP, a eubacterial-type
enzyme with nuclear-encoded sigma factors) have sigma70-type -35/-10 promoters (Liere, Weihe & Börner 2011,
J Plant Physiol 168:1345), so `organelle` genomes get these labels too; mitochondrial promoters are
phage-type and do not (leave `organelle` out of concepts.prokaryotic_signals for a mitochondrion).
"""

from __future__ import annotations

import logging
import re

import numpy as np

from dnalens.concepts.genome_data import COMPLEMENT_CODE
from dnalens.concepts.model import IntervalBuilder

log = logging.getLogger(__name__)
ANTI_SD_TARGET = "TAAGGAGGT"  # DNA complement of the 16S 3' end 3'-AUUCCUCCA-5'
SD_MIN_LENGTH = 4
SD_SPACER = (3, 15)  # bases between the site's last base and the start codon's first base
MINUS35_CONSENSUS, MINUS10_CONSENSUS = "TTGACA", "TATAAT"
MINUS35_FREQ = (0.82, 0.84, 0.78, 0.65, 0.54, 0.45)
MINUS10_FREQ = (0.80, 0.95, 0.45, 0.60, 0.50, 0.96)
SIGMA70_SPACER = (15, 19)  # bases between the -35 box's last base and the -10 box's first base
SIGMA70_MIN_BITS = 10.0  # ~5 % of random 100-nt windows of the genome's own composition score this much
_CODE = {b: i for i, b in enumerate("ACGT")}


def consensus_log_odds(consensus: str, freqs: tuple[float, ...], background=(0.25,) * 4) -> np.ndarray:
    """(len, 5) log2(p / q) matrix: consensus base p = freq, others (1 − freq) / 3, q = background
    (A, C, G, T); column 4 (N) = −inf."""
    q = np.asarray(background, dtype=np.float64)
    m = np.empty((len(consensus), 5))
    for i, (base, f) in enumerate(zip(consensus, freqs)):
        p = np.full(4, (1.0 - f) / 3)
        p[_CODE[base]] = f
        m[i, :4] = np.log2(p / q)
        m[i, 4] = -np.inf
    return m


def sigma70_pwms(background=(0.25,) * 4) -> tuple[np.ndarray, np.ndarray]:
    """(-35, -10) log-odds matrices against `background` (the genome's own base composition)."""
    return (
        consensus_log_odds(MINUS35_CONSENSUS, MINUS35_FREQ, background),
        consensus_log_odds(MINUS10_CONSENSUS, MINUS10_FREQ, background),
    )


def base_composition(arrays) -> tuple[float, float, float, float]:
    """A, C, G, T frequencies over code arrays (N ignored), strand-symmetrised (A=T, C=G)."""
    counts = sum(np.bincount(a, minlength=5)[:4] for a in arrays).astype(np.float64)
    counts = counts + counts[::-1]
    return tuple((counts / counts.sum()).tolist()) if counts.sum() else (0.25,) * 4


def oriented(codes: np.ndarray, lo: int, hi: int, strand: str, circular: bool) -> np.ndarray | None:
    """Codes of genome [lo, hi) read 5'→3' on `strand`; None when it leaves a linear contig."""
    n = len(codes)
    if lo < 0 or hi > n:
        if not circular or hi - lo > n:
            return None
        seg = codes[np.arange(lo, hi) % n]
    else:
        seg = codes[lo:hi]
    return COMPLEMENT_CODE[seg[::-1]] if strand == "-" else seg


def upstream_span(at: int, strand: str, length: int) -> tuple[int, int]:
    """Genome interval of the `length` bases just 5' of position `at` on `strand`."""
    return (at - length, at) if strand == "+" else (at + 1, at + 1 + length)


def to_genome(lo: int, hi: int, offset_lo: int, offset_hi: int, strand: str) -> tuple[int, int]:
    """Map [offset_lo, offset_hi) of an oriented upstream segment of span [lo, hi) back to genome coordinates."""
    return (lo + offset_lo, lo + offset_hi) if strand == "+" else (hi - offset_hi, hi - offset_lo)


def best_sd_site(upstream: str) -> tuple[int, int] | None:
    """(start, end) in `upstream` (5'→3', ending right before the start codon) of the longest exact match
    of >= SD_MIN_LENGTH to a substring of ANTI_SD_TARGET with spacer in SD_SPACER; ties: nearest the start."""
    n = len(upstream)
    best: tuple[int, int, int] | None = None  # (length, -spacer, start)
    for spacer in range(SD_SPACER[0], SD_SPACER[1] + 1):
        end = n - spacer
        for k in range(len(ANTI_SD_TARGET), SD_MIN_LENGTH - 1, -1):
            start = end - k
            if start < 0 or upstream[start:end] not in ANTI_SD_TARGET:
                continue
            if best is None or (k, -spacer) > best[:2]:
                best = (k, -spacer, start)
            break
    return None if best is None else (best[2], best[2] + best[0])


def prodigal_sd_site(upstream: str, motif: str, spacer: str) -> tuple[int, int] | None:
    """Locate Prodigal's RBS call (alternatives joined by '/', 'x' = one mismatch, '(G)' optional; spacer
    'a-bbp') in `upstream`: the longest alternative, nearest the start codon. Only calls naming >= 4 bases
    count (as for our own scan); 3-base calls (GGA/GAG/AGG), mismatch classes (3Base/5BMM) and None give None."""
    if not motif or motif == "None" or not spacer or spacer == "None":
        return None
    try:
        a, b = (int(x) for x in spacer.removesuffix("bp").split("-"))
    except ValueError:
        return None
    n = len(upstream)
    alts = [re.sub(r"\(.*?\)", "", alt) for alt in motif.split("/")]
    alts = [alt for alt in alts if re.fullmatch(r"[ACGTx]{%d,}" % SD_MIN_LENGTH, alt)]
    for alt in sorted(alts, key=len, reverse=True):
        for s in range(a, b + 1):
            start, end = n - s - len(alt), n - s
            if start >= 0 and all(m in ("x", c) for m, c in zip(alt, upstream[start:end])):
                return start, end
    return None


def sigma70_best(seg: np.ndarray, pwms: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, int, int] | None:
    """Best (bits, start of -35, start of -10) in an oriented code segment; None when it is too short."""
    m35, m10 = pwms if pwms is not None else sigma70_pwms()
    w = 6
    if len(seg) < 2 * w + SIGMA70_SPACER[0]:
        return None
    idx = np.arange(len(seg) - w + 1)[:, None] + np.arange(w)
    rows = np.arange(w)
    s35 = m35[rows, seg[idx]].sum(axis=1)
    s10 = m10[rows, seg[idx]].sum(axis=1)
    best: tuple[float, int, int] | None = None
    for d in range(SIGMA70_SPACER[0], SIGMA70_SPACER[1] + 1):
        shift = w + d
        if shift >= len(s10):
            break
        total = s35[: len(s10) - shift] + s10[shift:]
        i = int(np.argmax(total))
        if np.isfinite(total[i]) and (best is None or total[i] > best[0]):
            best = (float(total[i]), i, i + shift)
    return best


def add_sigma70(
    b35: IntervalBuilder,
    b10: IntervalBuilder,
    codes: np.ndarray,
    seqid: str,
    at: int,
    strand: str,
    window: int,
    circular: bool,
    fid: str,
    name: str,
    pwms: tuple[np.ndarray, np.ndarray],
    min_bits: float = SIGMA70_MIN_BITS,
) -> bool:
    """Scan the `window` bases upstream of 5' end `at`; add the best box pair scoring >= min_bits."""
    lo, hi = upstream_span(at, strand, window)
    seg = oriented(codes, lo, hi, strand, circular)
    hit = None if seg is None else sigma70_best(seg, pwms)
    if hit is None or hit[0] < min_bits:
        return False
    n = len(codes)
    for builder, start in ((b35, hit[1]), (b10, hit[2])):
        g0, g1 = to_genome(lo, hi, start, start + 6, strand)
        builder.add(wrap_parts(seqid, g0, g1, strand, n), fid, name)
    return True


def wrap_parts(seqid: str, lo: int, hi: int, strand: str, n: int) -> list[tuple[str, int, int, str]]:
    lo_m = lo % n
    hi_m = lo_m + (hi - lo)
    if hi_m <= n:
        return [(seqid, lo_m, hi_m, strand)]
    return [(seqid, lo_m, n, strand), (seqid, 0, hi_m - n, strand)]
