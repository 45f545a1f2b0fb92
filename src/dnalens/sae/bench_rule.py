"""The declared choice among SAE variants: bars on train-side metrics, then a ranking, nothing else.

Only train-side columns are read (the rule's metrics are checked when the config is read:
sae/bench_settings.py), so the chosen variant's held-out numbers in the same table stay unbiased. A metric
that was not measured (NaN: no replicate for seed agreement, loss recovered withheld) fails a bar and ranks
last. With no variant clearing the bars nothing is chosen, and choice.json says which bar each one failed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dnalens.sae.bench_settings import RULE_METRICS, ChoiceRule


def failed_bars(row: pd.Series, rule: ChoiceRule) -> list[str]:
    """The bars `row` misses, as `metric value > bar` phrases ([] = eligible)."""
    failed = []
    for metric, bar in rule.at_most.items():
        value = float(row[metric])
        if not value <= bar:  # NaN fails too
            failed.append(f"{metric} {value:.4g} > {bar:g}")
    for metric, bar in rule.at_least.items():
        value = float(row[metric])
        if not value >= bar:
            failed.append(f"{metric} {value:.4g} < {bar:g}")
    return failed


def rank_order(table: pd.DataFrame, rule: ChoiceRule) -> np.ndarray:
    """Row positions, best first: rank_by metrics each in its better direction, NaN last, then table order."""
    keys = [np.arange(len(table))]  # lexsort: last key decides first
    for metric in reversed(rule.rank_by):
        values = table[metric].to_numpy(float)
        better = -values if RULE_METRICS[metric] == "max" else values
        keys.append(np.where(np.isnan(better), np.inf, better))
    return np.lexsort(keys)


def choose(table: pd.DataFrame, rule: ChoiceRule) -> tuple[pd.DataFrame, dict[str, Any]]:
    """`table` (one row per variant) with `eligible`, `rule_rank` (1 = best among the eligible) and `chosen`
    added, and the record written to choice.json."""
    out = table.copy()
    fails = [failed_bars(row, rule) for _, row in out.iterrows()]
    out["eligible"] = [not f for f in fails]
    order = [i for i in rank_order(out, rule) if out["eligible"].iat[i]]
    ranks = np.full(len(out), np.nan)
    ranks[order] = np.arange(1, len(order) + 1)
    out["rule_rank"] = pd.array(ranks, dtype="Int64")
    out["chosen"] = False
    chosen = None
    if order:
        out.iloc[order[0], out.columns.get_loc("chosen")] = True
        chosen = str(out["variant"].iat[order[0]])
    record = {
        "chosen": chosen,
        "rule": {"rank_by": list(rule.rank_by), "at_most": dict(rule.at_most), "at_least": dict(rule.at_least)},
        "ranking": [str(out["variant"].iat[i]) for i in order],
        "ineligible": {str(out["variant"].iat[i]): f for i, f in enumerate(fails) if f},
        "reason": _reason(out, rule, order, chosen),
    }
    return out, record


def _reason(table: pd.DataFrame, rule: ChoiceRule, order: list[int], chosen: str | None) -> str:
    if chosen is None:
        return "no variant meets every bar of the rule (see `ineligible`)"
    best = table.iloc[order[0]]
    values = ", ".join(f"{m} {float(best[m]):.4g}" for m in rule.rank_by)
    return f"{chosen}: first of {len(order)} eligible variant(s) by {values}"
