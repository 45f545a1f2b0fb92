import numpy as np
import pandas as pd

from dnalens.report.metagene import metagene_profiles

from . import synthetic


def test_profiles_follow_the_anchor_strand():
    anchors = pd.DataFrame(
        {"contig": ["chrA", "chrA"], "position": [3, 13], "strand": ["+", "-"], "kind": ["start_codon", "stop_codon"]}
    )
    got = metagene_profiles(synthetic.codes(), [0, 2], synthetic.token_map(), anchors, flank=2, max_anchors=10)
    offsets, mean, n = got[0]["start_codon"]
    # + anchor at base 3: w0 holds it nearest its centre; bases 1..5 of w0 carry 0,1,3,2,0
    assert list(offsets) == [-2, -1, 0, 1, 2] and n == 1
    np.testing.assert_allclose(mean, [0, 1, 3, 2, 0])
    # − anchor at base 13: w1 (read on −) has base 13 at read offset 1; offset −2 falls before the window
    offsets, mean, n = got[0]["stop_codon"]
    np.testing.assert_allclose(mean, [np.nan, 4, 1, 0, 0])
    assert np.all(got[2]["start_codon"][1] == 0)


def test_anchor_without_same_strand_window_is_not_counted():
    anchors = pd.DataFrame({"contig": ["chrB"], "position": [5], "strand": ["-"], "kind": ["start_codon"]})
    offsets, mean, n = metagene_profiles(
        synthetic.codes(), [1], synthetic.token_map(), anchors, flank=3, max_anchors=5
    )[1]["start_codon"]
    assert n == 0 and np.isnan(mean).all()
