"""The report pieces against sklearn and hand counts on a small table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from dnalens.report.variants_view import box_plot_svg, separation_answer, stop_vs_synonymous, switched_off


def _table():
    rng = np.random.default_rng(0)
    n = 40
    csq = ["stop_gained"] * 10 + ["synonymous"] * 20 + ["missense"] * 10
    dll = np.r_[rng.normal(-3, 1, 10), rng.normal(0, 1, 20), rng.normal(-1, 1, 10)]
    return pd.DataFrame(
        {
            "consequence": csq,
            "pos": np.arange(n) * 7_000,
            "delta_ll": dll,
            "codon_usage_score": rng.normal(0, 1, n),
            "kmer5_score": rng.normal(0, 1, n),
            "flips_off": ["3+5"] * 10 + ["5"] * 20 + [""] * 10,
            "top_latents": [f"3:CDS:{-d:.3g};9::0.1" for d in dll],
        }
    )


def test_stop_vs_synonymous_auroc_is_sklearns():
    t = _table()
    got = stop_vs_synonymous(t)
    sub = t[t.consequence.isin(["stop_gained", "synonymous"])]
    expected = roc_auc_score(sub.consequence == "stop_gained", -sub.delta_ll)
    assert got["delta_ll"] == expected and (got["n_stop_gained"], got["n_synonymous"]) == (10, 20)


def test_switched_off_counts_and_answer():
    t = _table()
    off = switched_off(t, {3: "CDS"})
    assert off["stop_gained"] == [(3, "CDS", 10), (5, "", 10)] and off["synonymous"] == [(5, "", 20)]
    assert "missense" not in off
    text, numbers = separation_answer(t)
    sub = t  # every row is non-synonymous (stop_gained, missense) or synonymous
    y = sub.consequence != "synonymous"
    assert numbers["delta_ll"] == roc_auc_score(y, -sub.delta_ll)
    assert numbers["n_nonsynonymous"] == 20 and numbers["best_latent"] in (3, 9)
    assert "beat" in text and f"{numbers['delta_ll']:.3f}" in text
    svg = box_plot_svg(t)
    assert svg.count("<rect") == 3 and "stop_gained (n=10)" in svg
