"""The layer scan (`dnalens layer-scan`, rule layer_scan): dense-probe AUROC per concept per layer, no SAE.

Which layer should the SAE read? The scan runs the model once over a seeded sample of windows (whole windows,
both strands of a stretch together, `layer_scan.tokens` kept tokens), capturing every layer (or the listed
ones) in one pass, and fits the probe stage's dense linear probes on each layer (layer_probes.py). Rows go to
train or held-out blocks by the probe stage's own split: the split is made over every token the genome-wide
buffer will hold (windows.bed with the model's trims) with the probe stage's `make_split`, block size, seed
and tied repeats, and the sample's tokens take their block's side, so the scan holds out the very blocks the
probe stage holds out. Labels are read from the label store, never copied.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.formats.buffer_labels import store_rows
from dnalens.formats.label_store import LabelStore
from dnalens.formats.window_table import Window, read_windows_bed
from dnalens.models.window_pass import kept_tokens, trims
from dnalens.probe.baselines import block_parity
from dnalens.probe.inputs import token_coordinates
from dnalens.probe.layer_probes import ProbeFit, ScanRows, rule_text, scan_layer, with_rule
from dnalens.probe.probes import sample_rows
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.splits import TEST, TRAIN, Split, make_split
from dnalens.settings import schema_defaults

log = logging.getLogger(__name__)
_DEFAULTS = schema_defaults("layer_scan")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class LayerScanSettings:
    """The config's `layer_scan:` block (see the schema for every key)."""

    enabled: bool = _DEFAULTS["enabled"]
    layers: tuple[str, ...] = _DEFAULTS["layers"]
    tokens: int = _DEFAULTS["tokens"]
    fit_tokens: int = _DEFAULTS["fit_tokens"]
    categorical: tuple[str, ...] = _DEFAULTS["categorical"]
    tolerance: float = _DEFAULTS["tolerance"]
    seed: int = _DEFAULTS["seed"]


def scanned_layers(requested: Sequence[str], model_layers: Sequence[str], aliases=()) -> list[str]:
    """The layers to scan in model order (all when none are listed); a layer the model lacks is one error
    naming it and the model's layers."""
    if not requested:
        return list(model_layers)
    known = set(model_layers) | set(aliases)
    missing = [layer for layer in requested if layer not in known]
    if missing:
        shown = ", ".join(model_layers[:40]) + (" …" if len(model_layers) > 40 else "")
        raise InputError(
            f"layer_scan.layers names {', '.join(missing)}, which the model does not have (its layers: {shown}).",
            fix="list layers of this model, or leave layer_scan.layers empty to scan every layer.",
        )
    order = {layer: i for i, layer in enumerate(model_layers)}
    return sorted(dict.fromkeys(requested), key=lambda layer: order.get(layer, len(order)))


def window_table(windows: Sequence[Window], trim: tuple[int, int], rows: np.ndarray | None = None) -> pd.DataFrame:
    """Windows `rows` (default: all) in the buffer's window-table form: windows.bed `row`, coordinates, the
    token range of each window's kept tokens and `read_offset` (the trimmed start)."""
    rows = np.arange(len(windows)) if rows is None else np.asarray(rows, np.int64)
    picked = [windows[r] for r in rows]
    kept = np.array([kept_tokens(w.length, trim) for w in picked], np.int64)
    ends = np.cumsum(kept)
    return pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            "contig": [w.contig for w in picked],
            "start": np.array([w.start for w in picked], np.int64),
            "end": np.array([w.end for w in picked], np.int64),
            "strand": [w.strand for w in picked],
            "token_start": ends - kept,
            "token_end": ends,
            "read_offset": np.full(len(picked), trim[0], np.int64),
        }
    )


def sample_windows(windows: Sequence[Window], trim: tuple[int, int], tokens: int, seed: int) -> np.ndarray:
    """Seeded windows.bed rows holding >= `tokens` kept tokens (all when the genome holds fewer), in table
    order; the windows of one stretch (both strands) are taken together, so a batch reads each stretch once."""
    groups: dict[tuple[str, int, int], list[int]] = {}
    for row, w in enumerate(windows):
        groups.setdefault((w.contig, w.start, w.end), []).append(row)
    stretches = list(groups.values())
    picked, total = [], 0
    for i in np.random.default_rng(seed).permutation(len(stretches)):
        if total >= tokens:
            break
        picked.extend(stretches[i])
        total += sum(kept_tokens(windows[r].length, trim) for r in stretches[i])
    return np.array(sorted(picked), np.int64)


@dataclass(frozen=True)
class GenomeSplit:
    """The probe stage's split of every token the genome-wide buffer holds, and where those tokens are."""

    split: Split
    table: pd.DataFrame  # window_table of every window (token ranges of the genome-wide buffer)
    fold: np.ndarray  # bool [N]: odd genome block (the probe stage's cross-fitting halves)


def genome_split(
    windows: Sequence[Window], trim, contig_lengths: dict[str, int], s: ProbeSettings, duplicate_groups=()
) -> GenomeSplit:
    """The probe stage's split (`make_split`, its settings and tied repeats) of every token the genome-wide
    buffer holds: windows.bed with the model's trims, the buffer's token coordinates."""
    table = window_table(windows, trim)
    contig, position, _, names = token_coordinates(table, contig_lengths)
    split = make_split(
        contig,
        position,
        names,
        contig_lengths,
        block_size=s.block_size,
        test_fraction=s.test_fraction,
        seed=s.seed,
        gap=s.gap,
        duplicate_groups=duplicate_groups,
    )
    return GenomeSplit(split, table, block_parity(contig, position, s.block_size))


@dataclass
class ScanPlan:
    """What the scan reads before the model runs: windows, the label store, the layers and the sample."""

    windows: list[Window]
    store: LabelStore
    adapter: Any
    layers: list[str]
    trim: tuple[int, int]
    rows: np.ndarray  # sampled windows.bed rows
    contig_names: list[str]
    contig_lengths: dict[str, int]
    settings: LayerScanSettings
    probe: ProbeSettings


def plan_layer_scan(
    windows_bed: str | Path, labels_dir: str | Path, model, settings: LayerScanSettings, probe: ProbeSettings
) -> ScanPlan:
    """Open the inputs and check them (the layers against the model, the store against windows.bed) before any
    forward pass; `model` is a loaded adapter."""
    windows = read_windows_bed(windows_bed)
    store = LabelStore.open(labels_dir)
    _check_store_windows(store, windows, windows_bed, labels_dir)
    layers = scanned_layers(settings.layers, list(model.layers), getattr(model, "aliases", {}))
    trim = trims(model.spec)
    lengths = {str(k): int(v) for k, v in store.meta["contigs"].items()}
    rows = sample_windows(windows, trim, settings.tokens, settings.seed)
    names = list(dict.fromkeys(w.contig for w in windows))
    return ScanPlan(windows, store, model, layers, trim, rows, names, lengths, settings, probe)


def _check_store_windows(store: LabelStore, windows: list[Window], windows_bed, labels_dir) -> None:
    rows = np.asarray(store.window_rows, np.int64)
    same = rows.size == len(windows) and all(
        (a.contig, a.start, a.end, a.strand) == (windows[r].contig, windows[r].start, windows[r].end, windows[r].strand)
        for a, r in zip(store.windows, rows)
    )
    if not same:
        raise InputError(
            f"the label store holds other windows than {windows_bed}.",
            path=labels_dir,
            fix="rerun the labels rule on this windows.bed (`dnalens labels --windows ...`).",
        )


def evaluated_concepts(store: LabelStore, min_instances: int) -> list[str]:
    """Binary concepts with >= min_instances instances in the store (tokens for concepts without instance ids),
    as the probe stage evaluates them."""
    out = []
    for c in store.meta["concepts"]:
        count = c.get("instances") if c.get("instances") is not None else c.get("tokens", 0)
        if int(count or 0) >= min_instances:
            out.append(str(c["name"]))
    return out


def model_rows(plan: ScanPlan, fasta) -> dict[str, np.ndarray]:
    """The sampled windows' kept rows per layer (float16 [n, d]), one forward pass per batch for all layers."""
    from dnalens.formats.window_table import window_sequence
    from dnalens.models.window_pass import host_rows

    parts: dict[str, list[np.ndarray]] = {layer: [] for layer in plan.layers}
    batch = max(1, int(plan.adapter.spec.batch_size))
    for i in range(0, plan.rows.size, batch):
        seqs = [window_sequence(fasta, plan.windows[r]) for r in plan.rows[i : i + batch]]
        for layer, x in host_rows(plan.adapter, seqs, plan.layers, plan.trim).items():
            parts[layer].append(x)
    return {layer: np.concatenate(x) for layer, x in parts.items()}


def sample_tokens(genome: GenomeSplit, rows: np.ndarray) -> np.ndarray:
    """Genome-wide buffer rows of the kept tokens of windows.bed `rows`, in sample order."""
    whole = genome.table.iloc[rows]
    spans = [np.arange(a, b, dtype=np.int64) for a, b in zip(whole["token_start"], whole["token_end"])]
    return np.concatenate(spans) if spans else np.zeros(0, np.int64)


def scan_rows(plan: ScanPlan, genome: GenomeSplit) -> tuple[ScanRows, dict[str, str]]:
    """The sample's labels, train and held-out rows and folds; concepts left out, with why."""
    sample = window_table(plan.windows, plan.trim, plan.rows)
    at = sample_tokens(genome, plan.rows)
    side, fold = genome.split.token_side[at], genome.fold[at]
    train = np.flatnonzero(side == TRAIN)
    fit = sample_rows(train, plan.settings.fit_tokens, plan.settings.seed)
    test = np.flatnonzero(side == TEST)
    label_rows = store_rows(sample, plan.store.window_rows, plan.store.window_offsets)
    all_names = plan.store.concept_names
    wanted = evaluated_concepts(plan.store, plan.probe.min_instances)
    labels = plan.store.labels(label_rows)
    skipped = {c: "fewer instances than probe.min_instances" for c in all_names if c not in wanted}
    keep = []
    for name in wanted:
        j = all_names.index(name)
        y_fit, y_test = labels[fit, j], labels[test, j]
        if not (y_fit.any() and not y_fit.all() and y_test.any() and not y_test.all()):
            skipped[name] = "no positives (or no negatives) among the sample's train or held-out tokens"
        else:
            keep.append(j)
    categorical = {}
    for name in plan.settings.categorical:
        if name not in plan.store.categorical_names:
            skipped[name] = "not a categorical concept of this label store"
            continue
        values, classes = plan.store.categorical(name)
        categorical[name] = (np.asarray(values)[label_rows].astype(np.int16), classes)
    rows = ScanRows(labels[:, keep], [all_names[j] for j in keep], fit, test, fold, categorical)
    return rows, skipped


def run_layer_scan(plan: ScanPlan, fasta_path: str | Path, duplicate_groups=()) -> tuple[pd.DataFrame, dict]:
    """The scan table (formats/layer_scan.py LAYER_SCAN_COLUMNS) and its summary (sample, rule, choice)."""
    from dnalens.genome.fasta import open_fasta

    genome = genome_split(plan.windows, plan.trim, plan.contig_lengths, plan.probe, duplicate_groups)
    rows, skipped = scan_rows(plan, genome)
    log.info(
        "layer scan: %d windows, %d tokens (%d fitted, %d held out), %d binary + %d categorical concepts, layers %s",
        plan.rows.size,
        rows.fold.size,
        rows.fit.size,
        rows.test.size,
        len(rows.names),
        len(rows.categorical),
        ", ".join(plan.layers),
    )
    if rows.fit.size == 0 or rows.test.size == 0:
        raise InputError(
            f"the scan's sample has {rows.fit.size} train and {rows.test.size} held-out tokens.",
            fix="raise layer_scan.tokens (or lower probe.block_size) so the sample reaches both sides of the split.",
        )
    acts = model_rows(plan, open_fasta(fasta_path))
    fit = ProbeFit(l2=plan.probe.probe_l2, max_iter=plan.probe.probe_max_iter)
    records = []
    order = {layer: i for i, layer in enumerate(plan.adapter.layers)}
    for layer in plan.layers:
        x = np.asarray(acts.pop(layer), np.float32)
        for record in scan_layer(x, rows, fit):
            records.append({"layer": layer, "layer_index": order.get(layer, -1), **record})
        log.info("layer %s scanned", layer)
    table, means, chosen = with_rule(pd.DataFrame(records), plan.settings.tolerance)
    summary = {
        "rule": rule_text(plan.settings.tolerance),
        "chosen_layer": chosen,
        "layer_mean_auroc_train_cv": {k: (None if not np.isfinite(v) else float(v)) for k, v in means.items()},
        "layers": plan.layers,
        "sample": {
            "windows": int(plan.rows.size),
            "tokens": int(rows.fold.size),
            "fitted_train_tokens": int(rows.fit.size),
            "heldout_tokens": int(rows.test.size),
            "split_blocks": len(genome.split.blocks),
        },
        "concepts": rows.names + list(rows.categorical),
        "skipped": skipped,
        "settings": asdict(plan.settings),
        "probe_settings": {
            k: getattr(plan.probe, k)
            for k in ("block_size", "test_fraction", "seed", "gap", "min_instances", "probe_l2", "probe_max_iter")
        },
    }
    return table, summary
