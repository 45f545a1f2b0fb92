"""Scatter of the probe stage: `probe_part` jobs score ranges of features, `probe_linear` fits the linear
probes, and the `probe` job gathers them into the same probe directory a single job writes, byte for byte.

Why: the per-feature work (AUROC, shift nulls, domain F1, controls) is a pass over every stored value of
every feature (Evo 2: 32,768 latents); split over jobs a cluster spreads it, and the linear probes (one fit
per input, concept-level) run beside it instead of after it.

What is per part and what is not: a part's features are a run of whole feature blocks of the single job
(`feature_bounds` over the column counts with probe.feature_block_entries, cut where the running count of
stored values is nearest k/parts), so every block is scored by the same code on the same columns as in one
job. A part stores its features' AUROC (train, held-out), raw shift-null draws [S, F_part, L], train-chosen
and held-out domain F1, feature statistics and controlled AUROCs (.npz, no pickle). The split, shifts and
matched controls (`stage.plan_probing`) are concept-level: each job derives them from the same inputs and
settings (a fraction of a second against the feature pass; the gather checks every part's digest of them
against its own). The gather alone pools the nulls of all features per concept (p), runs BH over all pairs
(q), fits the sequence baselines and writes the tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.atomic import atomic_dir, atomic_path
from dnalens.errors import InputError
from dnalens.formats.codes import CodeRows, CsrArrays
from dnalens.formats.feature_columns import (
    FeatureColumns,
    column_counts,
    feature_bounds,
    row_blocks,
    write_feature_major,
)
from dnalens.probe.heldout_scores import read_kept, write_kept
from dnalens.probe.inputs import ProbeInputs
from dnalens.probe.metric_formulas import DomainF1
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import (
    ProbePlan,
    ProbeResult,
    block_scores,
    dense_probe_note,
    linear_probes,
    plan_probing,
    run_probe,
)

log = logging.getLogger(__name__)
FORMAT = "dnalens-probe-part"
LINEAR_TABLE, LINEAR_META = "probes.parquet", "meta.json"
_STATS = ("frequency", "max_activation", "mean_active")


def part_bounds(column_nnz: np.ndarray, block_entries: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous feature ranges [lo, hi), each a run of whole feature blocks (`feature_bounds`),
    cut at the block boundary nearest k/parts of the stored values; more parts than blocks leave some empty."""
    if parts < 1:
        raise InputError(f"probe parts must be at least 1, got {parts}.", fix="set probe.parts >= 1.")
    blocks = feature_bounds(np.asarray(column_nnz, np.int64), block_entries)
    starts = np.array([f0 for f0, _ in blocks] + [blocks[-1][1]], np.int64)
    cum = np.concatenate(([0], np.cumsum(np.asarray(column_nnz, np.int64))))[starts]
    targets = cum[-1] * np.arange(1, parts) / parts
    above = np.minimum(np.searchsorted(cum, targets, side="left"), len(blocks))
    below = np.maximum(above - 1, 0)
    cuts = np.where(targets - cum[below] <= cum[above] - targets, below, above)  # the nearer block boundary
    index = np.maximum.accumulate(np.concatenate(([0], cuts, [len(blocks)])))
    return [(int(starts[a]), int(starts[b])) for a, b in zip(index[:-1], index[1:])]


def _row_major(codes) -> CsrArrays | None:
    """The buffer's row-major codes (memory-mapped) behind a CodeRows; None for in-memory codes."""
    if not isinstance(codes, CodeRows):
        return None
    arrays = {k: np.load(path, mmap_mode="r", allow_pickle=False) for k, path in codes.paths.items()}
    return CsrArrays(arrays["indptr"], arrays["indices"], arrays["values"], codes.n_cols)


def column_nnz(codes) -> np.ndarray:
    """Stored values per feature (what cuts the blocks), without a feature-major copy."""
    arrays = _row_major(codes)
    if arrays is not None:
        return column_counts(row_blocks(arrays), arrays.n_cols)
    return np.diff(sp.csc_matrix(codes).indptr).astype(np.int64)


def _range_shards(arrays: CsrArrays, lo: int, hi: int):
    """Row blocks of `arrays` holding only columns [lo, hi), renumbered from 0."""
    for block in row_blocks(arrays):
        idx = np.asarray(block.indices, np.int64)
        keep = (idx >= lo) & (idx < hi)
        kept = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
        yield CsrArrays(kept[block.indptr], (idx[keep] - lo).astype(np.int32), block.values[keep], hi - lo)


def part_codes(codes, lo: int, hi: int, counts: np.ndarray, directory: str | Path):
    """Columns [lo, hi) numbered from 0: a feature-major copy of only these columns in `directory` (a
    part never transposes the whole buffer), or a CSC slice of in-memory codes."""
    arrays = _row_major(codes)
    if arrays is None:
        return sp.csc_matrix(codes)[:, lo:hi]
    write_feature_major(directory, _range_shards(arrays, lo, hi), counts[lo:hi], arrays.n_rows)
    return FeatureColumns(directory, arrays.n_rows)


def plan_digest(plan: ProbePlan, settings: ProbeSettings, n_features: int) -> str:
    """What every job of one scattered run must share: settings (less `parts`), split, shifts, controls."""
    h = hashlib.sha256()
    fields = {k: v for k, v in dataclasses.asdict(settings).items() if k != "parts"}
    h.update(json.dumps([fields, n_features], sort_keys=True, default=str).encode())
    for a in (plan.train, plan.test, plan.offsets, plan.evaluated):
        h.update(np.ascontiguousarray(a).tobytes())
    for c in plan.controls:
        h.update(f"{c.column} {c.kind}".encode())
        for side in sorted(c.rows):
            for pos, neg in c.rows[side]:
                h.update(np.ascontiguousarray(pos).tobytes() + b"|" + np.ascontiguousarray(neg).tobytes())
    return h.hexdigest()


def _arrays(scores: tuple) -> dict[str, np.ndarray]:
    auroc_train, auroc_test, null, f1_train, f1_test, n_instances_test, stats, controlled = scores
    out = {"auroc_train": auroc_train, "auroc_test": auroc_test, "null": null, "n_instances_test": n_instances_test}
    for side, f1 in (("train", f1_train), ("test", f1_test)):
        out.update({f"f1_{side}.{f.name}": getattr(f1, f.name) for f in dataclasses.fields(DomainF1)})
    out.update(dict(zip(_STATS, stats)))
    out.update({f"controlled.{ci}.{side}": value for (ci, side), value in controlled.items()})
    return out


def _scores(arrays: dict[str, np.ndarray]) -> tuple:
    def f1(side):
        return DomainF1(**{f.name: arrays[f"f1_{side}.{f.name}"] for f in dataclasses.fields(DomainF1)})

    controlled = {}
    for key in arrays:
        if key.startswith("controlled."):
            _, ci, side = key.split(".")
            controlled[(int(ci), side)] = arrays[key]
    stats = tuple(arrays[k] for k in _STATS)
    names = ("auroc_train", "auroc_test", "null")
    return (*(arrays[k] for k in names), f1("train"), f1("test"), arrays["n_instances_test"], stats, controlled)


def run_part(
    inputs: ProbeInputs, settings: ProbeSettings, duplicate_groups, part: int, parts: int, out: str | Path
) -> tuple[int, int]:
    """Score part `part` of `parts` (0-based) and write it to `out` (.npz); returns its feature range."""
    if not 0 <= part < parts:
        raise InputError(f"--part {part} is outside 0..{parts - 1}.", fix="use --part between 0 and --parts - 1.")
    n_features = int(inputs.codes.shape[1])
    plan = plan_probing(inputs, settings, duplicate_groups)
    counts = column_nnz(inputs.codes)
    bounds = part_bounds(counts, settings.feature_block_entries, parts)
    lo, hi = bounds[part]
    if sum(b > a for a, b in bounds) < parts:
        log.warning("%d parts but only %d feature blocks: some parts are empty", parts, sum(b > a for a, b in bounds))
    meta = {"format": FORMAT, "part": part, "parts": parts, "lo": lo, "hi": hi, "n_features": n_features}
    meta["digest"] = plan_digest(plan, settings, n_features)
    arrays = {}
    if hi > lo:
        with tempfile.TemporaryDirectory(prefix="dnalens-probe-part-") as tmp:
            codes = part_codes(inputs.codes, lo, hi, counts, tmp)
            view = dataclasses.replace(inputs, codes=codes, feature_columns=None if sp.issparse(codes) else codes)
            arrays = _arrays(block_scores(view, plan, settings))
    with atomic_path(Path(out)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
    return lo, hi


def read_parts(paths: list[str | Path], plan: ProbePlan, settings: ProbeSettings, n_features: int) -> tuple:
    """The parts' per-feature scores as one single-job `_block_scores` tuple (checked: same plan, every
    feature once, in order)."""
    if not paths:
        raise InputError("no probe parts given.", fix="pass every part-<i>.npz of the probe_part jobs.")
    digest, loaded = plan_digest(plan, settings, n_features), []
    for path in paths:
        if not Path(path).is_file():
            raise InputError("probe part not found.", path=path, fix="run its probe_part job first.")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {}
        if meta.get("format") != FORMAT or meta.get("digest") != digest or meta.get("parts") != len(paths):
            raise InputError(
                "probe part from another run (other inputs, settings or number of parts).",
                path=path,
                fix="rerun the probe_part jobs with this buffer and these settings.",
            )
        loaded.append((meta, arrays))
    loaded.sort(key=lambda item: item[0]["part"])
    at = 0
    for index, (meta, _) in enumerate(loaded):
        if meta["part"] != index or meta["lo"] != at or meta["hi"] < at:
            raise InputError(
                f"the probe parts do not cover features 0..{n_features - 1} once, in order.", path=paths[0]
            )
        at = meta["hi"]
    filled = [arrays for meta, arrays in loaded if meta["hi"] > meta["lo"]]
    if at != n_features or not filled:
        raise InputError(f"the probe parts cover {at} of {n_features} features.", fix="rerun the probe_part jobs.")
    merged = {
        key: filled[0][key]
        if key == "n_instances_test"
        else np.concatenate([a[key] for a in filled], axis=int(key == "null"))
        for key in filled[0]
    }
    return _scores(merged)


def run_linear(inputs: ProbeInputs, settings: ProbeSettings, duplicate_groups, out: str | Path) -> Path:
    """The linear probes alone (rule probe_linear) -> `out`/probes.parquet + meta.json (dense_probe)."""
    plan = plan_probing(inputs, settings, duplicate_groups)
    keep: dict = {}
    table = linear_probes(inputs, plan, settings, keep)
    with atomic_dir(Path(out)) as tmp:
        table.to_parquet(tmp / LINEAR_TABLE, index=False)
        write_kept(keep, tmp)  # the probes' held-out logits: their AUROCs' intervals at the gather
        meta = {
            "dense_probe": dense_probe_note(inputs),
            "digest": plan_digest(plan, settings, int(inputs.codes.shape[1])),
        }
        (tmp / LINEAR_META).write_text(json.dumps(meta))
    return Path(out)


def gather(
    inputs: ProbeInputs, settings: ProbeSettings, duplicate_groups, part_paths: list, linear: str | Path
) -> ProbeResult:
    """The probe directory's result from the parts and the linear-probe job (the single job's numbers)."""
    n_features = int(inputs.codes.shape[1])
    plan = plan_probing(inputs, settings, duplicate_groups)  # once: run_probe is handed it
    scores = read_parts(part_paths, plan, settings, n_features)
    meta_path = Path(linear) / LINEAR_META
    if not meta_path.is_file():
        raise InputError("linear-probe output not found.", path=linear, fix="run the probe_linear job first.")
    meta = json.loads(meta_path.read_text())
    if meta.get("digest") != plan_digest(plan, settings, n_features):
        raise InputError("linear probes from another run.", path=linear, fix="rerun the probe_linear job.")
    table = pd.read_parquet(Path(linear) / LINEAR_TABLE)
    probes = (table, meta["dense_probe"])
    heldout = read_kept(linear)
    return run_probe(inputs, settings, duplicate_groups, plan=plan, scores=scores, probes=probes, heldout=heldout)
