"""One row per finding (twins, identical concepts, controls) and the held-out scores behind each interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import jaccard_score, roc_auc_score

from dnalens.probe.findings import (
    NO_SCORES,
    concept_evidence,
    finding_columns,
    heldout_sets,
    jaccard_matrix,
)
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import plan_probing, run_probe

from .synthetic import frame_inputs, planted_inputs


def _labels(seed=0, n=20_000):
    rng = np.random.default_rng(seed)
    cds = np.zeros(n, bool)
    for s in range(0, n - 900, 1500):
        cds[s : s + 900] = True
    exon = cds.copy()
    exon[np.flatnonzero(cds)[:60]] = False  # Jaccard 1 - 60/|CDS| > 0.99: merged
    trna = np.zeros(n, bool)
    trna[np.flatnonzero(~cds)[:300]] = True
    gene = cds | trna  # ~2.5 % more than CDS: Jaccard < 0.99, kept apart
    base_a = rng.random(n) < 0.3
    cols = {"CDS": cds, "CDS_antisense": cds[::-1], "exon": exon, "exon_antisense": exon[::-1], "gene": gene}
    cols |= {"base_A": base_a, "intergenic": ~gene}
    return list(cols), np.stack(list(cols.values()), axis=1)


def test_jaccard_is_sklearns():
    names, labels = _labels()
    jac = jaccard_matrix(labels)
    for a, b in [(0, 2), (0, 4), (2, 4), (5, 6)]:
        assert jac[a, b] == pytest.approx(jaccard_score(labels[:, a], labels[:, b]), abs=1e-12)


def test_twins_fold_identical_concepts_merge_and_controls_stand_apart():
    names, labels = _labels()
    jac = jaccard_matrix(labels)
    assert jac[0, 2] >= 0.99 > jac[0, 4]  # the rule's two sides
    table = finding_columns(names, jac).set_index("concept")
    assert table.loc["CDS", "twin"] == "CDS_antisense" and table.loc["CDS_antisense", "twin"] == "CDS"
    assert table.loc["CDS", "orientation"] == "sense" and table.loc["exon_antisense", "orientation"] == "antisense"
    assert table.loc["gene", "orientation"] == "unstranded" and table.loc["gene", "twin"] == ""
    assert table.loc["CDS", "members"] == "CDS, exon" and table.loc["exon", "finding"] == "CDS"
    assert table.loc["exon_antisense", "finding"] == "CDS"  # a twin follows its sense concept
    assert table.loc["gene", "members"] == "gene"
    assert table.loc["base_A", "concept_kind"] == "control"
    assert table.loc[["CDS", "gene", "intergenic"], "concept_kind"].eq("biological").all()


def _stratified_auroc(s) -> float:
    """sklearn per stratum, pooled over same-stratum pairs (the probe stage's controlled AUROC)."""
    stratum = np.zeros(s.rows.size, int) if s.stratum is None else s.stratum
    wins = pairs = 0.0
    for k in np.unique(stratum):
        y, x = s.positive[stratum == k], s.scores[stratum == k]
        if y.any() and not y.all():
            wins += y.sum() * (~y).sum() * roc_auc_score(y, x)
            pairs += y.sum() * (~y).sum()
    return wins / pairs if pairs else 0.5


def test_the_heldout_scores_reproduce_the_probe_tables():
    """The scores behind each interval give the table's own AUROC (sklearn on them): the best latent, every
    baseline, on matched controls where the concept has them (stop_codon here)."""
    inputs = frame_inputs()
    settings = ProbeSettings(n_null=0, block_size=3000, probes=False, context_baseline="none")
    plan = plan_probing(inputs, settings)
    concepts = run_probe(inputs, settings, plan=plan).concepts.set_index("concept")
    sets = heldout_sets(
        concepts.reset_index(),
        inputs,
        plan.train,
        plan.test,
        ctx_codes=plan.ctx.codes,
        n_codes=plan.ctx.n_codes,
        controls=plan.controls,
    )
    assert [c.name for c in plan.controls] == ["stop_codon"]
    checked = 0
    for concept, per in sets.items():
        for column, s in per.items():
            assert _stratified_auroc(s) == pytest.approx(concepts.loc[concept, column], abs=1e-9), (concept, column)
            checked += 1
    for concept, per in sets.items():  # every concept: its best latent and every k-mer / GC / edge baseline
        assert {"best_auroc_test", *(f"baseline_{b}_auroc_test" for b in plan.ctx.codes)} <= set(per)
        chosen = f"baseline_{concepts.loc[concept, 'baseline']}_auroc_test"
        assert ("baseline_auroc_test" in per) == (chosen in per)  # the chosen baseline's, when its scores are here
    assert checked >= 5 * (1 + len(plan.ctx.codes))


def test_intervals_surround_the_estimate_and_too_few_gets_a_note():
    inputs, _, _ = planted_inputs()
    settings = ProbeSettings(
        n_null=0, block_size=2000, probes=False, bootstrap_n=100, min_heldout_instances=3, context_baseline="none"
    )
    plan = plan_probing(inputs, settings)
    concepts = run_probe(inputs, settings, plan=plan).concepts
    concepts["dense_probe_auroc"] = 0.9  # an AUROC whose held-out scores are not handed over
    out = concept_evidence(concepts, inputs, plan.train, plan.test, settings).set_index("concept")
    few = out[out["too_few_heldout"]]
    enough = out[~out["too_few_heldout"]]
    assert len(few) and len(enough)
    assert (few["n_heldout_instances"] < 3).all() and (enough["n_heldout_instances"] >= 3).all()
    assert few["best_auroc_test_lo"].isna().all() and few["best_auroc_test"].notna().all()  # the value stays
    assert all(
        n == f"too few held-out instances ({k})"
        for n, k in zip(few["best_auroc_test_note"], few["n_heldout_instances"])
    )
    assert (enough["best_auroc_test_lo"] <= enough["best_auroc_test"]).all()
    assert (enough["best_auroc_test"] <= enough["best_auroc_test_hi"]).all()
    assert (enough["best_auroc_test_hi"] - enough["best_auroc_test_lo"] > 0).all()
    assert (enough["baseline_auroc_test_lo"] == 0.5).all()  # no baseline: chance, no spread
    assert (enough["dense_probe_auroc_note"] == NO_SCORES).all() and enough["dense_probe_auroc_lo"].isna().all()
    again = concept_evidence(concepts, inputs, plan.train, plan.test, settings).set_index("concept")
    assert again["best_auroc_test_lo"].equals(out["best_auroc_test_lo"])  # seeded


def test_the_fitted_claims_keep_scores_that_reproduce_their_aurocs(tmp_path):
    """The dense/SAE probes, the latent group and the matched-context baseline hand their held-out logits to the
    intervals (probe/heldout_scores.py): sklearn on those scores gives the table's own AUROC, every such AUROC gets
    an interval around it, and the scattered run (probe_linear's heldout_scores.npz read at the gather) gives
    the single job's intervals."""
    import dataclasses

    from dnalens.probe.heldout_scores import heldout_sets as kept_sets
    from dnalens.probe.parts import gather, run_linear

    inputs = frame_inputs()
    inputs = dataclasses.replace(inputs, dense=np.asarray(inputs.codes.todense(), np.float32))
    settings = ProbeSettings(
        n_null=0,
        block_size=3000,
        probes=True,
        probe_max_tokens=5000,
        sparse_probe_ks=[1, 2],
        bootstrap_n=50,
        min_heldout_instances=3,
        context_baseline_max_tokens=4000,
    )
    plan = plan_probing(inputs, settings)
    kept: dict = {}
    from dnalens.probe.stage import linear_probes

    linear_probes(inputs, plan, settings, kept)
    concepts = run_probe(inputs, settings, plan=plan).concepts.set_index("concept")
    assert {"dense_probe_auroc", "sae_probe_auroc"} <= set(kept)
    names = list(inputs.label_names)
    for column in ("dense_probe_auroc", "sae_probe_auroc"):
        for concept, s in kept_sets({column: kept[column]}, inputs.labels, names, plan.test).items():
            assert _stratified_auroc(s[column]) == pytest.approx(concepts.loc[concept, column], abs=1e-6)
    checked = 0
    ks = [c for c in concepts.columns if c.startswith("k_sparse_auroc_test_k") and c[-1].isdigit()]
    assert ks
    for column in ("dense_probe_auroc", "sae_probe_auroc", "group_auroc_test", "baseline_context_auroc_test", *ks):
        has = concepts[column].notna() & concepts["evaluated"].astype(bool) & ~concepts["too_few_heldout"]
        for concept in concepts.index[has]:
            lo, hi, value = (concepts.loc[concept, c] for c in (f"{column}_lo", f"{column}_hi", column))
            assert lo <= value + 1e-9 and value <= hi + 1e-9, (concept, column, lo, value, hi)
            checked += 1
    assert checked >= 6
    linear = run_linear(inputs, settings, (), tmp_path / "linear")
    assert (linear / "heldout_scores.npz").is_file()
    from dnalens.probe.parts import run_part

    run_part(inputs, settings, (), 0, 1, tmp_path / "part-0.npz")
    scattered = gather(inputs, settings, (), [tmp_path / "part-0.npz"], linear).concepts.set_index("concept")
    for column in ("dense_probe_auroc_lo", "group_auroc_test_hi", "baseline_context_auroc_test_lo"):
        assert scattered[column].equals(concepts[column]), column
