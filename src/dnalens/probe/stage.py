"""The probe stage: split → baselines, controls → AUROC (train, held-out, shift nulls) → domain F1 → probes → tables.

`run_probe(inputs, settings)` is pure (arrays in, tables out); `formats.probe_dir.write_probe_dir` writes
results/<genome>/probe/ atomically. The layout of that directory is documented in
docs/ARCHITECTURE.md ("probe") because the report stage reads it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.formats.feature_columns import feature_blocks, feature_bounds
from dnalens.formats.row_chunks import PackedLabels
from dnalens.probe import findings
from dnalens.probe.annotate import (
    ScoreMatrices,
    concepts_table,
    feature_concept_table,
    features_table,
)
from dnalens.probe.backend import auroc_backend, auroc_matrix, domain_f1_curves, feature_statistics, ranked_codes
from dnalens.probe.baseline_columns import with_claim_margins, with_control_columns
from dnalens.probe.baselines import block_parity
from dnalens.probe.concept_baselines import concept_baselines
from dnalens.probe.controls import Control, ControlScorer, plan_controls
from dnalens.probe.f1 import concat_curves, prepare_f1_labels
from dnalens.probe.heldout_scores import heldout_sets, sparse_scores
from dnalens.probe.inputs import ProbeInputs
from dnalens.probe.metric_formulas import best_over_thresholds
from dnalens.probe.nulls import GenomeShift, bh_qvalues, pooled_pvalues, shift_fractions
from dnalens.probe.probe_runs import ProbeRunSettings, run_probes
from dnalens.probe.sequence_context import ContextCodes, ReadSequence, context_codes
from dnalens.probe.settings import ProbeSettings, null_shift_count
from dnalens.probe.splits import Split, make_split
from dnalens.probe.token_concepts import TokenConcepts

log = logging.getLogger(__name__)


@dataclass
class ProbeResult:
    split: Split
    feature_concept: pd.DataFrame
    features: pd.DataFrame
    concepts: pd.DataFrame
    probes: pd.DataFrame
    summary: dict


def _progress(iterable, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=5.0, disable=total < 2)


@dataclass
class ProbePlan:
    """What does not depend on which features are scored: the split, the label views, the shifts and the
    matched controls. Every job of a scattered run (parts.py) computes it from the same inputs, the same way."""

    split: Split
    train: np.ndarray  # sorted token rows of each side
    test: np.ndarray
    labels: object
    concepts: dict[str, TokenConcepts]
    n_instances: np.ndarray
    evaluated: np.ndarray
    offsets: np.ndarray
    ctx: ContextCodes
    fold: np.ndarray
    controls: list[Control]
    untestable: list[Control] = field(default_factory=list)  # motif controls too small to test (stated)
    reader: ReadSequence | None = None  # the genome as tokens read it (matched-context baseline, motif controls)
    names: tuple[str, ...] = ()  # the concepts, in label-column order


def plan_probing(inputs: ProbeInputs, settings: ProbeSettings, duplicate_groups=()) -> ProbePlan:
    s, inp = settings, inputs
    split = make_split(
        inp.token_contig,
        inp.token_position,
        inp.contig_names,
        inp.contig_lengths,
        block_size=s.block_size,
        test_fraction=s.test_fraction,
        seed=s.seed,
        gap=s.gap,
        duplicate_groups=duplicate_groups,
    )
    train, test = split.train_rows, split.test_rows
    log.info("split: %d train / %d test tokens in %d blocks", train.size, test.size, len(split.blocks))
    labels = inp.labels if isinstance(inp.labels, PackedLabels) else np.asarray(inp.labels, bool)
    offsets = shift_fractions(null_shift_count(s, int(inp.codes.shape[1])), seed=s.seed + 1)
    concepts = {
        name: TokenConcepts.from_labels(labels, rows)
        for name, rows in (("train", train), ("test", test), ("all", None))
    }
    n_instances = _instance_counts(labels, inp.instances)
    evaluated = n_instances >= s.min_instances
    ctx = context_codes(
        inp.sequence,
        inp.contig_names,
        inp.token_contig,
        inp.token_position,
        inp.token_minus,
        inp.edge_distance,
        gc_window=s.gc_window,
    )
    fold = block_parity(inp.token_contig, inp.token_position, s.block_size)
    reader = (
        None
        if inp.sequence is None
        else ReadSequence(inp.sequence, list(inp.contig_names), inp.token_contig, inp.token_position, inp.token_minus)
    )
    controls, untestable = plan_controls(
        list(inp.label_names),
        labels,
        inp.categorical,
        ctx.codes.get("kmer3"),
        {"train": train, "test": test},
        evaluated,
        s.control_negatives,
        s.seed,
        reader,
        s.min_control_negatives,
    )
    return ProbePlan(
        split,
        train,
        test,
        labels,
        concepts,
        n_instances,
        evaluated,
        offsets,
        ctx,
        fold,
        controls,
        untestable,
        reader,
        tuple(inp.label_names),
    )


def block_scores(inputs: ProbeInputs, plan: ProbePlan, settings: ProbeSettings) -> tuple:
    """Every per-feature statistic of `inputs`' features (`_block_scores`; a part passes its columns only)."""
    return _block_scores(
        inputs,
        plan.labels,
        plan.concepts,
        plan.train,
        plan.test,
        plan.offsets,
        auroc_backend(settings.device),  # here only: the gather and probe_linear may have no GPU
        settings,
        ControlScorer(plan.controls),
    )


def linear_probes(inputs: ProbeInputs, plan: ProbePlan, settings: ProbeSettings, keep=None) -> pd.DataFrame:
    s = settings
    if not s.probes:
        return pd.DataFrame()
    run = ProbeRunSettings(
        s.probe_max_tokens,
        s.probe_l2,
        s.probe_max_iter,
        s.seed,
        sparse_ks=tuple(s.sparse_probe_ks),
        sparse_max_tokens=s.sparse_probe_max_tokens,
        group_max_k=s.group_max_k,
    )
    return run_probes(inputs, plan.train, plan.test, plan.evaluated, run, fold=plan.fold, keep=keep)


def dense_probe_note(inputs: ProbeInputs) -> str:
    return "none: " + inputs.dense_note if inputs.dense is None else type(inputs.dense).__name__


def run_probe(
    inputs: ProbeInputs,
    settings: ProbeSettings,
    duplicate_groups=(),
    *,
    plan: ProbePlan | None = None,
    scores: tuple | None = None,
    probes: tuple[pd.DataFrame, str] | None = None,
    heldout: dict | None = None,
) -> ProbeResult:
    """The whole stage in one process; a scattered run (parts.py) passes its plan, the gathered per-feature
    `scores` and the linear `probes` (table, dense_probe_note) of their own jobs instead."""
    s, inp = settings, inputs
    plan = plan_probing(inp, s, duplicate_groups) if plan is None else plan
    train, test, offsets, controls, evaluated = plan.train, plan.test, plan.offsets, plan.controls, plan.evaluated
    n_features = int(inp.codes.shape[1])
    kept = dict(heldout or {})  # held-out scores of the fitted claims (heldout_scores.py): their intervals
    baselines = concept_baselines(plan, s, kept)
    scores = block_scores(inp, plan, s) if scores is None else scores
    auroc_train, auroc_test, null, f1_train, f1_test, n_instances_test, (freq, fmax, mean_active), controlled = scores
    p = pooled_pvalues(auroc_test, null) if offsets.size >= 2 else np.full(auroc_test.shape, np.nan)
    p[:, ~evaluated] = np.nan
    q = bh_qvalues(p)
    uncontrolled = auroc_test.copy()
    control_kind = [""] * len(inp.label_names)
    for ci, c in enumerate(controls):  # annotation and the best feature use the controlled AUROC
        auroc_train[:, c.column], auroc_test[:, c.column] = controlled[(ci, "train")], controlled[(ci, "test")]
        control_kind[c.column] = c.negatives or c.kind
    scores = ScoreMatrices(
        concepts=list(inp.label_names),
        auroc_train=auroc_train,
        auroc_test=auroc_test,
        f1_train=f1_train,
        f1_test=f1_test,
        p=p,
        q=q,
        n_instances=plan.n_instances,
        n_positive=plan.concepts["all"].n_pos,
        n_positive_train=plan.concepts["train"].n_pos,
        n_positive_test=plan.concepts["test"].n_pos,
        n_tokens=inp.n_tokens,
        frequency=freq,
        max_activation=fmax,
        mean_active=mean_active,
        n_instances_test=n_instances_test,
        n_test_tokens=int(test.size),
        baselines=baselines,
        control=control_kind,
        auroc_test_uncontrolled=uncontrolled,
    )
    probes, dense_probe = (linear_probes(inp, plan, s, kept), dense_probe_note(inp)) if probes is None else probes
    concepts_out = with_claim_margins(
        with_control_columns(concepts_table(scores, s, probes), controls, plan.untestable)
    )
    # one row per finding (twins, merged members, control concepts) and bootstrap intervals (probe/findings.py)
    if s.probes:
        kept.update(sparse_scores(concepts_out, probes, inp.codes, inp.labels, list(inp.label_names), train, test, s))
    extra = heldout_sets(kept, inp.labels, list(inp.label_names), test)
    concepts_out = findings.concept_evidence(
        concepts_out,
        inp,
        train,
        test,
        s,
        ctx_codes=plan.ctx.codes,
        n_codes=plan.ctx.n_codes,
        controls=controls,
        extra=extra,
    )
    feature_concept = feature_concept_table(scores, s)
    features = features_table(scores, s)
    summary = {
        "n_tokens": inp.n_tokens,
        "n_features": n_features,
        "n_concepts": len(inp.label_names),
        "n_train_tokens": int(train.size),
        "n_test_tokens": int(test.size),
        "n_null_shifts": int(offsets.size),
        "p_value_resolution": 1.0 / (1 + offsets.size * n_features) if offsets.size else None,
        **annotation_summary(feature_concept, features),
        "baselines": list(plan.ctx.codes),
        "controls": {c.name: c.summary() for c in controls},
        "untestable_controls": {c.name: c.summary() for c in plan.untestable},
        "dense_probe": dense_probe,
        # how the run was scattered is no result: a scattered run's directory equals a single job's
        "settings": {k: v for k, v in asdict(s).items() if k != "parts"},
    }
    return ProbeResult(plan.split, feature_concept, features, concepts_out, probes, summary)


def annotation_summary(feature_concept: pd.DataFrame, features: pd.DataFrame) -> dict:
    """Counts for summary.json: annotated pairs, features (label pair annotated), per concept."""
    ann = feature_concept[feature_concept["annotated"]]
    per_concept = ann["concept"].astype(str).value_counts()
    labelled = features[features["annotated"]]["label"].astype(str).value_counts()
    return {
        "n_annotated_pairs": int(len(ann)),
        "n_annotated_features": int(features["annotated"].sum()),
        "n_features_with_an_annotated_pair": int((features["n_annotated_concepts"] > 0).sum()),
        "n_f1_supported_pairs": int(feature_concept["f1_supported"].sum()),
        "annotated_pairs_per_concept": {k: int(v) for k, v in per_concept.items()},
        "annotated_features_per_label": {k: int(v) for k, v in labelled.items()},
    }


def _block_scores(
    inp: ProbeInputs,
    labels: np.ndarray,
    concepts: dict[str, TokenConcepts],
    train: np.ndarray,
    test: np.ndarray,
    offsets: np.ndarray,
    device: str | None,
    s: ProbeSettings,
    control_scorer: ControlScorer,
):
    """AUROC (train, held-out, nulls), F1 (train, held-out) and feature statistics, one block of features
    (~`s.feature_block_entries` values) at a time: the codes are never whole in memory, and labels are
    prepared once per token subset. Returns the [F, L] matrices and the held-out instance counts."""
    n_features, n_labels = int(inp.codes.shape[1]), labels.shape[1]
    train_labels, test_labels, all_labels = concepts["train"], concepts["test"], concepts["all"]
    f1_labels_train = prepare_f1_labels(labels, inp.instances, train, concepts=train_labels)
    f1_labels_test = prepare_f1_labels(labels, inp.instances, test, concepts=test_labels)
    shifter = GenomeShift(inp.token_contig, inp.token_position, inp.token_minus)
    patterns = all_labels.patterns  # per shift: the label pattern each test token takes, once for all blocks
    index_type = np.int32 if inp.n_tokens < np.iinfo(np.int32).max else np.int64
    sources = np.empty((offsets.size, test.size), index_type)  # [shift, held-out token]: the source token
    for i, fraction in enumerate(offsets):
        sources[i] = shifter.sources(test, fraction)
    source_ids = np.ascontiguousarray(patterns.of_token[sources].T)  # its label pattern, [token, shift]
    null_positives = np.stack([patterns.positives(src) for src in sources]) if offsets.size else None
    auroc_train, auroc_test = np.empty((n_features, n_labels)), np.empty((n_features, n_labels))
    null = np.empty((offsets.size, n_features, n_labels), np.float32)
    stats = [np.empty(n_features) for _ in range(3)]
    curves_train, curves_test = [], []
    controlled = {}
    source = inp.feature_columns if inp.feature_columns is not None else sp.csc_matrix(inp.codes)
    blocks = feature_bounds(np.diff(source.indptr), s.feature_block_entries)  # both keep column pointers
    spent = Stopwatch()
    for f0, f1, codes in _progress(feature_blocks(source, s.feature_block_entries), len(blocks), "feature blocks"):
        with spent("statistics"):
            for stat, value in zip(stats, feature_statistics(codes, device)):
                stat[f0:f1] = value
        fmax = stats[1][f0:f1]
        chunk = {"max_chunk_entries": s.chunk_entries, "device": device}  # device None: numpy, else torch
        with spent("auroc"):
            auroc_train[f0:f1] = auroc_matrix(codes, train_labels, rows=train, **chunk)
            ranked_test = ranked_codes(codes, rows=test, **chunk)
            auroc_test[f0:f1] = ranked_test.auroc(test_labels)
        with spent("shift nulls"):
            if offsets.size:
                null[:, f0:f1] = ranked_test.shifted_auroc(all_labels, sources, source_ids, null_positives)
        del ranked_test
        with spent("controls"):
            for key, value in control_scorer.score(codes, s.chunk_entries, device).items():
                controlled.setdefault(key, []).append(value)
        with spent("domain F1"):
            curves_train.append(domain_f1_curves(codes, f1_labels_train, None, s.thresholds, fmax, rows=train, **chunk))
            curves_test.append(domain_f1_curves(codes, f1_labels_test, None, s.thresholds, fmax, rows=test, **chunk))
    log.info("per-feature work: %s", spent.summary())
    f1_train = best_over_thresholds(concat_curves(curves_train))
    test_curves = concat_curves(curves_test)
    f1_test = best_over_thresholds(test_curves, f1_train.threshold_index)
    controlled = {key: np.concatenate(parts) for key, parts in controlled.items()}
    return auroc_train, auroc_test, null, f1_train, f1_test, test_curves.n_instances, tuple(stats), controlled


class Stopwatch:
    """Seconds spent per named part of a loop (logged: where the probe stage's time goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

    def summary(self) -> str:
        return ", ".join(f"{name} {sec:.1f} s" for name, sec in self.seconds.items())


def _instance_counts(labels: np.ndarray, instances: np.ndarray | None) -> np.ndarray:
    """Instances per concept: distinct ids, plus positives without an id (their own instance)."""
    counts = labels.sum(axis=0).astype(np.int64)
    if instances is None:
        return counts
    for lab in range(labels.shape[1]):
        ids = np.asarray(instances[:, lab])
        has = ids >= 0
        if has.any():
            counts[lab] = np.unique(ids[has]).size + int((labels[:, lab] & ~has).sum())
    return counts
