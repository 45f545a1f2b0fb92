"""Scatter of the report's per-latent pass: `report_part` jobs each run `stage.latent_passes` on one
range of latents and write it as parquet; `report` reads every part and builds the report.

Why: the pass touches every stored value of every latent (Evo 2: 32,768 latents); split over jobs a
cluster spreads it. Ranges are contiguous and hold about equal numbers of stored values, from the
buffer's column pointers alone, so every job computes the same split without talking to the others.
The rest of the report (tables, tracks, cards) works on the latents that pass and stays in one job.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.errors import InputError
from dnalens.report.inputs import ReportInputs
from dnalens.report.options import ReportSettings
from dnalens.report.stage import PASS_COLUMNS, latent_passes, prepare


def part_ranges(column_nnz: np.ndarray, n_latents: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous ranges [lo, hi) covering latents 0..n_latents-1 (own-strand columns), each cut
    at the latent boundary where the running count of stored values is nearest k/parts of the total;
    some may be empty."""
    if parts < 1:
        raise InputError(f"report parts must be at least 1, got {parts}.", fix="set report.parts >= 1.")
    cum = np.concatenate(([0], np.cumsum(np.asarray(column_nnz, np.int64)[:n_latents])))
    targets = cum[-1] * np.arange(1, parts) / parts
    above = np.minimum(np.searchsorted(cum, targets, side="left"), n_latents)
    below = np.maximum(above - 1, 0)
    cuts = np.where(targets - cum[below] <= cum[above] - targets, below, above)  # the nearer cut
    bounds = np.maximum.accumulate(np.concatenate(([0], cuts, [n_latents])))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def run_part(inputs: ReportInputs, settings: ReportSettings, part: int, parts: int, out: str | Path) -> int:
    """Write part `part` of `parts` (0-based) to `out` (parquet, PASS_COLUMNS); returns its latent count."""
    if not 0 <= part < parts:
        raise InputError(f"--part {part} is outside 0..{parts - 1}.", fix="use --part between 0 and --parts - 1.")
    prep = prepare(inputs, settings)
    lo, hi = part_ranges(np.diff(prep.source.indptr), prep.layout.n_latents, parts)[part]
    frame = latent_passes(prep, inputs, lo, hi)
    with atomic_path(Path(out)) as tmp:
        frame.to_parquet(tmp, index=False)
    return hi - lo


def read_parts(paths: list[str | Path]) -> pd.DataFrame:
    """The parts' rows as one table (stage.check_passes then checks every latent is there once)."""
    frames = []
    for path in paths:
        if not Path(path).is_file():
            raise InputError("report part not found.", path=path, fix="run its report_part job first.")
        frame = pd.read_parquet(path)
        missing = [c for c in PASS_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(
                f"report part lacks column(s) {', '.join(missing)}.",
                path=path,
                fix="rerun the report_part jobs with this dnalens version.",
            )
        frames.append(frame[list(PASS_COLUMNS)])
    if not frames:
        raise InputError("no report parts given.", fix="pass every part-<i>.parquet of the report_part jobs.")
    non_empty = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(non_empty, ignore_index=True)
