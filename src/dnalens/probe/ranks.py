"""Tie-aware (average) ranks of each column, computed from its nonzeros only.

In a column of N values with n_neg negatives, n_zero zeros and the rest positive, the zeros share one
average rank, zero_rank = n_neg + (n_zero + 1) / 2; a nonzero's rank is its average rank among the
nonzeros, shifted by n_zero if it is positive. We store R = rank − zero_rank at the nonzeros only, so
for any 0/1 label vector y: Σ_i y_i·rank_i = (Rᵀy) + Σy·zero_rank — a sparse product that never
touches the zeros. All R are multiples of 1/2 below 2^52, so float64 sums of them are exact.

Values with a 16-bit encoding (float16 codes as the buffer stores them, bfloat16) need no sort: a
counting pass over (column, distinct value) bins gives every average rank. Other values take one
np.sort of packed uint64 keys (column | order-preserving float32 bits | entry index) per cache-sized
chunk; float64 values that float32 cannot hold exactly use np.lexsort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.probe.chunks import ColumnBlock


@dataclass(frozen=True)
class RankedBlock:
    """R = rank − zero_rank at the nonzeros of a column block, in CSR layout of Rᵀ [n_cols, n_rows]."""

    f0: int
    f1: int
    n_rows: int
    indptr: np.ndarray
    rows: np.ndarray
    values: np.ndarray  # float64 R
    zero_rank: np.ndarray  # [n_cols]
    r_sum: np.ndarray  # [n_cols] Σ R over the column (for complemented labels)


def float32_keys(values: np.ndarray) -> np.ndarray:
    """uint32 keys with the same order as the float32 values (sign-magnitude → unsigned)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    negative = (bits >> np.uint32(31)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint32(0x80000000))


def half_keys(values: np.ndarray) -> np.ndarray | None:
    """uint16 order-preserving keys when every value has a 16-bit encoding (float16 — the buffer stores
    codes in half precision — or bfloat16, either held in float32); None otherwise."""
    if values.dtype == np.float16:
        bits = np.ascontiguousarray(values).view(np.uint16)
    elif values.dtype == np.float32:
        wide = np.ascontiguousarray(values).view(np.uint32)
        if not (wide & np.uint32(0xFFFF)).any():  # bfloat16
            bits = (wide >> np.uint32(16)).astype(np.uint16)
        else:
            with np.errstate(over="ignore"):
                half = values.astype(np.float16)
            if not np.array_equal(half.astype(np.float32), values):
                return None
            bits = half.view(np.uint16)
    else:
        return None
    negative = (bits >> np.uint16(15)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint16(0x8000))


def _fits_float32(values: np.ndarray) -> bool:
    if values.dtype.itemsize <= 4 and values.dtype.kind == "f":
        return True
    if values.dtype.kind in "iu":
        return bool(values.size == 0 or np.abs(values).max() < 2**24)
    return bool(np.array_equal(values.astype(np.float32).astype(values.dtype), values))


def _counting_positions(cols: np.ndarray, keys16: np.ndarray, n_cols: int) -> np.ndarray | None:
    """Average sorted position by counting (no sort): (column, distinct value) → bin; None if too many bins."""
    present = np.zeros(1 << 16, bool)
    present[keys16] = True
    n_values = int(present.sum())
    if n_cols * n_values > max(4 * keys16.size, 1 << 16):
        return None
    value_rank = np.cumsum(present, dtype=np.int64) - 1
    key = value_rank[keys16]
    key += cols * n_values
    counts = np.bincount(key, minlength=n_cols * n_values)
    ends = np.cumsum(counts)
    tie = counts[key] + 1
    return ends[key] - tie * 0.5


def _sorted_positions(block: ColumnBlock, cols: np.ndarray) -> np.ndarray:
    """Average sorted position by one np.sort of packed (column | value | entry) keys, or lexsort."""
    m = block.data.size
    col_bits = int(block.n_cols - 1).bit_length()
    pos_bits = int(m - 1).bit_length()
    if _fits_float32(block.data) and col_bits + pos_bits <= 32:
        key = cols.astype(np.uint64) << np.uint64(32 + pos_bits)
        key |= float32_keys(block.data).astype(np.uint64) << np.uint64(pos_bits)
        key |= np.arange(m, dtype=np.uint64)
        key.sort()
        order = (key & np.uint64((1 << pos_bits) - 1)).astype(np.intp)
        group = key >> np.uint64(pos_bits)
        new_group = np.empty(m, bool)
        new_group[0] = True
        np.not_equal(group[1:], group[:-1], out=new_group[1:])
    else:
        order = np.lexsort((block.data, cols))
        d, c = block.data[order], cols[order]
        new_group = np.empty(m, bool)
        new_group[0] = True
        new_group[1:] = (d[1:] != d[:-1]) | (c[1:] != c[:-1])
    out = np.empty(m)
    out[order] = average_positions(new_group)
    return out


def average_positions(new_group: np.ndarray) -> np.ndarray:
    """Mean 0-based position of each entry's tie group in a sorted array (first + last) / 2."""
    m = new_group.size
    pos = np.arange(m, dtype=np.int64)
    if new_group.all():
        return pos.astype(np.float64)
    first = np.maximum.accumulate(np.where(new_group, pos, 0))
    ends = np.empty(m, bool)
    ends[-1] = True
    ends[:-1] = new_group[1:]
    last = np.minimum.accumulate(np.where(ends, pos, m)[::-1])[::-1]
    return (first + last) / 2.0


def chunk_positions(block: ColumnBlock) -> np.ndarray:
    """For each entry (block order), its average 0-based position when the block's entries are sorted
    by (column, value): ties share the mean position."""
    cols = block.cols
    if block.data.size == 0:
        return np.zeros(0)
    keys16 = half_keys(block.data)
    if keys16 is not None:
        counted = _counting_positions(cols, keys16, block.n_cols)
        if counted is not None:
            return counted
    return _sorted_positions(block, cols)


def rank_block(block: ColumnBlock) -> RankedBlock:
    """Rᵀ of one column block (see module doc); entries keep the block's (column, row) order."""
    cols = block.cols
    n_zero = block.n_rows - block.counts
    n_neg = np.bincount(cols[block.data < 0], minlength=block.n_cols)
    zero_rank = n_neg + (n_zero + 1) / 2.0
    # rank − zero_rank = (position in column + 1) [+ n_zero if positive] − zero_rank
    offset = 1.0 - block.indptr[:-1] - zero_rank
    values = chunk_positions(block) + offset[cols]
    values += np.where(block.data > 0, n_zero[cols], 0)
    r_sum = np.bincount(cols, weights=values, minlength=block.n_cols)
    rows = block.rows.astype(np.int32) if block.n_rows < 2**31 else block.rows
    indptr = block.indptr.astype(np.int32) if block.data.size < 2**31 else block.indptr
    return RankedBlock(block.f0, block.f1, block.n_rows, indptr, rows, values, zero_rank, r_sum)
