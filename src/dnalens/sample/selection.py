"""The SAE-training sample: a seeded choice of windows spread over the genome, the only windows whose dense
activations reach the disk (the fused path encodes every window on the model's device).

Size: enough kept tokens for `sae.tokens` training rows (a strand-shared SAE reads two per-strand states
per row) once the held-out share (`sae.holdout_fraction`) is set aside, so training reads each sampled
token about once. Both strands of a genomic window are taken or left together (a held-out window's
other strand never trains), and the sample keeps windows.bed order, so `sae.data.holdout_mask` still
cuts contiguous, genome-spread blocks out of it. At `extract.sample_coverage` of the genome or more the
whole genome is taken: a 95 % sample saves little and would cost the dense probe its rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from dnalens.atomic import write_text
from dnalens.settings import check_section, schema_defaults


def sample_size(sae: Mapping[str, Any]) -> dict[str, Any]:
    """The `sae:` keys that size the sample (tokens, holdout_fraction, strand_shared, seed) as plain values,
    schema defaults filled in; the block is checked against the schema here, so the sample stage imports no sae code."""
    check_section("sae", sae, where="sae settings")
    values = {**schema_defaults("sae"), **sae}
    return {key: values[key] for key in ("tokens", "holdout_fraction", "strand_shared", "seed")}


def rows_needed(tokens: int, holdout_fraction: float, strand_shared: bool) -> int:
    """Kept tokens (rows) the sample must hold for `tokens` training rows (states) after the held-out share."""
    rows = tokens / 2 if strand_shared else tokens
    return int(math.ceil(rows / max(1e-9, 1.0 - holdout_fraction)))


def sample_rows(keys: Sequence[tuple], kept: Sequence[int], needed: int, coverage: float, seed: int) -> np.ndarray:
    """Sorted window rows: groups of rows sharing a key (contig, start, end) drawn in a seeded order
    until they hold `needed` kept tokens; every row once that is >= `coverage` of all kept tokens."""
    kept = np.asarray(kept, np.int64)
    if needed >= coverage * kept.sum():
        return np.arange(kept.size)
    groups: dict[tuple, list[int]] = {}
    for row, key in enumerate(keys):
        groups.setdefault(tuple(key), []).append(row)
    members = list(groups.values())
    order = np.random.default_rng(seed).permutation(len(members))
    taken, total = [], 0
    for g in order:
        taken.extend(members[g])
        total += int(kept[members[g]].sum())
        if total >= needed:
            break
    return np.sort(np.asarray(taken, np.int64))


def write_sample_bed(
    windows_bed: str | Path,
    out: str | Path,
    *,
    trim: tuple[int, int],
    tokens: int,
    holdout_fraction: float,
    strand_shared: bool,
    coverage: float,
    seed: int,
) -> dict:
    """Write the sample's windows (lines of windows.bed, in its order) to `out`; returns a summary."""
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.models.window_pass import kept_tokens

    windows = read_windows_bed(windows_bed)
    kept = [kept_tokens(w.length, trim) for w in windows]
    needed = rows_needed(tokens, holdout_fraction, strand_shared)
    rows = sample_rows([(w.contig, w.start, w.end) for w in windows], kept, needed, coverage, seed)
    lines = [
        line + "\n"
        for line in Path(windows_bed).read_text().splitlines()
        if line.strip() and not line.startswith(("#", "track", "browser"))
    ]
    write_text(out, "".join(lines[int(r)] for r in rows))
    sampled = int(np.asarray(kept)[rows].sum()) if rows.size else 0
    return {
        "windows": int(rows.size),
        "of_windows": len(windows),
        "tokens": sampled,
        "of_tokens": int(sum(kept)),
        "needed": needed,
        "whole_genome": bool(rows.size == len(windows)),
    }
