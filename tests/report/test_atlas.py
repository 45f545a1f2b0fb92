"""The atlas across genomes: atlas.tsv (latent × genome), atlas_latents.tsv (patterns) and report.html."""

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
import torch

from dnalens.cli import main
from dnalens.report.atlas import atlas_table, latent_patterns
from dnalens.report.atlas_stage import run_atlas

FLOOR = 1e-4


def _features(rows):
    """A features.tsv as `dnalens report` writes it (the columns the atlas reads, plus one it ignores).
    rows: (latent, label, view, annotated, frequency); the numbers of a pair derive from latent and genome."""
    table = pd.DataFrame(rows, columns=["latent", "label", "view", "annotated", "activation_frequency"])
    table["auroc_test"] = 0.9 + table["latent"] / 100
    table["baseline_auroc_test"] = 0.6
    table["margin"] = table["auroc_test"] - 0.6
    table["q"] = 0.001 * (table["latent"] + 1)
    table["mean_active_activation"] = 2.0 + table["latent"]
    table["max_activation"] = 5.0
    table["top_locus"] = "chr1:1-10"
    return table


# latent: a, b, c → the pattern it must get (floor 1e-4; frequency at the floor does not count as firing)
#   0: CDS in a and b, tRNA in c              → conserved (shared CDS)
#   1: tRNA in b only                          → genome-specific
#   2: rRNA in a, intron in c                  → divergent
#   3: fires in a (1 %), annotated nowhere     → active-unlabelled
#   4: at or below the floor everywhere        → silent
#   5: CDS in a (own view), CDS in b (opposite view) → divergent: different strands
HAND = {
    "a": [
        (0, "CDS", "own", True, 0.2),
        (1, "tRNA", "own", False, 0.001),
        (2, "rRNA", "own", True, 0.01),
        (3, "gene", "own", False, 0.01),
        (4, None, "own", False, 5e-5),
        (5, "CDS", "own", True, 0.05),
    ],
    "b": [
        (0, "CDS", "own", True, 0.3),
        (1, "tRNA", "own", True, 0.002),
        (2, "rRNA", "own", False, 0.0),
        (3, "gene", "own", False, 0.0),
        (4, None, "own", False, 1e-4),
        (5, "CDS", "opposite", True, 0.05),
    ],
    "c": [
        (0, "tRNA", "own", True, 0.1),
        (1, "tRNA", "own", False, 0.0),
        (2, "intron", "own", True, 0.01),
        (3, "gene", "own", False, 0.0),
        (4, None, "own", False, 0.0),
        (5, "CDS", "own", False, 0.05),
    ],
}
EXPECTED = {
    0: ("conserved", "CDS", 3, 3),
    1: ("genome-specific", "", 1, 2),
    2: ("divergent", "", 2, 2),
    3: ("active-unlabelled", "", 0, 1),
    4: ("silent", "", 0, 0),
    5: ("divergent", "", 2, 3),
}  # latent → (pattern, shared_label, n_genomes_annotated, n_genomes_firing)


def _hand_tables():
    return {g: _features(rows).sample(frac=1.0, random_state=1) for g, rows in HAND.items()}  # any row order


def test_patterns_of_a_hand_built_three_genome_case():
    names = ["a", "b", "c"]
    atlas = atlas_table(_hand_tables(), {g: None for g in names}, names, FLOOR)
    assert len(atlas) == 18 and list(atlas["genome"][:3]) == names and list(atlas["latent"][:3]) == [0, 0, 0]
    one = atlas.set_index(["latent", "genome"]).loc[(2, "c")]
    assert (one["label"], one["annotated"], one["frequency"]) == ("intron", True, 0.01)
    assert one["auroc_test"] == pytest.approx(0.92) and one["baseline_auroc_test"] == 0.6
    assert one["margin"] == pytest.approx(0.32) and one["q"] == pytest.approx(0.003)
    assert one["mean_activation"] == 4.0 and one["genome_latent"] == 2 and one["match_cosine"] == 1.0
    latents = latent_patterns(atlas).set_index("latent")
    for latent, (pattern, shared, n_annotated, n_firing) in EXPECTED.items():
        row = latents.loc[latent]
        assert (row["pattern"], row["shared_label"], row["n_genomes_annotated"], row["n_genomes_firing"]) == (
            pattern,
            shared,
            n_annotated,
            n_firing,
        ), latent
        assert row["same_label"] == (pattern == "conserved") and row["n_genomes"] == 3
    assert latents.loc[0, "labels"] == "a: CDS; b: CDS; c: tRNA"
    assert latents.loc[5, "labels"] == "a: CDS; b: CDS (opposite strand)"
    # ordered by pattern: conserved, divergent, genome-specific, active-unlabelled, silent
    assert list(latent_patterns(atlas)["latent"]) == [0, 2, 5, 1, 3, 4]


def _write_hand_case(root, tables=None):
    paths = []
    for genome, table in (tables or _hand_tables()).items():
        (root / genome).mkdir(parents=True)
        table.to_csv(root / genome / "features.tsv", sep="\t", index=False)
        paths.append(root / genome / "features.tsv")
    return paths


def test_cli_writes_tables_parquet_equal_to_tsv_and_a_page_with_links_and_heatmap(tmp_path):
    paths = _write_hand_case(tmp_path)
    out = tmp_path / "summary"
    # one shared dictionary: the same path for every genome, matched by id (the path need not exist: no decoder read)
    args = ["atlas", *map(str, paths), "--sae", *["results/dictionaries/d"] * 3, "--out-dir", str(out)]
    assert main(args + ["--settings", '{"atlas_min_frequency": 0.0001}']) == 0
    for name in ("atlas", "atlas_latents"):
        tsv = pd.read_csv(out / f"{name}.tsv", sep="\t", keep_default_na=False, na_values=["NA"])
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert list(tsv.columns) == list(parquet.columns) and len(tsv) == len(parquet)
        for col in tsv.columns:
            if pd.api.types.is_numeric_dtype(parquet[col]) and not pd.api.types.is_bool_dtype(parquet[col]):
                np.testing.assert_allclose(tsv[col].to_numpy(float), parquet[col].to_numpy(float), rtol=1e-5)
            else:
                assert list(tsv[col].astype(str)) == list(parquet[col].astype(str)), col
    atlas = pd.read_parquet(out / "atlas.parquet")
    assert {"latent", "genome", "frequency", "mean_activation", "label", "auroc_test", "baseline_auroc_test"} <= set(
        atlas.columns
    ) and {"margin", "q", "annotated"} <= set(atlas.columns)
    assert (atlas["genome_latent"] == atlas["latent"]).all() and (atlas["match_cosine"] == 1).all()
    wide = pd.read_csv(out / "features_across_genomes.tsv", sep="\t").set_index("latent")
    assert wide.loc[0, "n_genomes_annotated"] == 3 and list(wide.loc[[0, 5], "b:view"]) == ["own", "opposite"]

    html = (out / "report.html").read_text()
    for genome in "abc":
        assert f'<a href="../{genome}/report.html">{genome}</a>' in html
    assert "compared by id" in html and "decoder cosine" not in html
    assert "Of 6 latents, 1 conserved, 2 divergent, 1 genome-specific, 1 active-unlabelled, 1 silent" in html
    svg = html[html.index('<svg id="atlas-heatmap"') : html.index("</svg>")]
    # rows: latents annotated somewhere, grouped by label (largest group first, then by name): CDS = 0 and 5
    # (5 is divergent, grouped by a's label), rRNA = 2 (divergent, a's label), tRNA = 1
    assert re.findall(r">f(\d+)</text>", svg) == ["0", "5", "2", "1"]
    assert svg.count("<rect") == 4 * 3
    for key in ("CDS", "CDS (opposite strand)", "rRNA", "tRNA", "intron"):  # every colour in the heatmap explained
        assert f"></span>{key}</span>" in html
    assert "f5 in b: CDS (opposite strand) (annotated)" in svg and "f1 in a: tRNA (fires, not annotated)" in svg
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from the network


def test_bad_features_table_is_one_error_and_nothing_written(tmp_path, capsys):
    tables = _hand_tables()
    tables["b"] = tables["b"].drop(columns="q")
    paths = _write_hand_case(tmp_path, tables)
    out = tmp_path / "summary"
    assert main(["atlas", *map(str, paths), "--sae", "d", "d", "d", "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lacks column(s) q" in err and str(paths[1]) in err
    assert not out.exists() or not any(out.iterdir())
    tables = _hand_tables()
    tables["c"] = pd.concat([tables["c"], tables["c"].iloc[[0]]])
    paths = _write_hand_case(tmp_path / "dup", tables)
    assert main(["atlas", *map(str, paths), "--sae", "d", "d", "d", "--out-dir", str(out)]) == 2
    assert "listed twice" in capsys.readouterr().err and not out.exists()


def test_per_genome_saes_are_matched_by_decoder_cosine(tmp_path):
    """Genome b's SAE holds a's decoder rows permuted (and rescaled, with noise): the atlas follows the
    permutation, not the index, and the page says so and shows the cosines."""
    from dnalens.sae.io import save_sae
    from dnalens.sae.topk import TopKSAE

    rng = np.random.default_rng(0)
    n, d = 6, 8
    ref = rng.normal(size=(n, d))
    perm = np.array([3, 0, 5, 1, 2, 4])  # a's latent i is b's latent perm[i]
    other = np.empty_like(ref)
    other[perm] = ref * rng.uniform(0.5, 2.0, size=(n, 1)) + 0.05 * rng.normal(size=(n, d))
    labels = ["CDS", "tRNA", "rRNA", "intron", "exon", "TSS"]
    b_labels = [None] * n
    for i, j in enumerate(perm):
        b_labels[j] = labels[i]
    tables = {
        "a": _features([(i, labels[i], "own", True, 0.01) for i in range(n)]),
        "b": _features([(j, b_labels[j], "own", True, 0.01) for j in range(n)]),
    }
    paths = _write_hand_case(tmp_path, tables)
    for genome, w in (("a", ref), ("b", other)):
        sae = TopKSAE(d, n, k=2)
        with torch.no_grad():
            sae.W_dec.copy_(torch.tensor(w, dtype=torch.float32))
        save_sae(sae, tmp_path / genome / "sae")
    out = tmp_path / "summary"
    counts = run_atlas(paths, ["a", "b"], [tmp_path / "a" / "sae", tmp_path / "b" / "sae"], out, FLOOR)
    assert counts["conserved"] == n  # by index, only latents with perm[i] == i would agree: none here
    atlas = pd.read_parquet(out / "atlas.parquet").set_index(["latent", "genome"])
    cos = ref @ other.T / np.outer(np.linalg.norm(ref, axis=1), np.linalg.norm(other, axis=1))
    for i in range(n):
        assert atlas.loc[(i, "b"), "genome_latent"] == perm[i] and atlas.loc[(i, "b"), "label"] == labels[i]
        assert atlas.loc[(i, "b"), "match_cosine"] == pytest.approx(cos[i, perm[i]], abs=1e-6)
        assert atlas.loc[(i, "b"), "match_cosine"] > 0.9
    html = (out / "report.html").read_text()
    assert "matched one-to-one" in html and 'id="matching"' in html
    assert f"f{perm[0]}, cos {cos[0, perm[0]]:.2g}" in html


def test_atlas_of_two_real_report_outputs(tmp_path):
    """features.tsv written by `run_report` on the mini genome (tests/report/mini_genome.py): feature 0 is
    annotated CDS, 1 CDS_antisense, 2 fires but fails (intron), 3 never fires. Genome b is the same genome
    with feature 1's pair failing: 0 conserved, 1 specific to a, 2 active-unlabelled, 3 silent."""
    from dnalens.report.options import ReportSettings
    from dnalens.report.stage import run_report

    from . import mini_genome

    scores_b = mini_genome.scores()
    scores_b.loc[scores_b["feature"] == 1, "annotated"] = False
    paths = []
    for genome, scores in (("a", mini_genome.scores()), ("b", scores_b)):
        root = tmp_path / genome
        root.mkdir()
        inputs = dataclasses.replace(
            mini_genome.inputs(root), genome=genome, scores=scores, concepts=mini_genome.concepts(scores)
        )
        run_report(inputs, ReportSettings(), root)
        paths.append(root / "features.tsv")
    counts = run_atlas(paths, ["a", "b"], ["sae", "sae"], tmp_path / "summary", FLOOR)
    assert counts == {"conserved": 1, "divergent": 0, "genome-specific": 1, "active-unlabelled": 1, "silent": 1}
    latents = pd.read_parquet(tmp_path / "summary" / "atlas_latents.parquet").set_index("latent")
    assert list(latents["pattern"].sort_index()) == ["conserved", "genome-specific", "active-unlabelled", "silent"]
    assert latents.loc[0, "shared_label"] == "CDS" and latents.loc[1, "labels"] == "a: CDS_antisense"
    atlas = pd.read_parquet(tmp_path / "summary" / "atlas.parquet").set_index(["latent", "genome"])
    assert atlas.loc[(0, "a"), "auroc_test"] == pytest.approx(0.99) and atlas.loc[(0, "a"), "q"] == pytest.approx(0.001)
    assert atlas.loc[(0, "a"), "baseline_auroc_test"] == pytest.approx(0.6)


@pytest.mark.browser
def test_atlas_page_renders_offline_in_chromium(tmp_path):
    from dnalens.report.browser import find_chromium, load_page

    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium); page not rendered")
    paths = _write_hand_case(tmp_path)
    run_atlas(paths, ["a", "b", "c"], ["d", "d", "d"], tmp_path / "summary", FLOOR)
    page = load_page(tmp_path / "summary" / "report.html", binary)
    assert page.console == [] and page.requests == []
    assert 'id="atlas-heatmap"' in page.dom and "Conserved latents (1)" in page.dom


def test_a_latent_without_counterpart_and_a_run_without_annotations():
    """A narrower per-genome SAE leaves reference latent 1 unmatched (−1): an empty row there, counted in no
    genome. Nothing annotated anywhere: no conserved latents and a page that says so instead of a heatmap."""
    from dnalens.report.atlas_page import render_atlas

    x = _features([(0, "CDS", "own", False, 0.01), (1, "tRNA", "own", False, 0.0)])
    y = _features([(0, "CDS", "own", False, 0.0)])
    matches = {"x": None, "y": (np.array([0, -1]), np.array([0.7, np.nan]))}
    atlas = atlas_table({"x": x, "y": y}, matches, ["x", "y"], FLOOR).set_index(["latent", "genome"])
    assert pd.isna(atlas.loc[(1, "y"), "genome_latent"]) and not atlas.loc[(1, "y"), "fires"]
    assert atlas.loc[(1, "y"), "view"] == "" and atlas.loc[(0, "y"), "match_cosine"] == 0.7
    latents = latent_patterns(atlas.reset_index()).set_index("latent")
    assert list(latents.loc[[0, 1], "n_genomes"]) == [2, 1]
    assert list(latents.loc[[0, 1], "pattern"]) == ["active-unlabelled", "silent"]
    assert latents.loc[0, "min_match_cosine"] == 0.7
    html = render_atlas(
        atlas.reset_index(),
        latents.reset_index(),
        ["x", "y"],
        ["../x/report.html", "../y/report.html"],
        dictionary="per-genome SAEs",
        matched_by_cosine=True,
        min_frequency=FLOOR,
    )
    assert "No latent is annotated in any genome." in html and 'id="atlas-heatmap"' not in html
