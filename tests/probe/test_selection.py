"""Every choice is made on train blocks: a feature that is better held out but worse on train is not picked."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dnalens.probe.inputs import ProbeInputs
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.splits import TEST, make_split
from dnalens.probe.stage import run_probe

from .synthetic import intervals

SETTINGS = ProbeSettings(block_size=2000, test_fraction=0.3, n_null=20, min_null_draws=0, probes=False)


def test_best_feature_is_chosen_on_train_blocks():
    rng = np.random.default_rng(3)
    n = 40_000
    motif, _ = intervals(rng, n, 12, 0.03)
    pos = np.arange(n)
    split = make_split(
        np.zeros(n, int),
        pos,
        ["chr"],
        {"chr": n},
        block_size=SETTINGS.block_size,
        test_fraction=SETTINGS.test_fraction,
        seed=SETTINGS.seed,
    )
    held_out = split.token_side == TEST
    # feature 0: strong on train, weaker held out; feature 1: the reverse
    rate = np.where(held_out[:, None], [0.6, 0.95], [0.9, 0.7])
    on = motif[:, None] & (rng.random((n, 2)) < rate)
    on |= rng.random((n, 2)) < 0.002
    values = np.where(on, 1.0 + rng.random((n, 2)), 0.0).astype(np.float32)
    inputs = ProbeInputs(
        codes=sp.csr_matrix(values),
        labels=motif[:, None],
        label_names=["motif"],
        instances=None,
        token_contig=np.zeros(n, int),
        token_position=pos,
        token_minus=np.zeros(n, bool),
        contig_names=["chr"],
        contig_lengths={"chr": n},
    )
    result = run_probe(inputs, SETTINGS)
    fc = result.feature_concept.set_index("feature")
    assert fc.loc[0, "auroc_train"] > fc.loc[1, "auroc_train"]
    assert fc.loc[1, "auroc_test"] > fc.loc[0, "auroc_test"] + 0.1  # held-out selection would pick feature 1
    concepts = result.concepts.set_index("concept")
    assert concepts.loc["motif", "best_feature_auroc"] == 0
    assert abs(concepts.loc["motif", "best_auroc_test"] - fc.loc[0, "auroc_test"]) < 1e-6
    assert fc["best_for_concept"].tolist() == [True, False]
    # no sequence, no windows: chance is the baseline, stated as such
    assert concepts.loc["motif", "baseline"] == "none" and concepts.loc["motif", "baseline_auroc_test"] == 0.5
