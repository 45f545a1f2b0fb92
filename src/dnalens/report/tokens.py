"""Where every token of an activation buffer sits in the genome.

Buffers store tokens in READ order, window after window; a window read on − runs backwards along the
genome, and a window on a circular contig may run past the contig end (bases wrap modulo its length).
Everything the report draws on a genome (hits, bigWig, metagene profiles) goes through this one map,
so the strand and origin arithmetic lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.formats.coordinates import offset_positions, token_read_offsets

WINDOW_COLUMNS = ("contig", "start", "end", "strand", "token_start", "token_end")


@dataclass(frozen=True)
class TokenMap:
    """Per-token genome coordinates (0-based) for a buffer with `n_tokens` rows."""

    windows: pd.DataFrame  # WINDOW_COLUMNS (+ optional read_offset), one row per window
    contig_lengths: dict[str, int]
    # int32 where the values fit (a whole genome has tens of millions of tokens), else int64
    window: np.ndarray  # [N]: row of `windows`
    offset: np.ndarray  # [N]: read-order offset of the token inside its window
    unwrapped: np.ndarray  # [N]: genome position before taking it modulo the contig length
    position: np.ndarray  # [N]: genome position, 0-based, in [0, contig length)
    minus: np.ndarray  # bool [N]: token read on the − strand
    contigs: tuple[str, ...]  # contig names, in chrom.sizes order
    contig_id: np.ndarray  # [N]: index into `contigs`

    @property
    def n_tokens(self) -> int:
        return len(self.window)

    def contig_of(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.contigs, dtype=object)[self.contig_id[rows]]

    def contig_length_of(self, rows: np.ndarray) -> np.ndarray:
        lengths = np.array([self.contig_lengths[c] for c in self.contigs], dtype=np.int64)
        return lengths[self.contig_id[rows]]


def build_token_map(windows: pd.DataFrame, contig_lengths: dict[str, int], n_tokens: int) -> TokenMap:
    """Map each buffer row to (window, genome position, strand).

    `windows` needs WINDOW_COLUMNS (0-based half-open genome span, token range [token_start, token_end)).
    A window may hold fewer tokens than bases (e.g. the first positions trimmed); the optional
    `read_offset` column gives the read-order offset of its first token (default 0).
    """
    missing = [c for c in WINDOW_COLUMNS if c not in windows.columns]
    if missing:
        raise InputError(f"window table lacks column(s) {', '.join(missing)}.", fix="rebuild the buffer.")
    win = windows.reset_index(drop=True)
    starts = win["token_start"].to_numpy(np.int64)
    ends = win["token_end"].to_numpy(np.int64)
    counts = ends - starts
    offsets0 = win["read_offset"].to_numpy(np.int64) if "read_offset" in win else np.zeros(len(win), np.int64)
    unknown = sorted(set(win["contig"]) - set(contig_lengths))
    if unknown:
        raise InputError(f"windows on contig(s) missing from chrom.sizes: {', '.join(map(str, unknown[:5]))}.")
    if (counts < 0).any() or (offsets0 + counts > (win["end"] - win["start"]).to_numpy()).any():
        raise InputError("a window holds more tokens than bases.", fix="rebuild the buffer.")
    index_type = _index_type(max(len(win), int(counts.max(initial=0) + offsets0.max(initial=0))))
    if int(counts.sum()) != n_tokens or (len(win) and (starts[1:] != ends[:-1]).any()):
        raise InputError(
            f"window token ranges cover {int(counts.sum())} tokens in non-contiguous order, buffer has {n_tokens}.",
            fix="rebuild the buffer; its window index and codes disagree.",
        )
    contigs = tuple(contig_lengths)
    index = {c: i for i, c in enumerate(contigs)}
    window_contig = np.array([index[c] for c in win["contig"]], dtype=np.int32)
    lengths = np.array([contig_lengths[c] for c in contigs], dtype=np.int64)
    wminus = win["strand"].to_numpy() == "-"
    owner, k = token_read_offsets(counts, offsets0)
    unwrapped = offset_positions(
        owner,
        k,
        win["start"].to_numpy(np.int64),
        win["end"].to_numpy(np.int64),
        wminus,
        lengths[window_contig],
        wrap=False,
    )
    window = owner.astype(index_type)
    offset = k.astype(index_type)
    contig_id = window_contig[owner]
    position_type = _index_type(int(win["end"].max()) if len(win) else 0)
    unwrapped = unwrapped.astype(position_type)
    return TokenMap(
        win,
        dict(contig_lengths),
        window,
        offset,
        unwrapped,
        unwrapped % lengths.astype(position_type)[contig_id],
        wminus[owner],
        contigs,
        contig_id,
    )


def _index_type(largest: int) -> type:
    return np.int32 if largest < np.iinfo(np.int32).max else np.int64


def split_circular(start: int, end: int, length: int) -> list[tuple[int, int]]:
    """0-based half-open interval that may run past the contig end → one or two in-range intervals."""
    if start >= length:
        return [(start - length, end - length)]
    if end <= length:
        return [(start, end)]
    return [(start, length), (0, end - length)]


IGV_BATCH_PORT = 60151


def igv_goto_url(contig: str, start: int, end: int, length: int | None = None, port: int = IGV_BATCH_PORT) -> str:
    """Link that makes a running desktop IGV jump to 0-based [start, end) through its batch port (no igv.js,
    no network request until clicked); a window across the origin of a circular contig shows its first part."""
    from urllib.parse import quote

    if length is not None and start >= length:
        start, end = start - length, end - length
    if length is not None:
        end = min(end, length)
    return f"http://localhost:{port}/goto?locus={quote(f'{contig}:{start + 1}-{end}', safe='')}"


def display_locus(contig: str, start: int, end: int, length: int | None = None) -> str:
    """1-based inclusive `contig:start-end` as genome browsers show it (end wraps on circular contigs)."""
    if length is not None and start >= length:
        start, end = start - length, end - length
    last = end if length is None or end <= length else end - length
    return f"{contig}:{start + 1}-{last}"
