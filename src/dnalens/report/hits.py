"""Feature hits: where on the genome a feature is "on", as merged stranded intervals.

A feature is on at a token where activation > threshold × (feature max) — the InterPLM rule the
probe stage uses for domain F1, with the threshold of the feature's best concept. Consecutive on
tokens of one window form a run; runs map to genome intervals (reversed on −), and runs from
overlapping windows on the same strand merge, keeping the strongest activation and its position.
All features are processed together with array operations (no per-feature Python loop), in blocks
of columns so memory stays bounded on large buffers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.formats.feature_columns import feature_bounds
from dnalens.report.feature_reader import as_reader
from dnalens.report.tokens import TokenMap

HIT_COLUMNS = ("feature", "hit", "contig", "start", "end", "strand", "peak", "activation", "score")
# Nonzero codes per column block: a block's runs and hits take ~170 bytes per nonzero while it is
# processed (2 M -> ~350 MB), whatever the genome size.
BLOCK_NNZ = 2_000_000
MERGE_GAP = 3  # runs of one feature/strand at most this many bases apart become one hit


def feature_runs(features: np.ndarray, rows: np.ndarray, values: np.ndarray, tokens: TokenMap) -> pd.DataFrame:
    """Runs of consecutive on-tokens (same feature, same window) as genome intervals.

    Inputs sorted by (feature, row). Returns feature, contig_id, minus, start, end (0-based half-open,
    start in [0, contig length), end may pass it on circular contigs), peak, activation.
    """
    window = tokens.window[rows]
    breaks = np.flatnonzero((np.diff(rows) != 1) | (np.diff(window) != 0) | (np.diff(features) != 0)) + 1
    first = np.concatenate(([0], breaks)).astype(np.int64)
    last = np.concatenate((breaks, [len(rows)])).astype(np.int64) - 1
    if len(rows) == 0:
        first = last = np.zeros(0, np.int64)
    run_id = np.repeat(np.arange(len(first)), last - first + 1)
    order = np.lexsort((-values, run_id))  # each run's strongest token comes first
    peak_idx = order[np.searchsorted(run_id[order], np.arange(len(first)))]
    lo, hi = tokens.unwrapped[rows[first]], tokens.unwrapped[rows[last]]
    minus = tokens.minus[rows[first]]
    start = np.where(minus, hi, lo)
    end = np.where(minus, lo, hi) + 1
    length = tokens.contig_length_of(rows[first])
    shift = (start // length) * length
    return pd.DataFrame(
        {
            "feature": features[first],
            "contig_id": tokens.contig_id[rows[first]],
            "minus": minus,
            "start": start - shift,
            "end": end - shift,
            "peak": tokens.position[rows[peak_idx]],
            "activation": values[peak_idx].astype(np.float64),
        }
    )


def merge_runs(runs: pd.DataFrame, gap: int = 0) -> pd.DataFrame:
    """Merge runs of one feature per (contig, strand) that overlap, touch, or leave at most `gap` bases
    between them; keep the strongest peak."""
    if runs.empty:
        return runs.iloc[:0]
    runs = runs.sort_values(["feature", "contig_id", "minus", "start", "end"], kind="stable").reset_index(drop=True)
    key = runs[["feature", "contig_id", "minus"]].to_numpy(np.int64)
    new_group = np.ones(len(runs), dtype=bool)
    new_group[1:] = (key[1:] != key[:-1]).any(axis=1)
    group = np.cumsum(new_group) - 1
    big = int(runs["end"].max()) + 1
    # running max of `end` within each group: offset groups so an earlier group never wins
    cum_end = np.maximum.accumulate(group * big + runs["end"].to_numpy(np.int64)) - group * big
    starts = runs["start"].to_numpy(np.int64)
    opens = new_group.copy()
    opens[1:] |= starts[1:] > cum_end[:-1] + gap
    hit = np.cumsum(opens) - 1
    n_hits = int(hit[-1]) + 1
    strongest = np.lexsort((-runs["activation"].to_numpy(), hit))
    best = strongest[np.searchsorted(hit[strongest], np.arange(n_hits))]
    firsts = np.flatnonzero(opens)
    ends = np.maximum.reduceat(runs["end"].to_numpy(np.int64), firsts)
    return pd.DataFrame(
        {
            "feature": runs["feature"].to_numpy()[firsts],
            "contig_id": runs["contig_id"].to_numpy()[firsts],
            "minus": runs["minus"].to_numpy()[firsts],
            "start": starts[firsts],
            "end": ends,
            "peak": runs["peak"].to_numpy()[best],
            "activation": runs["activation"].to_numpy()[best],
        }
    )


def _no_hits() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(HIT_COLUMNS, "iiOiiOifi")})


def _block_hits(
    codes: sp.csc_matrix, lo: int, hi: int, tokens: TokenMap, relative_threshold: np.ndarray, feature_max: np.ndarray
) -> pd.DataFrame:
    """All hits (HIT_COLUMNS) of features lo..hi-1, numbered; a feature never spans two blocks."""
    a, b = codes.indptr[lo], codes.indptr[hi]
    rows, values = codes.indices[a:b].astype(np.int64), codes.data[a:b]
    features = np.repeat(np.arange(lo, hi), np.diff(codes.indptr[lo : hi + 1]))
    on = values > (relative_threshold * feature_max)[features]
    merged = merge_runs(feature_runs(features[on], rows[on], values[on], tokens), MERGE_GAP)
    if merged.empty:
        return _no_hits()
    merged = merged.sort_values(
        ["feature", "activation", "contig_id", "start"], ascending=[True, False, True, True], kind="stable"
    ).reset_index(drop=True)
    counts = merged.groupby("feature", sort=False).size().to_numpy()
    merged["hit"] = np.arange(len(merged)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    scale = np.where(feature_max > 0, feature_max, 1.0)[merged["feature"].to_numpy()]
    merged["score"] = np.clip(np.rint(1000 * merged["activation"] / scale), 0, 1000).astype(np.int64)
    merged["contig"] = np.asarray(tokens.contigs, dtype=object)[merged["contig_id"].to_numpy()]
    merged["strand"] = np.where(merged["minus"], "-", "+")
    return merged[list(HIT_COLUMNS)]


def _hits_per_block(codes: sp.csc_matrix, tokens: TokenMap, relative_threshold, feature_max, max_nnz: int):
    """`_block_hits` of each block of columns holding about `max_nnz` values, in column order."""
    for lo, hi in feature_bounds(np.diff(codes.indptr), max_nnz):
        yield _block_hits(codes, lo, hi, tokens, relative_threshold, feature_max)


def all_hits(
    codes: sp.csc_matrix,
    tokens: TokenMap,
    relative_threshold: np.ndarray,
    feature_max: np.ndarray,
    *,
    max_nnz: int = BLOCK_NNZ,
) -> pd.DataFrame:
    """Hits of every feature (HIT_COLUMNS): strongest first within a feature, numbered 1.. in that order.

    `codes` must have sorted indices; `relative_threshold[f]` is the fraction of `feature_max[f]`
    a token must exceed to be on; score = round(1000 × activation / feature max). Every hit of every
    feature is kept: about half a row per nonzero code; `hit_summary` and `selected_hits` are what a
    whole genome needs.
    """
    parts = [p for p in _hits_per_block(codes, tokens, relative_threshold, feature_max, max_nnz) if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else _no_hits()


def hit_summary(
    codes: sp.csc_matrix,
    tokens: TokenMap,
    relative_threshold: np.ndarray,
    feature_max: np.ndarray,
    *,
    max_nnz: int = BLOCK_NNZ,
) -> pd.DataFrame:
    """`strongest_hits(all_hits(...))` block by block: per feature its hit count and strongest hit, never
    all hits at once (E. coli with 2,048 features: ~150 M hits, more than 20 GB as one table)."""
    parts = [strongest_hits(p) for p in _hits_per_block(codes, tokens, relative_threshold, feature_max, max_nnz)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts) if parts else strongest_hits(_no_hits())


def selected_hits(
    codes,
    features: list[int],
    tokens: TokenMap,
    relative_threshold: np.ndarray,
    feature_max: np.ndarray,
    max_hits: int,
    *,
    max_nnz: int = BLOCK_NNZ,
) -> pd.DataFrame:
    """The rows of `all_hits` for `features` with hit <= max_hits (same order, fresh index), computed on
    those columns only, a group of columns (~`max_nnz` values) at a time. `codes`: a CSC with sorted
    indices or a report FeatureReader."""
    reader = as_reader(codes)
    chosen = np.array(sorted(set(int(f) for f in features)), dtype=np.int64)
    parts = []
    # each group is cut to max_hits per feature before joining: all hits of 200 busy features on
    # E. coli are ~16 M rows (several GB), the kept part at most 200 × max_hits
    for lo, hi in feature_bounds(reader.column_nnz()[chosen], max_nnz) if chosen.size else []:
        group = chosen[lo:hi]
        block = _block_hits(reader.columns(group), 0, hi - lo, tokens, relative_threshold[group], feature_max[group])
        block = block[block["hit"] <= max_hits]
        if len(block):
            parts.append(block.assign(feature=group[block["feature"].to_numpy(np.int64)]))
    return pd.concat(parts, ignore_index=True) if parts else _no_hits()


def feature_hits(
    codes: sp.csc_matrix, feature: int, tokens: TokenMap, relative_threshold: float, feature_max: float
) -> pd.DataFrame:
    """Hits of one feature (see `all_hits`)."""
    n = codes.shape[1]
    thresholds = np.ones(n)
    thresholds[feature] = relative_threshold
    maxima = np.full(n, np.inf)  # nothing exceeds 1 × inf: only `feature` is called
    maxima[feature] = feature_max
    return all_hits(codes, tokens, thresholds, maxima).reset_index(drop=True)


def strongest_hits(hits: pd.DataFrame) -> pd.DataFrame:
    """Per feature: the strongest hit and the hit count (index = feature)."""
    first = hits[hits["hit"] == 1].set_index("feature")
    return pd.DataFrame({"n_hits": hits.groupby("feature").size()}).join(first)


def capped_latents(n_hits: Mapping[int, int], cap: int) -> dict[int, int]:
    """Latent → its total hit count, for the latents whose hits the browser files cut at `cap`."""
    return {int(f): int(n) for f, n in sorted(n_hits.items()) if int(n) > cap}


def hit_cap_note(n_hits: Mapping[int, int], cap: int) -> str:
    """The cap in words for report.html and the GFF3 header; `n_hits`: the written latents' total hit counts."""
    capped = capped_latents(n_hits, cap)
    text = (
        f"hits.gff3.gz and tracks/hits.bed.gz keep each latent's {cap:,} strongest hits "
        "(report.max_hits_per_feature; features.tsv n_hits counts all)"
    )
    if not capped:
        written = f"{len(n_hits)} latent" + ("" if len(n_hits) == 1 else "s")
        return text + f": no latent written here has more, so nothing was cut ({written})."
    cut = ", ".join(f"f{f} {cap:,} of {n:,} ({100 * cap / n:.0f}%)" for f, n in capped.items())
    return text + f"; cut for {len(capped)} of {len(n_hits)} latents: {cut}."


def hit_cap_header(n_hits: Mapping[int, int], cap: int) -> str:
    """GFF3 comment lines (each starting "# ") stating the cap, to follow the ##gff-version / ##sequence-region
    lines; tabix skips them."""
    return "".join(f"# {line}\n" for line in (f"dnalens hits: {hit_cap_note(n_hits, cap)}",))


def with_header_lines(chunks: Iterable[str], lines: str) -> Iterator[str]:
    """`chunks` (tracks.gff3_chunks: the directive header first) with `lines` right after that header."""
    it = iter(chunks)
    first = next(it, None)
    if first is not None:
        yield first
    yield lines
    yield from it
