"""The torch path of the AUROC kernels (`probe.device` cuda, or "cpu-torch"): ranks, rank sums and the
shift nulls' sums on a device, the AUROC formula on the host (`metric_formulas.auroc_from_sums`, the numpy
path's arithmetic), so the matrices equal the numpy path's bit for bit.

Ranks: float16-valued codes (the buffer's) by counting (column, value) bins as `ranks` does, other values by
two stable sorts (values, then columns); R = rank − zero_rank at the nonzeros, as there. Rank sums go through the label patterns (`label_patterns`): one float64 bincount
over (column, pattern) bins and the [P, L] table; the shift nulls look up each held-out row's shifted
pattern (`source_ids`) and bincount several shifts at once. All are sums of half-integers below 2^53:
exact in any order. CUDA out-of-memory halves the columns of a piece (or the shifts of a group), down to
one (dnalens.oom); each column's numbers come from its own entries, so pieces change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.oom import HalvingBatch, oom_error
from dnalens.probe import torch_shared
from dnalens.probe.chunks import ColumnBlock, FeatureChunker
from dnalens.probe.metric_formulas import auroc_from_sums
from dnalens.probe.token_concepts import TokenConcepts
from dnalens.probe.torch_shared import (
    FIX,
    by_columns,
    cached,
    column_width,
    device_chunk_entries,
    device_patterns,
    pattern_sums,
    to_numpy,
)

SHIFT_ENTRIES_TORCH = 1 << 25  # (shift, nonzero) keys per device bincount: 256 MB of int64
COUNT_BINS = 1 << 22  # (column, value) bins that counting ranks may always use (32 MB): cheaper than two sorts


@dataclass(frozen=True)
class TorchRanked:
    """`ranks.RankedBlock` on a device: R at the nonzeros of columns [f0, f1), CSC order (tensors)."""

    f0: int
    f1: int
    n_rows: int
    indptr: object  # int64 [n_cols + 1]
    cols: object  # int64 [m], 0-based within the piece
    rows: object  # int64 [m]
    values: object  # float64 [m]
    zero_rank: object  # float64 [n_cols]

    @property
    def n_cols(self) -> int:
        return self.f1 - self.f0

    def columns(self, a: int, b: int) -> "TorchRanked":
        """Columns [a, b) of this piece (its own numbering), as views."""
        lo, hi = int(self.indptr[a]), int(self.indptr[b])
        return TorchRanked(
            self.f0 + a,
            self.f0 + b,
            self.n_rows,
            self.indptr[a : b + 1] - lo,
            self.cols[lo:hi] - a,
            self.rows[lo:hi],
            self.values[lo:hi],
            self.zero_rank[a:b],
        )


def _counting_positions_torch(torch, data, cols, nc: int):
    """`ranks._counting_positions` on the device: average sorted position by counting (column, distinct
    value) bins when every value has a float16 encoding (the buffer's codes); None otherwise or when the
    bins would outnumber the entries (then two sorts)."""
    if data.dtype == torch.float16:
        half = data
    elif data.dtype in (torch.float32, torch.float64):
        half = data.to(torch.float16)
        if not bool((half.to(data.dtype) == data).all()):
            return None
    else:
        return None
    bits = half.view(torch.int16).to(torch.int64) & 0xFFFF
    key = torch.where(bits >= 0x8000, 0xFFFF - bits, bits | 0x8000)  # order-preserving (sign-magnitude)
    present = torch.zeros(1 << 16, dtype=torch.bool, device=data.device)
    present[key] = True
    n_values = int(present.sum())
    if nc * n_values > max(4 * data.numel(), COUNT_BINS):
        return None
    k = (torch.cumsum(present, 0) - 1)[key] + cols * n_values
    counts = torch.bincount(k, minlength=nc * n_values)
    ends = torch.cumsum(counts, 0)[k]
    return ends.to(torch.float64) - (counts[k] + 1).to(torch.float64) / 2


def _sorted_positions_torch(torch, data, cols):
    """Average sorted position by two stable sorts (values, then columns)."""
    m = data.numel()
    by_value = torch.argsort(data, stable=True)
    order = by_value[torch.argsort(cols[by_value], stable=True)]
    sorted_data = data[order]
    pos = torch.arange(m, device=data.device)
    new_group = torch.ones(m, dtype=torch.bool, device=data.device)
    new_group[1:] = (sorted_data[1:] != sorted_data[:-1]) | (cols[1:] != cols[:-1])  # cols: sorted already
    first = torch.cummax(torch.where(new_group, pos, 0), dim=0).values
    ends = torch.ones(m, dtype=torch.bool, device=data.device)
    ends[:-1] = new_group[1:]
    last = torch.flip(torch.cummin(torch.flip(torch.where(ends, pos, m), [0]), dim=0).values, [0])
    out = torch.empty(m, dtype=torch.float64, device=data.device)
    out[order] = (first + last).to(torch.float64) / 2
    return out


def _ranked_block_torch(torch, block: ColumnBlock, device) -> TorchRanked:
    """R of one column block on `device` (see module doc): rank = average position in the column + 1,
    + n_zero for positive values; R = rank − zero_rank."""
    counts = torch.as_tensor(block.counts, device=device)
    nc, n = block.n_cols, block.n_rows
    data = torch.as_tensor(block.data, device=device)
    rows = torch.as_tensor(block.rows, device=device).to(torch.int64)
    cols = torch.repeat_interleave(torch.arange(nc, device=device), counts)
    indptr = torch.as_tensor(block.indptr, device=device).to(torch.int64)
    n_zero = (n - counts).to(torch.float64)
    n_neg = torch.bincount(cols[data < 0], minlength=nc).to(torch.float64)
    zero_rank = n_neg + (n_zero + 1) / 2
    if data.numel() == 0:
        values = torch.zeros(0, dtype=torch.float64, device=device)
        return TorchRanked(block.f0, block.f1, n, indptr, cols, rows, values, zero_rank)
    positions = _counting_positions_torch(torch, data, cols, nc)
    if positions is None:
        positions = _sorted_positions_torch(torch, data, cols)
    values = positions - indptr[:-1][cols] + 1 - zero_rank[cols]
    values += torch.where(data > 0, n_zero[cols], torch.zeros((), dtype=torch.float64, device=device))
    return TorchRanked(block.f0, block.f1, n, indptr, cols, rows, values, zero_rank)


def _columns(block: ColumnBlock, a: int, b: int) -> ColumnBlock:
    """Columns [a, b) of a block (its own numbering) as a block of their own."""
    lo, hi = int(block.indptr[a]), int(block.indptr[b])
    return ColumnBlock(
        block.f0 + a, block.f0 + b, block.n_rows, block.data[lo:hi], block.rows[lo:hi], block.indptr[a : b + 1] - lo
    )


def _nonzeros(piece, a: int, n_rows: int) -> str:
    return f"one feature with {int(piece.indptr[a + 1] - piece.indptr[a]):,} nonzeros over {n_rows:,} tokens"


def _pieces(chunker: FeatureChunker, device: str, use) -> None:
    """use(ranked piece) for every chunk of `chunker`, ranked on the device in column pieces that halve
    on OOM (the ranking and `use` together: a piece that fits is used before the next is ranked)."""
    import torch

    for block in chunker:

        def run(a: int, b: int, block=block) -> None:
            use(_ranked_block_torch(torch, _columns(block, a, b), device))

        what = "AUROC feature block (features)"
        by_columns(block.n_cols, block.n_cols, run, what, lambda a, b, block=block: _nonzeros(block, a, block.n_rows))


def _rank_sums(torch, piece: TorchRanked, patterns) -> np.ndarray:
    """[n_cols, L] Σ R over each concept's positives (host float64), pieces of bounded bins."""
    of_token, table = patterns
    out = np.empty((piece.n_cols, table.shape[1]))

    def run(a: int, b: int) -> None:
        part = piece.columns(a, b)
        sums = pattern_sums(torch, part.cols, of_token[part.rows], b - a, table, part.values)
        out[a:b] = to_numpy(sums)

    width = column_width(1, table.shape[0])
    by_columns(piece.n_cols, width, run, "AUROC rank sums (features)", lambda a, b: _nonzeros(piece, a, piece.n_rows))
    return out


def _piece_auroc(piece: TorchRanked, labels: TokenConcepts, device: str) -> np.ndarray:
    import torch

    sums = _rank_sums(torch, piece, device_patterns(labels.patterns, device))
    return auroc_from_sums(sums, to_numpy(piece.zero_rank), labels.n_pos, labels.n)


class RankedCodesTorch:
    """`auroc.RankedCodes` on a device: ranks of every feature over a fixed row set, for many label sets."""

    def __init__(self, codes, *, rows=None, device: str, max_chunk_entries: int) -> None:
        chunker = FeatureChunker(codes, rows=rows, max_entries=device_chunk_entries(max_chunk_entries))
        self.device, self.n_rows, self.n_features = device, chunker.n_rows, chunker.n_features
        self.pieces: list[TorchRanked] = []
        _pieces(chunker, device, self.pieces.append)

    def auroc(self, labels: TokenConcepts) -> np.ndarray:
        if labels.n != self.n_rows:
            raise ValueError(f"labels have {labels.n} rows, codes {self.n_rows}")
        out = np.empty((self.n_features, labels.n_labels))
        for piece in self.pieces:
            out[piece.f0 : piece.f1] = _piece_auroc(piece, labels, self.device)
        return out

    def shifted_auroc(
        self, labels: TokenConcepts, sources: np.ndarray, source_ids: np.ndarray, n_pos: np.ndarray
    ) -> np.ndarray:
        """`RankedCodes.shifted_auroc` on the device (only `source_ids` and `n_pos` are read)."""
        return shifted_auroc_torch(self, labels.patterns, source_ids, n_pos)


def shifted_auroc_torch(ranked: RankedCodesTorch, patterns, source_ids: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """[S, F, L] AUROC of the shifted label sets: per column piece (PATTERN_BINS (column, pattern) bins),
    as many shifts per bincount as the bins and SHIFT_ENTRIES_TORCH allow (halved on OOM)."""
    import torch

    device = ranked.device
    n_s, n_l, n_p = source_ids.shape[1], patterns.table.shape[1], patterns.n_patterns
    out = np.empty((n_s, ranked.n_features, n_l))
    if n_s == 0:
        return out
    table = device_patterns(patterns, device)[1]
    key = ("source_ids", id(source_ids), device)  # [S, n_rows]: uploaded once for every feature block
    ids_all = cached(
        patterns, key, lambda: (source_ids, torch.as_tensor(np.ascontiguousarray(source_ids.T), device=device))
    )[1]
    for whole in ranked.pieces:
        for c0 in range(0, whole.n_cols, column_width(1, n_p)):
            piece = whole.columns(c0, min(whole.n_cols, c0 + column_width(1, n_p)))
            n_f, m = piece.n_cols, piece.values.numel()
            zero_rank = to_numpy(piece.zero_rank)
            seg = piece.cols * n_p

            def shifts(a: int, b: int, piece=piece, n_f=n_f, seg=seg, zero_rank=zero_rank) -> None:
                g = b - a  # each shift is summed on its own: grouping changes nothing
                ids = ids_all[a:b][:, piece.rows].to(torch.int64)  # [g, entries]
                key = (torch.arange(g, device=device)[:, None] * (n_f * n_p) + seg[None, :] + ids).reshape(-1)
                per = torch.bincount(key, weights=piece.values.repeat(g), minlength=g * n_f * n_p)
                sums = to_numpy((per.reshape(g * n_f, n_p) @ table).reshape(g, n_f, n_l))
                out[a:b, piece.f0 : piece.f1] = auroc_from_sums(sums, zero_rank, n_pos[a:b], ranked.n_rows)

            group = max(1, min(torch_shared.PATTERN_BINS // max(n_f * n_p, 1), SHIFT_ENTRIES_TORCH // max(m, 1)))
            batch = HalvingBatch(group, what="shift-null group (shifts)")
            batch.chunks(
                n_s,
                shifts,
                lambda a, b, exc, n_f=n_f, batch=batch: oom_error(
                    f"one circular shift of {n_f:,} features x {n_p:,} label patterns",
                    exc,
                    halved_from=batch.initial,
                    fix=FIX,
                ),
            )
    return out


def auroc_matrix_torch(codes, labels, *, rows=None, device="cuda", max_chunk_entries: int = 1 << 24) -> np.ndarray:
    """Same contract as `auroc.auroc_matrix` (labels: bool [N, L] or TokenConcepts of `rows`), on `device`;
    each piece is ranked, summed and dropped before the next."""
    chunker = FeatureChunker(codes, rows=rows, max_entries=device_chunk_entries(max_chunk_entries))
    if isinstance(labels, TokenConcepts):
        lab = labels
    else:
        if np.shape(labels)[0] != chunker.n_total_rows:
            raise ValueError(f"labels have {np.shape(labels)[0]} rows, codes {chunker.n_total_rows}")
        lab = TokenConcepts.from_labels(labels, rows)
    if lab.n != chunker.n_rows:
        raise ValueError(f"labels have {lab.n} rows, codes {chunker.n_rows}")
    out = np.empty((chunker.n_features, lab.n_labels))

    def use(piece: TorchRanked) -> None:
        out[piece.f0 : piece.f1] = _piece_auroc(piece, lab, device)

    _pieces(chunker, device, use)
    return out
