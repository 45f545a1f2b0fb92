"""Feature descriptions: one line per latent from hand-built statistics, every number checked."""

import pandas as pd

from dnalens.report.describe import LatentFacts, concept_words, describe
from dnalens.report.portraits import Portrait, descriptions


def test_codon_position_latent_reads_like_the_brief():
    facts = LatentFacts(
        label="CDS_codon_pos3",
        auroc_test=0.912,
        margin=0.1249,
        annotated=True,
        peak_counts=(10, 50, 30, 10),
        n_peaks=100,
        inside_genes=0.92,
    )
    text = describe(facts)
    assert text == (
        "codon position 3 of CDS (sense strand); annotated (held-out AUROC 0.91, +0.12 over its best "
        "sequence-only baseline); strongest on G/C at its peak base (80 % of its top-100 positions); "
        "92 % of its top-100 positions inside genes"
    )


def test_codon_latent_without_a_gc_preference_says_so():
    even = describe(LatentFacts(label="CDS_codon_pos1_antisense", peak_counts=(50, 45, 55, 50), n_peaks=200))
    assert "no G/C or A/T preference at its peak base (G/C at 50 % of its top-200 positions)" in even
    at = describe(LatentFacts(label="CDS_codon_pos3", peak_counts=(60, 5, 3, 32), n_peaks=100))
    assert "strongest on A/T at its peak base (92 % of its top-100 positions)" in at


def test_verdict_is_honest_about_failing_latents():
    beats = describe(LatentFacts(label="tRNA", auroc_test=0.8, margin=0.08, annotated=False))
    assert "candidate: beats its baseline but fails the annotation rule" in beats and "annotated (" not in beats
    small = describe(LatentFacts(label="tRNA", auroc_test=0.7, margin=0.01, annotated=False))
    assert "not annotated: its margin over the sequence-only baseline is below 0.05" in small and "+0.01" in small
    negative = describe(LatentFacts(label="gene", auroc_test=0.55, margin=-0.2, annotated=False, min_margin=0.05))
    assert "-0.20 over" in negative and "no concept beats" in negative


def test_strand_views_and_edge_cases():
    assert concept_words("CDS_codon_pos1_antisense") == ("codon position 1 of CDS", "antisense")
    assert concept_words("intergenic") == ("intergenic DNA", "unstranded")
    text = describe(LatentFacts(label="CDS_antisense", view="opposite", auroc_test=0.9, margin=0.2, annotated=True))
    assert text.startswith("coding sequence (CDS) (antisense strand, opposite-strand view); annotated")
    assert describe(LatentFacts(label="CDS", fires=False)) == "never fires on this genome (dead latent)"
    assert describe(LatentFacts(label=None)).startswith("no concept label")
    # a dominant peak base is named; otherwise the G/C share; nothing when no peaks were read
    assert "peak base mostly A (70 % of top-10 positions)" in describe(
        LatentFacts(label="promoter", peak_counts=(7, 1, 1, 1), n_peaks=10)
    )
    assert "peak bases 40 % G/C (top-10 positions)" in describe(
        LatentFacts(label="promoter", peak_counts=(3, 2, 2, 3), n_peaks=10)
    )
    assert "peak" not in describe(LatentFacts(label="promoter", peak_counts=(0, 0, 0, 0), n_peaks=0))


def test_descriptions_column_uses_each_latents_own_portrait():
    table = pd.DataFrame(
        {
            "latent": [4, 9],
            "label": ["CDS_codon_pos2", None],
            "view": ["own", "own"],
            "auroc_test": [0.8, float("nan")],
            "margin": [0.1, float("nan")],
            "annotated": [True, False],
            "max_activation": [2.0, 1.0],
        }
    )
    counts = [[0, 0, 0, 0]] * 5 + [[1, 1, 0, 2]] + [[0, 0, 0, 0]] * 5  # middle (peak) column: A1 C1 T2
    found = {4: Portrait(counts=__import__("numpy").array(counts), n_peaks=4, inside_genes=0.5)}
    out = descriptions(table, found, 0.05)
    assert list(out.index) == [0, 1]
    assert "strongest on A/T at its peak base (75 % of its top-4 positions)" in out[0]
    assert "50 % of its top-4 positions inside genes" in out[0]
    assert out[1] == "no concept label (not probed)"
