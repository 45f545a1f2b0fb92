"""The `windows` stage: which stretches of the genome the model reads, as results/<genome>/windows.bed.

`tiled` covers every contig with fixed-length windows (bedtools makewindows); on circular contigs the
last windows wrap the origin (one BED line, end > contig length) instead of being cut short, and on
linear contigs the tail is covered by one window flush with the contig end. `genes` (for large,
gene-sparse eukaryotic genomes) puts windows on genes plus a sampled share of intergenic windows,
under an optional token budget. Windows with too many non-ACGT letters are skipped; every window is
read on the strands asked for. Deterministic for a given seed.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.window_table import Window
from dnalens.genome.fasta import non_acgt_mask
from dnalens.genome.model import GENE_TYPES, TRANSCRIPT_TYPES, Annotation
from dnalens.settings import schema_defaults

log = logging.getLogger(__name__)
Interval = tuple[str, int, int]
STRANDS = {"both": ("+", "-"), "+": ("+",), "-": ("-",)}
MODES = ("tiled", "genes")


_DEFAULTS = schema_defaults("windows")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class WindowSettings:
    """The `windows:` config section (see config/README.md)."""

    length: int = _DEFAULTS["length"]
    stride: int | None = _DEFAULTS["stride"]
    strands: str = _DEFAULTS["strands"]
    max_n_fraction: float = _DEFAULTS["max_n_fraction"]
    mode: str = _DEFAULTS["mode"]
    flank: int = _DEFAULTS["flank"]
    intergenic_fraction: float = _DEFAULTS["intergenic_fraction"]
    max_tokens: int | None = _DEFAULTS["max_tokens"]
    seed: int = _DEFAULTS["seed"]
    shards: int = _DEFAULTS["shards"]

    @property
    def step(self) -> int:
        return self.stride or self.length

    def check(self) -> None:
        problems = []
        if self.length < 1 or self.step < 1:
            problems.append("length and stride must be >= 1")
        if self.strands not in STRANDS:
            problems.append(f"strands must be one of {', '.join(STRANDS)}")
        if not 0.0 <= self.max_n_fraction <= 1.0:
            problems.append("max_n_fraction must be within 0..1")
        if self.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}")
        if not 0.0 <= self.intergenic_fraction < 1.0:
            problems.append("intergenic_fraction must be within 0..1 (1 excluded)")
        if self.max_tokens is not None and self.max_tokens < 1:
            problems.append("max_tokens must be >= 1 or null")
        if self.flank < 0 or self.shards < 1:
            problems.append("flank must be >= 0 and shards >= 1")
        if problems:
            raise InputError(f"windows settings: {'; '.join(problems)}.", fix="see config/README.md, `windows:`.")


def _bedtool(intervals=None):
    try:
        import pybedtools

        return pybedtools.BedTool(intervals) if intervals is not None else pybedtools.BedTool()
    except ImportError:  # pragma: no cover - a broken install
        raise InputError("pybedtools is not installed.", fix="pip install pybedtools") from None


def _genome(lengths: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    return {c: (0, n) for c, n in lengths.items()}


def _complete(
    region: tuple[int, int], raw: list[tuple[int, int]], length: int, wrap: int | None
) -> list[tuple[int, int]]:
    """Fixed-length windows from makewindows output for one region: wrap (circular) or end-flush (linear)."""
    a, b = region
    if b - a <= length:
        return [(a, b)]
    if wrap is not None:
        return [(s, s + length) for s, _ in raw]
    full = [(s, e) for s, e in raw if e - s == length]
    if not full or full[-1][1] < b:
        full.append((b - length, b))
    return full


def tile_intervals(lengths: Mapping[str, int], circular: frozenset[str], length: int, stride: int) -> list[Interval]:
    """Tile every contig: bedtools makewindows, then wrap (circular) or end-flush (linear) the tail."""
    raw: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for iv in _bedtool().window_maker(g=_genome(lengths), w=length, s=stride):
        raw[iv.chrom].append((iv.start, iv.end))
    out: list[Interval] = []
    for contig, n in lengths.items():
        wrap = n if contig in circular else None
        out.extend((contig, s, e) for s, e in _complete((0, n), raw[contig], length, wrap))
    return out


def _centred(contig: str, a: int, b: int, n: int, length: int, circular: bool) -> Interval:
    if length >= n:
        return (contig, 0, n)
    start = (a + b) // 2 - length // 2
    if circular:
        return (contig, start % n, start % n + length)
    start = min(max(start, 0), n - length)
    return (contig, start, start + length)


def gene_intervals(
    annotation: Annotation, lengths: Mapping[str, int], circular: frozenset[str], settings: WindowSettings
) -> tuple[list[Interval], list[Interval]]:
    """(windows on genes, intergenic candidate windows); genes = gene rows (or transcripts) + flank."""
    genes = annotation.by_type(*GENE_TYPES) or annotation.by_type(*TRANSCRIPT_TYPES)
    rows = [(f.seqid, f.start, f.end) for f in genes if f.seqid in lengths]
    if not rows:
        raise InputError(
            "windows mode `genes` needs genes, but the annotation has none.",
            fix="use windows: {mode: tiled} or give an annotation.",
        )
    g = _genome(lengths)
    regions = _bedtool(rows).sort(g=g).slop(b=settings.flank, g=g).merge()
    length, step = settings.length, settings.step
    on_genes: list[Interval] = []
    long_regions = []
    for iv in regions:
        n = lengths[iv.chrom]
        if iv.end - iv.start <= length:
            on_genes.append(_centred(iv.chrom, iv.start, iv.end, n, length, iv.chrom in circular))
        else:
            long_regions.append((iv.chrom, iv.start, iv.end))
    if long_regions:
        raw: dict[int, list[tuple[int, int]]] = defaultdict(list)
        named = _bedtool([(c, a, b, str(k)) for k, (c, a, b) in enumerate(long_regions)])
        for iv in _bedtool().window_maker(b=named, w=length, s=step, i="srcwinnum"):
            raw[int(iv.name.rsplit("_", 1)[0])].append((iv.start, iv.end))
        for k, (contig, a, b) in enumerate(long_regions):
            on_genes.extend((contig, s, e) for s, e in _complete((a, b), raw[k], length, None))
    intergenic = regions.complement(g=g)
    candidates = [
        (iv.chrom, iv.start, iv.end)
        for iv in _bedtool().window_maker(b=intergenic, w=length, s=length)
        if iv.end - iv.start == length
    ]
    return sorted(set(on_genes)), candidates


def n_filter(intervals: list[Interval], fasta, max_n_fraction: float) -> list[Interval]:
    """Drop windows whose share of non-ACGT letters (N, IUPAC codes) exceeds `max_n_fraction`."""
    by_contig: dict[str, list[Interval]] = defaultdict(list)
    for iv in intervals:
        by_contig[iv[0]].append(iv)
    kept: list[Interval] = []
    for contig, ivs in by_contig.items():
        mask = non_acgt_mask(str(fasta[contig][:]))
        if not mask.any():
            kept.extend(ivs)
            continue
        n = len(mask)
        for c, s, e in ivs:
            bad = int(np.count_nonzero(mask[s : min(e, n)]))
            if e > n:
                bad += int(np.count_nonzero(mask[: e - n]))
            if bad <= max_n_fraction * (e - s):
                kept.append((c, s, e))
    return kept


def _sample(items: list[Interval], k: int, rng: random.Random) -> list[Interval]:
    return items if k >= len(items) else rng.sample(items, k)


def run_windows(
    fasta,
    lengths: Mapping[str, int],
    circular: frozenset[str],
    settings: WindowSettings,
    annotation: Annotation | None = None,
) -> list[Window]:
    """The window table for one genome (`fasta` is a pyfaidx.Fasta of the prepared genome.fa)."""
    settings.check()
    rng = random.Random(settings.seed)
    strands = STRANDS[settings.strands]
    try:
        if settings.mode == "tiled":
            intervals = n_filter(
                tile_intervals(lengths, circular, settings.length, settings.step), fasta, settings.max_n_fraction
            )
            groups = [intervals]
        else:
            on_genes, candidates = gene_intervals(annotation or Annotation([]), lengths, circular, settings)
            on_genes = n_filter(on_genes, fasta, settings.max_n_fraction)
            candidates = n_filter(candidates, fasta, settings.max_n_fraction)
            f = settings.intergenic_fraction
            gene_tokens = sum(e - s for _, s, e in on_genes)
            wanted = round(gene_tokens * f / (1 - f) / settings.length)
            groups = [on_genes, _sample(candidates, wanted, rng)]
    finally:
        import pybedtools

        pybedtools.cleanup()
    tokens = sum(e - s for group in groups for _, s, e in group) * len(strands)
    if settings.max_tokens is not None and tokens > settings.max_tokens:
        keep = settings.max_tokens / tokens
        groups = [_sample(g, int(len(g) * keep), rng) for g in groups]
        log.info("token budget %d: kept %.1f%% of windows", settings.max_tokens, 100 * keep)
    rank = {c: i for i, c in enumerate(lengths)}
    intervals = sorted({iv for g in groups for iv in g}, key=lambda iv: (rank[iv[0]], iv[1], iv[2]))
    windows = [Window(c, s, e, strand, f"{c}:{s}-{e}{strand}") for c, s, e in intervals for strand in strands]
    log.info(
        "%d windows (%s mode, %d bp, stride %d, strands %s)",
        len(windows),
        settings.mode,
        settings.length,
        settings.step,
        settings.strands,
    )
    return windows
