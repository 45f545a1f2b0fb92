"""Discovery candidates on a hand-built annotation: what is cut, merged, kept, ranked, and the GFF3."""

import pandas as pd
import pytest

from dnalens.report.discovery import (
    Chosen,
    candidates_gff3,
    choose_latents,
    family_of,
    find_candidates,
    inside_share,
    nearest_gene,
    subtract,
)
from dnalens.report.hits import HIT_COLUMNS
from dnalens.report.regions import Regions

from .test_tracks import parse_gff3_strict

LENGTHS = {"chr1": 5000, "chr2": 1000}


def regions() -> Regions:
    table = pd.DataFrame(
        [
            ("chr1", "gene", 100, 400, "+", "abcA", "g1", "ABC transporter"),
            ("chr1", "CDS", 100, 400, "+", "abcA", "c1", "ABC transporter"),
            ("chr1", "gene", 3000, 3300, "-", "", "g2", ""),
            ("chr1", "tRNA", 4000, 4076, "+", "trnA", "t1", "tRNA-Ala"),
        ],
        columns=["contig", "type", "start", "end", "strand", "name", "id", "product"],
    )
    return Regions(table, LENGTHS)


def hits(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["feature", "contig", "start", "end", "strand", "score"])
    return frame.assign(hit=range(1, len(frame) + 1), peak=frame["start"], activation=frame["score"] / 100)[
        list(HIT_COLUMNS)
    ]


CHOSEN = Chosen(
    {5: ("CDS_codon_pos3", "CDS", True), 6: ("CDS_antisense", "CDS", True), 7: ("tRNA", "tRNA", True)}, annotated=True
)


def test_families():
    assert family_of("CDS_codon_pos2_antisense") == ("CDS", True) and family_of("promoter") == ("promoter", False)
    assert family_of("intron") == (None, False) and family_of(None) == (None, False)


def test_subtract_intervals():
    assert subtract(0, 100, pd.DataFrame([[10, 20], [50, 60]]).to_numpy()) == [(0, 10), (20, 50), (60, 100)]
    assert subtract(15, 55, pd.DataFrame([[10, 20], [50, 60]]).to_numpy()) == [(20, 50)]
    assert subtract(0, 10, pd.DataFrame([[10, 20]]).to_numpy()[:0]) == [(0, 10)]


def test_candidates_cut_merge_rank():
    h = hits(
        [
            (5, "chr1", 120, 300, "+", 1000),  # inside abcA: not a candidate
            (5, "chr1", 350, 600, "+", 500),  # 400-600 left after cutting abcA: 200 nt
            (5, "chr1", 1000, 1100, "+", 800),  # joined with the next (gap 20 <= 30): 1000-1300
            (6, "chr1", 1120, 1300, "-", 1000),  # antisense label read on −: a + strand candidate
            (5, "chr1", 2000, 2050, "+", 1000),  # 50 nt < 90: too short
            (5, "chr1", 2500, 2700, "+", 100),  # below MIN_HIT_SCORE
            (7, "chr1", 4000, 4070, "+", 900),  # inside the tRNA
            (7, "chr2", 100, 170, "-", 900),  # a tRNA-like run on chr2, 70 nt >= 50
            (9, "chr1", 1500, 1900, "+", 1000),  # not a chosen latent
        ]
    )
    out = find_candidates(h, CHOSEN, regions())
    got = out[["contig", "start", "end", "strand", "family", "latents", "n_hits"]].values.tolist()
    assert got == [
        ["chr1", 1000, 1300, "+", "CDS", "5,6", 2],
        ["chr1", 400, 600, "+", "CDS", "5", 1],
        ["chr2", 100, 170, "-", "tRNA", "7", 1],
    ]
    assert out["score"].tolist() == pytest.approx([0.8 * 100 + 1.0 * 180, 0.5 * 200, 0.9 * 70])
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["nearest_gene"].tolist()[:2] == ["abcA (ABC transporter)"] * 2
    assert out["distance"].tolist() == [600, 0, -1]  # 400-600 touches abcA's end; chr2 has no genes


def test_nearest_gene_and_inside_share():
    assert nearest_gene(regions(), "chr1", 2500, 2600) == ("g2", 400)  # no name: the id
    assert inside_share(["chr1"] * 4 + ["chr2"], [100, 399, 400, 4050, 5], regions()) == pytest.approx(3 / 5)


def test_gff3_header_says_which_latents_and_whether_they_pass():
    h = hits([(5, "chr1", 4800, 5000, "+", 1000)])
    out = find_candidates(h, CHOSEN, regions())
    text = candidates_gff3(out, CHOSEN, LENGTHS, "demo")
    assert "# latents used (all pass the annotation rule): f5 CDS_codon_pos3, f6 CDS_antisense, f7 tRNA" in text
    records = parse_gff3_strict("\n".join(l for l in text.splitlines() if not l.startswith("# ")))
    assert records == [
        {
            "seqid": "chr1",
            "start": 4801,
            "end": 5000,
            "strand": "+",
            "ID": "candidate1",
            "Name": "candidate CDS 1",
            "family": "CDS",
            "latents": "5",
            "n_hits": "1",
            "passes_annotation_rule": "true",
            "nearest_gene": "trnA (tRNA-Ala)",
            "distance": "724",
        }
    ]
    fallback = Chosen({5: ("CDS", "CDS", False)}, annotated=False)
    assert "DID NOT PASS: f5 CDS" in candidates_gff3(out.iloc[:0], fallback, LENGTHS, "demo")


def test_choose_latents_falls_back_to_best_margin_and_says_so():
    table = pd.DataFrame(
        {
            "latent": [0, 1, 2, 3],
            "max_activation": [1.0, 1.0, 0.0, 1.0],
            "annotated": [False, False, False, False],
            "margin": [0.01, 0.04, 0.3, -0.1],
        }
    )
    labels = pd.Series({0: "CDS", 1: "gene_antisense", 2: "CDS", 3: "intron"})
    chosen = choose_latents(table, labels, n_fallback=1)
    assert not chosen.annotated and chosen.latents == {1: ("gene_antisense", "gene", False)}  # 2 never fires
    table.loc[1, "margin"] = -0.01  # no gene-like latent beats its baseline: none is used
    assert choose_latents(table, labels).latents == {0: ("CDS", "CDS", False)}
    table.loc[0, "margin"] = -0.02
    assert choose_latents(table, labels).latents == {}
    assert "no candidates" in candidates_gff3(
        find_candidates(hits([]), Chosen({}, False), regions()), Chosen({}, False), LENGTHS, "demo"
    )
    table.loc[0, "annotated"] = True
    assert choose_latents(table, labels).latents == {0: ("CDS", "CDS", True)}
