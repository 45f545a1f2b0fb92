import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.report.hits import (
    HIT_COLUMNS,
    all_hits,
    capped_latents,
    feature_hits,
    hit_cap_header,
    hit_cap_note,
    merge_runs,
    strongest_hits,
    with_header_lines,
)
from dnalens.report.tokens import display_locus, split_circular

from . import synthetic


def test_token_map_positions_follow_read_order_and_wrap():
    tokens = synthetic.token_map()
    # w1 is read on −: its first token is the last base of 5-15
    assert tokens.position[10] == 14 and tokens.position[19] == 5 and tokens.minus[10]
    # w2 wraps the 20 bp origin: offsets 5.. map to bases 0..
    assert list(tokens.position[20:30]) == [15, 16, 17, 18, 19, 0, 1, 2, 3, 4]


def test_hits_match_hand_computed_intervals():
    tokens = synthetic.token_map()
    codes = sp.csc_matrix(synthetic.codes())
    codes.sort_indices()
    hits = feature_hits(codes, 0, tokens, relative_threshold=0.15, feature_max=5.0)
    got = hits[["hit", "contig", "start", "end", "strand", "peak", "activation", "score"]].values.tolist()
    assert got == [
        [1, "chrA", 18, 22, "+", 0, 5.0, 1000],  # wraps the origin; peak on base 0
        [2, "chrA", 13, 15, "-", 14, 4.0, 800],
        [3, "chrA", 2, 6, "+", 3, 3.0, 600],  # w0 run 2-5 merged with w4 run 3-6
    ]  # chrB base 9 (0.5) is under 0.15 × 5


def test_zero_threshold_keeps_every_active_token_and_inactive_feature_has_no_hits():
    tokens = synthetic.token_map()
    codes = sp.csc_matrix(synthetic.codes())
    codes.sort_indices()
    hits = feature_hits(codes, 0, tokens, relative_threshold=0.0, feature_max=5.0)
    assert ("chrB", 9, 10) in set(zip(hits["contig"], hits["start"], hits["end"]))
    assert feature_hits(codes, 2, tokens, 0.0, 0.0).empty


def test_merge_runs_against_brute_force_coverage():
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 200, 60)
    runs = pd.DataFrame(
        {
            "feature": 0,
            "contig_id": 0,
            "minus": False,
            "start": starts,
            "end": starts + rng.integers(1, 8, 60),
            "peak": starts,
            "activation": rng.random(60),
        }
    )
    merged = merge_runs(runs)
    covered = np.zeros(300, bool)
    for s, e in zip(runs["start"], runs["end"]):
        covered[s:e] = True
    edges = np.flatnonzero(np.diff(np.concatenate(([0], covered.astype(int), [0]))))
    expected = list(zip(edges[::2], edges[1::2]))  # maximal covered stretches (book-ended runs join)
    assert sorted(zip(merged["start"], merged["end"])) == expected
    other = runs.assign(feature=1)  # another feature on the same bases never merges with feature 0
    assert len(merge_runs(pd.concat([runs, other]))) == 2 * len(merged)
    for h in merged.itertuples():
        inside = runs[(runs["start"] >= h.start) & (runs["end"] <= h.end)]
        assert h.activation == inside["activation"].max()


def test_circular_helpers():
    assert split_circular(18, 22, 20) == [(18, 20), (0, 2)]
    assert split_circular(3, 6, 20) == [(3, 6)]
    assert display_locus("chrA", 2, 6) == "chrA:3-6"
    assert display_locus("chrA", 18, 22, 20) == "chrA:19-2"


def test_all_hits_equals_per_feature_calls_and_counts():
    tokens = synthetic.token_map()
    codes = sp.csc_matrix(synthetic.codes())
    codes.sort_indices()
    maxima = np.array([5.0, 2.0, 0.0])
    together = all_hits(codes, tokens, np.array([0.15, 0.0, 0.0]), maxima, max_nnz=3)  # several column blocks
    one = feature_hits(codes, 0, tokens, 0.15, 5.0)
    pd.testing.assert_frame_equal(together[together["feature"] == 0].reset_index(drop=True), one)
    assert together[together["feature"] == 1][["contig", "start", "end", "strand", "score"]].values.tolist() == [
        ["chrB", 0, 1, "+", 1000]
    ]
    top = strongest_hits(together)
    assert top.loc[0, "n_hits"] == 3 and top.loc[0, "start"] == 18 and 2 not in top.index


def test_merge_runs_bridges_small_gaps_like_a_brute_force_closing():
    """gap g: two covered stretches with at most g uncovered bases between them become one hit."""
    rng = np.random.default_rng(1)
    for gap in (0, 1, 3):
        starts = rng.integers(0, 400, 80)
        runs = pd.DataFrame(
            {
                "feature": 0,
                "contig_id": 0,
                "minus": rng.random(80) < 0.5,
                "start": starts,
                "end": starts + rng.integers(1, 4, 80),
                "peak": starts,
                "activation": rng.random(80),
            }
        )
        merged = merge_runs(runs, gap)
        for minus in (False, True):
            mine = runs[runs["minus"] == minus]
            covered = np.zeros(500, bool)
            for s, e in zip(mine["start"], mine["end"]):
                covered[s:e] = True
            on = np.flatnonzero(covered)
            stretches, lo = [], on[0]
            for a, b in zip(on[:-1], on[1:]):  # uncovered bases between a and b: b - a - 1
                if b - a - 1 > gap:
                    stretches.append((lo, a + 1))
                    lo = b
            stretches.append((lo, on[-1] + 1))
            got = merged[merged["minus"] == minus]
            assert sorted(zip(got["start"], got["end"])) == stretches, (gap, minus)
            for h in got.itertuples():
                inside = mine[(mine["start"] >= h.start) & (mine["end"] <= h.end)]
                assert h.activation == inside["activation"].max()


def test_hits_two_bases_apart_are_one_hit():
    """On tokens 2 nt apart in one window (MERGE_GAP = 3) form one hit whose peak is the stronger one."""
    tokens = synthetic.token_map()
    dense = np.zeros((synthetic.codes().shape[0], 1))
    dense[0, 0], dense[3, 0] = 1.0, 2.0  # w0 (+): bases 0 and 3, two off bases between
    codes = sp.csc_matrix(dense)
    hits = feature_hits(codes, 0, tokens, relative_threshold=0.1, feature_max=2.0)
    w0 = tokens.windows.iloc[0]
    first = int(w0["start"])
    assert hits[["start", "end", "peak", "activation"]].values.tolist() == [[first, first + 4, first + 3, 2.0]]
    dense[3, 0], dense[5, 0] = 0.0, 2.0  # bases 0 and 5: four off bases between → two hits
    hits = feature_hits(sp.csc_matrix(dense), 0, tokens, relative_threshold=0.1, feature_max=2.0)
    assert sorted(hits[["start", "end"]].values.tolist()) == [[first, first + 1], [first + 5, first + 6]]


def _hits(n_per_feature: dict[int, int]) -> pd.DataFrame:
    rows = [
        (f, h, "chr1", 10 * h, 10 * h + 5, "+", 10 * h + 2, 1.0 / h, 500)
        for f, n in n_per_feature.items()
        for h in range(1, n + 1)
    ]
    return pd.DataFrame(rows, columns=list(HIT_COLUMNS))


def test_hit_cap_note_names_the_cut_latents():
    assert capped_latents({3: 12018, 4: 7397, 5: 10000}, 10000) == {3: 12018}
    note = hit_cap_note({3: 12018, 4: 7397}, 10000)
    assert "each latent's 10,000 strongest hits (report.max_hits_per_feature" in note
    assert note.endswith("cut for 1 of 2 latents: f3 10,000 of 12,018 (83%).")
    assert hit_cap_note({4: 7397}, 10000).endswith("no latent written here has more, so nothing was cut (1 latent).")


def test_gff3_header_states_the_cap_and_tabix_still_reads_it(tmp_path):
    import gzip

    import pysam

    from dnalens.report import tracks

    total = {0: 5, 1: 2}  # latent 0 has 5 hits, the file keeps its 3 strongest
    kept = _hits(total)
    kept = kept[kept["hit"] <= 3]
    chunks = tracks.gff3_chunks(kept, {"chr1": 1000}, {}, {})
    path = tmp_path / "hits.gff3.gz"
    tracks.write_tabix(path, with_header_lines(chunks, hit_cap_header(total, 3)), "gff")
    lines = gzip.open(path, "rt").read().splitlines()
    assert lines[:2] == ["##gff-version 3", "##sequence-region chr1 1 1000"]
    assert lines[2] == (
        "# dnalens hits: hits.gff3.gz and tracks/hits.bed.gz keep each latent's 3 strongest hits "
        "(report.max_hits_per_feature; features.tsv n_hits counts all); cut for 1 of 2 latents: f0 3 of 5 (60%)."
    )
    records = [line for line in lines if not line.startswith("#")]
    assert len(records) == 5  # 3 kept of latent 0 + both of latent 1
    with pysam.TabixFile(str(path)) as tbx:  # the comment does not break the index
        assert len(list(tbx.fetch("chr1", 0, 1000))) == 5
