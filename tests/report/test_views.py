"""A strand-shared SAE: features j and j + d/2 are one latent read from both strands — listed once."""

import dataclasses
import gzip

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import scipy.sparse as sp

from dnalens.formats.probe_dir import SCORE_COLUMNS
from dnalens.report.options import ReportSettings
from dnalens.report.stage import run_report
from dnalens.report.views import Layout, per_latent

from . import mini_genome

L = 4  # latents; features 0..3 own strand, 4..7 the same latents from the opposite strand


def mirrored_codes(win: pd.DataFrame) -> sp.csr_matrix:
    """[own | opposite]: the opposite view of a token is the own view of the same base read on the other
    strand (the mini genome reads every window on both strands)."""
    own = mini_genome.codes(win).toarray()
    opposite = np.zeros_like(own)
    index = {(w.start, w.strand): w.token_start for w in win.itertuples()}
    for w in win.itertuples():
        twin = index[(w.start, "-" if w.strand == "+" else "+")]
        for k in range(100):  # offset k here reads the same base as offset 99 - k on the twin window
            opposite[w.token_start + k] = own[twin + 99 - k]
    return sp.csr_matrix(np.hstack([own, opposite]))


def mirrored_scores() -> tuple[pd.DataFrame, pd.DataFrame]:
    own = mini_genome.scores()
    # the opposite view sees the other strand: sense ↔ antisense; latent 1's opposite view has the larger margin
    opp = own.assign(
        feature=own["feature"] + L,
        concept=own["concept"].map(
            {"CDS": "CDS_antisense", "CDS_antisense": "CDS", "gene": "gene_antisense", "intron": "intron_antisense"}
        ),
    )
    opp.loc[opp["feature"] == 5, ["auroc_test", "margin"]] = [0.99, 0.39]
    opp["best_for_concept"] = False
    scores = pd.concat([own, opp], ignore_index=True).reindex(columns=list(SCORE_COLUMNS))
    labels = pd.DataFrame(
        {
            "feature": range(2 * L),
            "label": ["CDS", "CDS_antisense", "intron", None, "CDS_antisense", "CDS", "intron_antisense", None],
        }
    )
    return scores, labels


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    root = tmp_path_factory.mktemp("results") / "mirror"
    root.mkdir()
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    (root / "annotation.gff3").write_text("##gff-version 3\n")
    base = mini_genome.inputs(root)
    scores, labels = mirrored_scores()
    inputs = dataclasses.replace(
        base, codes=mirrored_codes(base.windows), scores=scores, feature_labels=labels, strand_shared=True
    )
    counts = run_report(inputs, ReportSettings(sequence_flank=40), root)
    return root, counts


def test_mirror_columns_are_exact():
    win = mini_genome.windows()
    codes = mirrored_codes(win).toarray()
    # the opposite view of f0 (sense CDS) fires where f1 (antisense CDS) does: on the same bases
    assert (codes[:, L] > 0).sum() == (codes[:, 1] > 0).sum() == 120


def test_one_row_per_latent_with_both_views(out):
    root, counts = out
    assert counts["features"] == 8 and counts["latents"] == L and counts["annotated"] == 2
    table = pd.read_csv(root / "features.tsv", sep="\t").set_index("latent")
    assert sorted(table.index) == [0, 1, 2, 3]
    assert table.loc[0, "view"] == "own" and table.loc[0, "label"] == "CDS"
    assert table.loc[0, "opposite_label"] == "CDS_antisense" and table.loc[0, "own_margin"] == pytest.approx(0.39)
    # latent 1: both views annotated, the opposite one (CDS read from the other strand) has the larger margin
    assert table.loc[1, "view"] == "opposite" and table.loc[1, "label"] == "CDS"
    assert table.loc[1, "own_label"] == "CDS_antisense" and table.loc[1, "margin"] == pytest.approx(0.39)
    assert not table.loc[2, "annotated"] and table.loc[3, "n_hits"] == 0
    # statistics are the own-strand column's
    assert table.loc[0, "activation_frequency"] == pytest.approx(120 / 1200)
    pairs = pd.read_csv(root / "feature_concepts.tsv", sep="\t")
    assert "feature" not in pairs and set(pairs["latent"]) <= set(range(L))
    assert {(r.latent, r.view, r.concept) for r in pairs[pairs["passes"]].itertuples()} == {
        (0, "own", "CDS"),
        (1, "own", "CDS_antisense"),
        (0, "opposite", "CDS_antisense"),
        (1, "opposite", "CDS"),
    }
    summary = pd.read_csv(root / "concept_summary.tsv", sep="\t").set_index("concept")
    assert summary.loc["CDS", "best_latent"] == 0 and summary.loc["CDS", "best_view"] == "own"


def test_hits_tracks_windows_and_cards_once_per_latent(out):
    root, _ = out
    bed = gzip.decompress((root / "tracks" / "hits.bed.gz").read_bytes()).decode()
    names = [line.split("\t")[3] for line in bed.splitlines()[1:]]
    # never f4..f7; named by what the drawn (own-strand) column shows; f2 is not annotated: no browser files
    assert sorted(set(names)) == ["f0:CDS", "f1:CDS_antisense"]
    assert names.count("f0:CDS") == 1
    gff = gzip.decompress((root / "hits.gff3.gz").read_bytes()).decode()
    assert "latent_label=CDS;view=opposite" in gff and "feature_id=5" not in gff and "feature_id=2" not in gff
    assert sorted(p.name for p in (root / "tracks").glob("*.bw")) == [
        f"f{f}.{s}.bw" for f in (0, 1) for s in ("minus", "plus")
    ]
    bw = pyBigWig.open(str(root / "tracks" / "f0.plus.bw"))
    assert len(bw.intervals("chr1")) == 60
    bw.close()
    top = pd.read_csv(root / "top_windows.tsv", sep="\t")
    assert set(top["latent"]) == {0, 1, 2}
    html = (root / "report.html").read_text()
    assert html.count('<section class="card"') == 2 and 'id="f4"' not in html
    assert "opposite-strand view" in html and "listed once" in html


def test_per_latent_picks_the_annotated_view():
    probe = pd.DataFrame(
        {
            "label": ["a", "b", "c", "d"],
            "annotated": [False, True, False, False],
            "margin": [0.5, 0.1, 0.2, 0.3],
            "threshold": 0.1,
        },
        index=range(4),
    )
    got = per_latent(probe, Layout(4, strand_shared=True))
    assert list(got["view"]) == ["own", "own"]
    assert got.loc[0, "label"] == "a"  # neither view annotated → larger margin (0.5 own vs 0.2 opposite)
    assert got.loc[1, "label"] == "b" and got.loc[1, "annotated"]  # own annotated beats opposite's larger margin
    with pytest.raises(Exception, match="odd width"):
        Layout(5, strand_shared=True)
