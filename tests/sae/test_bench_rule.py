"""The declared choice among SAE variants on hand-built tables: bars, ranking direction, NaN, ties."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnalens.sae.bench_rule import choose
from dnalens.sae.bench_settings import ChoiceRule

RULE = ChoiceRule(
    rank_by=("train_concepts_passing", "train_fvu"),
    at_most={"train_l0_over_d_in": 0.1, "train_dead_fraction": 0.1},
    at_least={},
)


def _table(**columns) -> pd.DataFrame:
    base = {
        "variant": ["a", "b", "c", "d"],
        "train_concepts_passing": [5, 7, 7, 9],
        "train_fvu": [0.10, 0.08, 0.06, 0.01],
        "train_l0_over_d_in": [0.06, 0.06, 0.06, 0.25],  # d: the most concepts, but not sparse
        "train_dead_fraction": [0.0, 0.02, 0.05, 0.0],
    }
    return pd.DataFrame({**base, **columns})


def test_most_concepts_among_the_eligible_then_lowest_fvu():
    table, record = choose(_table(), RULE)
    assert table["eligible"].tolist() == [True, True, True, False]
    assert table["chosen"].tolist() == [False, False, True, False]  # b and c tie on 7 concepts; c has lower FVU
    assert table["rule_rank"].tolist() == [3, 2, 1, pd.NA]
    assert record["chosen"] == "c" and record["ranking"] == ["c", "b", "a"]
    assert record["ineligible"] == {"d": ["train_l0_over_d_in 0.25 > 0.1"]}
    assert record["reason"].startswith("c: first of 3 eligible variant(s) by train_concepts_passing 7")


def test_a_full_tie_goes_to_the_variant_listed_first():
    table, record = choose(_table(train_fvu=[0.1, 0.06, 0.06, 0.01]), RULE)
    assert record["chosen"] == "b"


def test_unmeasured_metrics_fail_bars_and_rank_last():
    rule = ChoiceRule(rank_by=("seed_agreement",), at_most={}, at_least={"train_loss_recovered": 0.5})
    table = _table(seed_agreement=[np.nan, 0.3, 0.2, 0.9], train_loss_recovered=[0.9, 0.9, np.nan, 0.7])
    out, record = choose(table, rule)
    assert out["eligible"].tolist() == [True, True, False, True]
    assert record["ranking"] == ["d", "b", "a"]  # a has no seed agreement (no replicate): last
    assert record["ineligible"] == {"c": ["train_loss_recovered nan < 0.5"]}


def test_nothing_eligible_chooses_nothing():
    out, record = choose(_table(train_dead_fraction=[0.2, 0.2, 0.2, 0.2]), RULE)
    assert not out["chosen"].any() and record["chosen"] is None and record["ranking"] == []
    assert "no variant meets every bar" in record["reason"]
