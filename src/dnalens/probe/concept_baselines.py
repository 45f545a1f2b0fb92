"""The sequence-only baselines of a probe run, per concept: the local ones (k-mers, GC, window edge; on a
concept's matched-control rows where it has them) and the matched-context one (`probe.context_baseline`).
Split out of stage.py: the plan is built there, the baselines are read here."""

from __future__ import annotations

import logging
import time

import numpy as np

from dnalens.probe.baselines import BaselineScores, baseline_scores
from dnalens.probe.context_baseline import ContextBaselineSettings, context_baseline_scores, control_context_baseline
from dnalens.probe.controls import control_baselines

log = logging.getLogger(__name__)


def concept_baselines(plan, settings=None, keep=None) -> BaselineScores:
    """Sequence-only baselines of every concept, on the matched controls where a concept has them; with
    `settings`, the matched-context baseline too (`context_baseline`, named "context")."""
    t0 = time.perf_counter()
    ctx, concepts = plan.ctx, plan.concepts
    baselines = baseline_scores(
        ctx.codes, ctx.n_codes, plan.train, plan.test, concepts["train"], concepts["test"], plan.fold[plan.train]
    )
    for c in plan.controls:
        baselines.auroc_train[:, c.column], baselines.auroc_test[:, c.column] = control_baselines(
            c, ctx.codes, ctx.n_codes, plan.fold
        )
    if settings is not None and settings.context_baseline != "none" and plan.reader is not None:
        baselines = with_context_baseline(baselines, plan, settings, keep)
    log.info(
        "baselines %s and %d matched controls: %.1f s",
        ", ".join(ctx.codes) or "none",
        len(plan.controls),
        time.perf_counter() - t0,
    )
    return baselines


def with_context_baseline(baselines: BaselineScores, plan, s, keep=None) -> BaselineScores:
    """`baselines` plus the matched-context baseline as one more row ("context"), on the controls' rows where a
    concept has a control, so the strongest baseline (train-chosen) and every margin can be it."""
    t0 = time.perf_counter()
    cs = ContextBaselineSettings(
        s.context_baseline, s.context_baseline_nt, s.context_baseline_max_tokens, s.probe_l2, s.probe_max_iter, s.seed
    )
    a_train, a_test = context_baseline_scores(
        plan.reader, plan.labels, plan.train, plan.test, plan.fold, cs, keep, plan.names
    )
    for c in plan.controls:
        a_train[c.column], a_test[c.column] = control_context_baseline(
            plan.reader, c.strata_rows, plan.fold, cs, keep, c.name
        )
    log.info("matched-context baseline (%s, ±%d nt): %.1f s", cs.mode, cs.context_nt, time.perf_counter() - t0)
    return BaselineScores(
        baselines.names + ["context"],
        np.vstack([baselines.auroc_train, a_train[None, :]]),
        np.vstack([baselines.auroc_test, a_test[None, :]]),
    )
