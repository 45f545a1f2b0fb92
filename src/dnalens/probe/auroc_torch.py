"""The torch path of `auroc_matrix` (GPU): same nonzero-only ranks, sorts and products on a device.

Two stable sorts (values, then columns) replace the packed-key sort; Rᵀ is a torch CSR tensor times
dense float64 labels. `shifted_auroc_torch` runs the shift nulls' pattern sums (`label_patterns`) on
the device: one float64 bincount per group of shifts, exact for half-integer ranks in any order, so the
numbers equal the numpy path's. torch is imported here only, never by the CPU path.
"""

from __future__ import annotations

import numpy as np

from dnalens.oom import HalvingBatch, clear_error, oom_error
from dnalens.probe.chunks import ColumnBlock, FeatureChunker
from dnalens.probe.token_concepts import TokenConcepts


def _ranked_block_torch(torch, block, device):
    """(Rᵀ as CSR tensor, zero_rank, R column sums) for one column block, on `device`."""
    counts = torch.as_tensor(block.counts, device=device)
    nc, n = block.n_cols, block.n_rows
    data = torch.as_tensor(block.data, device=device)
    rows = torch.as_tensor(block.rows, device=device)
    cols = torch.repeat_interleave(torch.arange(nc, device=device), counts)
    m = data.numel()
    indptr = torch.as_tensor(block.indptr, device=device)
    n_zero = (n - counts).to(torch.float64)
    n_neg = torch.bincount(cols[data < 0], minlength=nc).to(torch.float64)
    zero_rank = n_neg + (n_zero + 1) / 2
    if m == 0:
        values = torch.zeros(0, dtype=torch.float64, device=device)
        empty_sum = torch.zeros(nc, dtype=torch.float64, device=device)
        return _csr(torch, indptr, rows, values, (nc, n)), zero_rank, empty_sum
    by_value = torch.argsort(data, stable=True)
    order = by_value[torch.argsort(cols[by_value], stable=True)]
    sorted_data = data[order]
    pos = torch.arange(m, device=device)
    new_group = torch.ones(m, dtype=torch.bool, device=device)
    new_group[1:] = (sorted_data[1:] != sorted_data[:-1]) | (cols[1:] != cols[:-1])
    first = torch.cummax(torch.where(new_group, pos, 0), dim=0).values
    ends = torch.ones(m, dtype=torch.bool, device=device)
    ends[:-1] = new_group[1:]
    last = torch.flip(torch.cummin(torch.flip(torch.where(ends, pos, m), [0]), dim=0).values, [0])
    starts = indptr[:-1][cols]
    rank = (first + last).to(torch.float64) / 2 - starts + 1
    positive = (pos - starts) >= n_neg[cols].to(torch.int64)
    rank += torch.where(positive, n_zero[cols], torch.zeros((), dtype=torch.float64, device=device))
    values = torch.empty_like(rank)
    values[order] = rank - zero_rank[cols]  # back to the block's (column, row) order: sorted CSR indices
    r_sum = torch.zeros(nc, dtype=torch.float64, device=device).index_add_(0, cols, values)
    return _csr(torch, indptr, rows, values, (nc, n)), zero_rank, r_sum


def _csr(torch, indptr, indices, values, size):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(indptr, indices, values, size=size, check_invariants=False)


def _columns(block: ColumnBlock, a: int, b: int) -> ColumnBlock:
    """Columns [a, b) of a block (its own numbering) as a block of their own."""
    lo, hi = int(block.indptr[a]), int(block.indptr[b])
    return ColumnBlock(
        block.f0 + a, block.f0 + b, block.n_rows, block.data[lo:hi], block.rows[lo:hi], block.indptr[a : b + 1] - lo
    )


def auroc_matrix_torch(codes, labels, *, rows=None, device="cuda", max_chunk_entries: int = 1 << 24) -> np.ndarray:
    """Same contract as `auroc_matrix`; runs the sorts and products with torch on `device`.

    CUDA out-of-memory on a block halves its features (dnalens.oom), down to one feature: each column
    is ranked and summed on its own, so the split does not change the AUROCs."""
    import torch

    chunker = FeatureChunker(codes, rows=rows, max_entries=max_chunk_entries)
    lab = TokenConcepts.from_labels(labels, rows)
    if lab.n != chunker.n_rows:
        raise ValueError(f"labels have {lab.n} rows, codes {chunker.n_rows}")
    fix = "use probe.device: cpu, a GPU with more memory, or fewer tokens per probe (a shorter genome part)."
    with clear_error(f"the labels of {lab.n:,} tokens x {lab.n_labels} concepts", fix=fix):
        stored = torch.as_tensor(lab.stored_dense(), dtype=torch.float64, device=device)
        flipped = torch.as_tensor(lab.flipped, device=device)
        n_pos = torch.as_tensor(lab.n_pos, dtype=torch.float64, device=device)
    n_neg = lab.n - n_pos
    out = np.empty((chunker.n_features, lab.n_labels))

    def run(block: ColumnBlock) -> None:
        rt, zero_rank, r_sum = _ranked_block_torch(torch, block, device)
        if block.data.size:
            sums = rt @ stored
        else:
            sums = torch.zeros((block.n_cols, lab.n_labels), dtype=torch.float64, device=device)
        sums = torch.where(flipped[None, :], r_sum[:, None] - sums, sums)
        sums += zero_rank[:, None] * n_pos[None, :]
        auc = (sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        auc[:, (n_pos == 0) | (n_neg == 0)] = 0.5
        out[block.f0 : block.f1] = auc.cpu().numpy()

    width = chunker.n_features  # features per piece that fit so far
    for block in chunker:
        batch = HalvingBatch(min(width, block.n_cols), what="AUROC feature block (features)")
        batch.chunks(
            block.n_cols,
            lambda a, b: run(_columns(block, a, b)),
            lambda a, b, exc: oom_error(
                f"one feature with {int(block.indptr[a + 1] - block.indptr[a]):,} nonzeros over {lab.n:,} tokens",
                exc,
                halved_from=batch.initial,
                fix=fix,
            ),
        )
        if batch.halvings:
            width = batch.size
    return out


SHIFT_BINS_TORCH = 1 << 25  # (shift, column, pattern) float64 bins per device bincount: 256 MB
SHIFT_ENTRIES_TORCH = 1 << 25  # (shift, nonzero) keys per device bincount: 256 MB of int64


def shifted_auroc_torch(ranked, patterns, source_ids: np.ndarray, n_pos: np.ndarray, device: str) -> np.ndarray:
    """`RankedCodes.shifted_auroc` with the pattern sums on a torch device: consecutive ranked chunks
    together up to SHIFT_BINS_TORCH (column, pattern) bins, as many shifts per bincount as the bins and
    SHIFT_ENTRIES_TORCH allow; the AUROC formula runs on the host (the numpy path's arithmetic)."""
    import torch

    from dnalens.probe.auroc import auroc_from_sums

    n_s, n_l, n_p = source_ids.shape[1], patterns.table.shape[1], patterns.n_patterns
    out = np.empty((n_s, ranked.n_features, n_l))
    if n_s == 0:
        return out
    table = torch.as_tensor(patterns.table, device=device)
    ids_all = torch.as_tensor(np.ascontiguousarray(source_ids.T), device=device)  # [S, n_rows] int32
    groups, current = [], []
    for rb in ranked.blocks:  # consecutive chunks whose (column, pattern) bins fit one bincount
        if current and (rb.f1 - current[0].f0) * n_p > SHIFT_BINS_TORCH:
            groups.append(current)
            current = []
        current.append(rb)
    groups += [current] if current else []
    for blocks in groups:
        f0, f1 = blocks[0].f0, blocks[-1].f1
        n_f = f1 - f0
        seg = np.concatenate([np.repeat(np.arange(rb.f0, rb.f1) - f0, np.diff(rb.indptr)) for rb in blocks])
        rows = torch.as_tensor(np.concatenate([rb.rows for rb in blocks]).astype(np.int64), device=device)
        values = torch.as_tensor(np.concatenate([rb.values for rb in blocks]), device=device)
        zero_rank = np.concatenate([rb.zero_rank for rb in blocks])
        seg_t = torch.as_tensor(seg, device=device) * n_p
        group = max(1, min(SHIFT_BINS_TORCH // max(n_f * n_p, 1), SHIFT_ENTRIES_TORCH // max(seg.size, 1)))

        def shifts(a: int, b: int) -> None:  # each shift is summed on its own: splitting changes nothing
            g = b - a
            ids = ids_all[a:b][:, rows].to(torch.int64)  # [g, entries]
            key = (torch.arange(g, device=device)[:, None] * (n_f * n_p) + seg_t[None, :] + ids).reshape(-1)
            per = torch.bincount(key, weights=values.repeat(g), minlength=g * n_f * n_p).reshape(g * n_f, n_p)
            sums = (per @ table).reshape(g, n_f, n_l).cpu().numpy()
            out[a:b, f0:f1] = auroc_from_sums(sums, zero_rank, n_pos[a:b], ranked.n_rows)

        batch = HalvingBatch(group, what="shift-null group (shifts)")
        batch.chunks(
            n_s,
            shifts,
            lambda a, b, exc: oom_error(
                f"one circular shift of {n_f:,} features x {n_p:,} label patterns",
                exc,
                halved_from=batch.initial,
                fix="use probe.device: cpu or a GPU with more memory.",
            ),
        )
    return out
