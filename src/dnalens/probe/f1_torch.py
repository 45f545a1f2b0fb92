"""The torch twin of domain F1 (`f1.domain_f1_curves`; `backend` picks it for a torch device): the same integer counts.

Per column piece: each nonzero's level (thresholds passed, compared in float64 as numpy does), on-tokens
and true positives counted once at their highest level through the label patterns (`torch_shared.pattern_sums`)
and summed over levels ≥ j; instances hit by the run counting of `f1_counts.InstanceRuns.hits` (first
on-token of each run, multi-run instances deduplicated with torch.unique). Counts are integers, exact in
any order, and the best threshold is chosen on the host by `metric_formulas.best_index`, so the curves and the F1
tables equal the numpy path's. CUDA out-of-memory halves the piece's columns (dnalens.oom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnalens.probe.chunks import FeatureChunker
from dnalens.probe.f1_counts import BITMAP_MIN, BITMAP_PER_TOKEN
from dnalens.probe.metric_formulas import F1Curves, best_index
from dnalens.probe.torch_shared import by_columns, cached, column_width, device_patterns, pattern_sums


@dataclass(frozen=True)
class _DeviceRuns:
    """`InstanceRuns` on a device (int64 indices)."""

    indptr: object
    run: object
    run_start: object
    run_concept: object
    run_multi: object
    concept_of_multi: object
    region: object
    starts_here: object
    n_multi: int
    any_region: bool


def _device_runs(torch, runs, device: str) -> _DeviceRuns:
    def make() -> _DeviceRuns:
        as_long = lambda a: torch.as_tensor(np.asarray(a), device=device).to(torch.int64)  # noqa: E731
        return _DeviceRuns(
            as_long(runs.indptr),
            as_long(runs.run),
            as_long(runs.run_start),
            as_long(runs.run_concept),
            as_long(runs.run_multi),
            as_long(runs.concept_of_multi),
            torch.as_tensor(runs.region, device=device),
            torch.as_tensor(runs.starts_here, device=device),
            max(runs.concept_of_multi.size, 1),
            bool(runs.region.any()),
        )

    return cached(runs, ("runs", device), make)


def _from_top(x):
    """Counts at exactly level j+1 → at level ≥ j+1 (reverse cumulative sum over dim 0)."""
    return x.flip(0).cumsum(0).flip(0)


def _region_hits(torch, seg, tok, n_seg: int, n_l: int, r: _DeviceRuns):
    """[n_seg, L] instances of region concepts with ≥ 1 on-token (`InstanceRuns.hits` on the device);
    tokens ascend within each segment and segments are contiguous."""
    device = seg.device
    out = torch.zeros(n_seg * n_l, dtype=torch.int64, device=device)
    if seg.numel() == 0:
        return out.reshape(n_seg, n_l)
    prev = torch.full_like(tok, -1)
    prev[1:] = torch.where(seg[1:] == seg[:-1], tok[:-1], -1)
    keep = (tok - prev != 1) | r.starts_here[tok]  # inside a stretch, only runs starting here are entered
    seg, tok, prev = seg[keep], tok[keep], prev[keep]
    cnt = r.indptr[tok + 1] - r.indptr[tok]
    offset = torch.cumsum(cnt, 0) - cnt
    total = int(cnt.sum())
    pos = torch.repeat_interleave(r.indptr[tok] - offset, cnt, output_size=total)
    pos += torch.arange(total, device=device)
    run = r.run[pos]
    first = torch.repeat_interleave(prev, cnt, output_size=total) < r.run_start[run]  # previous on-token first
    seg_e = torch.repeat_interleave(seg, cnt, output_size=total)
    multi = r.run_multi[run]
    one = first & (multi < 0)  # masks as weights: no compaction of the expanded entries (exact counts)
    key = seg_e * n_l + r.run_concept[run]
    out += torch.round(torch.bincount(key, weights=one.to(torch.float64), minlength=n_seg * n_l)).to(torch.int64)
    several = first & (multi >= 0)
    if bool(several.any()):  # multi-run instances: each (segment, instance) once, by bitmap when small
        keys = (seg_e * r.n_multi + multi)[several]
        if n_seg * r.n_multi <= max(BITMAP_PER_TOKEN * keys.numel(), BITMAP_MIN):
            seen = torch.zeros(n_seg * r.n_multi, dtype=torch.bool, device=device)
            seen[keys] = True
            keys = torch.nonzero(seen).reshape(-1)
        else:
            keys = torch.unique(keys)
        instance = r.concept_of_multi[keys % r.n_multi]
        out += torch.bincount((keys // r.n_multi) * n_l + instance, minlength=n_seg * n_l)
    return out.reshape(n_seg, n_l)


def domain_f1_curves_torch(chunker: FeatureChunker, prepared, t: np.ndarray, fmax: np.ndarray, device: str):
    """`f1.domain_f1_curves` on `device` (prepared: F1Labels of the chunker's rows; t sorted thresholds;
    fmax [F]); the chunker walks device-sized chunks (`torch_shared.device_chunk_entries`)."""
    import torch

    concepts, runs = prepared.concepts, prepared.runs
    n_t, n_f, n_l = t.size, chunker.n_features, prepared.n_labels
    of_token, table = device_patterns(concepts.patterns, device)
    singles = None if runs.singles is None else device_patterns(runs.singles.patterns, device)
    r = _device_runs(torch, runs, device)
    fmax_t = torch.as_tensor(np.asarray(fmax, np.float64), device=device)
    on = np.zeros((n_t, n_f), np.int32)
    true_pos = np.zeros((n_t, n_f, n_l), np.int32)
    hit = np.zeros((n_t, n_f, n_l), np.int32)
    best = np.zeros((n_f, n_l), np.int64)
    n_p = max(table.shape[0], 0 if singles is None else singles[1].shape[0])

    for block in chunker:

        def run(a: int, b: int, block=block) -> None:
            lo, hi, nc = int(block.indptr[a]), int(block.indptr[b]), b - a
            f0, f1 = block.f0 + a, block.f0 + b
            data = torch.as_tensor(block.data[lo:hi], device=device)
            tok_all = torch.as_tensor(block.rows[lo:hi], device=device).to(torch.int64)
            counts = torch.as_tensor(np.diff(block.indptr[a : b + 1]), device=device)
            cols = torch.repeat_interleave(torch.arange(nc, device=device), counts)
            scale = fmax_t[f0:f1][cols]
            ok = scale > 0
            wide = data.to(torch.float64)  # activation > t · fmax, compared in float64 as numpy does
            level = torch.zeros(data.shape, dtype=torch.int64, device=device)
            for tj in t:
                level += (wide > float(tj) * scale) & ok
            passed = level > 0  # each on-token once, at its highest threshold (column-major segments)
            seg = cols[passed] * n_t + level[passed] - 1
            tok = tok_all[passed]
            n_seg = nc * n_t
            on_t = _from_top(torch.bincount(seg, minlength=n_seg).reshape(nc, n_t).T)
            tp = _level_sums(torch, seg, of_token[tok], n_seg, table, nc, n_t)
            hits = torch.where(r.region[None, None, :], 0, tp)
            if singles is not None:
                hits = hits + _level_sums(torch, seg, singles[0][tok], n_seg, singles[1], nc, n_t)
            if r.any_region and bool(passed.any()):
                for j in range(n_t):
                    mask = level > j
                    hits[j] += _region_hits(torch, cols[mask], tok_all[mask], nc, n_l, r)
            on[:, f0:f1] = on_t.cpu().numpy()
            true_pos[:, f0:f1] = tp.cpu().numpy()
            hit[:, f0:f1] = hits.cpu().numpy()

        by_columns(
            block.n_cols,
            column_width(n_t, n_p),
            run,
            "F1 feature block (features)",
            lambda a, b, block=block: (
                f"one feature with {int(block.indptr[a + 1] - block.indptr[a]):,} nonzeros over {block.n_rows:,} tokens"
            ),
        )
        s = slice(block.f0, block.f1)
        best[s] = best_index(on[:, s], true_pos[:, s], hit[:, s], runs.n_instances)
    return F1Curves(t, on, true_pos, hit, concepts.n_pos, runs.n_instances, best)


def _level_sums(torch, seg, of_token_at, n_seg: int, table, nc: int, n_t: int):
    """[T, nc, L] int64 counts at level ≥ j+1 from (column-major) segment counts at exact levels."""
    exact = pattern_sums(torch, seg, of_token_at, n_seg, table).reshape(nc, n_t, -1).permute(1, 0, 2)
    return _from_top(torch.round(exact).to(torch.int64))
