"""Dense activations of buffer rows, read from the activation shards the buffer's codes came from.

`dnalens encode` writes one code shard per activation shard (same windows, same token offsets) and
`dnalens buffer` appends code shards in order, so buffer row r is row r of the concatenated
activation shards. `ShardRows.open` checks that instead of assuming it: the shards' windows must be
the buffer's windows in order, with the same token count each. Rows are read on demand (a memory map
per shard), so a probe reads its ~50k training rows and streams the held-out rows in batches.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class ShardRows:
    """[N, d] dense rows over activation shards; `take(rows)` → float32."""

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays
        self.starts = np.cumsum([0] + [a.shape[0] for a in arrays])
        self.shape = (int(self.starts[-1]), int(arrays[0].shape[1]) if arrays else 0)
        self.ndim = 2

    @classmethod
    def open(cls, directory: str | Path, windows) -> tuple["ShardRows | None", str]:
        """(rows, "") when the shards line up with the buffer's window table; else (None, why not)."""
        from dnalens.formats.activation_shards import MANIFEST, iter_shards

        directory = Path(directory)
        if not (directory / MANIFEST).exists():
            return None, f"no activation manifest in {directory}"
        arrays, rows, counts = [], [], []
        for meta, arr in iter_shards(directory):
            arrays.append(arr)
            rows.extend(int(w) for w in meta["windows"])
            counts.extend(int(b) - int(a) for a, b in zip(meta["offsets"][:-1], meta["offsets"][1:]))
        want_rows = windows["row"].to_numpy(np.int64)
        want_counts = (windows["token_end"] - windows["token_start"]).to_numpy(np.int64)
        if len(rows) != len(want_rows) or not np.array_equal(rows, want_rows):
            return (
                None,
                f"activation shards in {directory} hold other windows than the buffer ({len(rows)} vs {len(want_rows)})",
            )
        if not np.array_equal(counts, want_counts):
            bad = int(np.flatnonzero(np.asarray(counts) != want_counts)[0])
            return None, (
                f"window row {want_rows[bad]}: {counts[bad]} activation rows in {directory}, "
                f"{want_counts[bad]} buffer rows"
            )
        return cls(arrays), ""

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        out = np.empty((rows.size, self.shape[1]), np.float32)
        shard = np.searchsorted(self.starts, rows, side="right") - 1
        for s in np.unique(shard):
            sel = shard == s
            local = rows[sel] - self.starts[s]
            order = np.argsort(local, kind="stable")  # memory maps read fastest front to back
            block = np.asarray(self.arrays[s][local[order]], np.float32)
            out[np.flatnonzero(sel)[order]] = block
        return out

    def __getitem__(self, rows) -> np.ndarray:
        return self.take(np.arange(self.shape[0])[rows])
