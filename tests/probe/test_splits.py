"""Block splits: contiguous, both strands together, repeat copies together; exact-repeat finder."""

from __future__ import annotations

import numpy as np
import pytest

from dnalens.errors import InputError
from dnalens.probe.inputs import token_coordinates
from dnalens.probe.repeats import RepeatCopy, canonical_kmers, find_repeats
from dnalens.probe.splits import EXCLUDED, TEST, TRAIN, make_split, parse_region


def both_strand_tokens(length: int, window: int = 500):
    """Tokens of + and − windows tiling one contig (the − reads reversed), as the window table gives them."""
    import pandas as pd

    rows, tok = [], 0
    for strand in "+-":
        for s in range(0, length, window):
            e = min(s + window, length)
            rows.append(
                {
                    "row": len(rows),
                    "contig": "c",
                    "start": s,
                    "end": e,
                    "strand": strand,
                    "token_start": tok,
                    "token_end": tok + e - s,
                    "read_offset": 0,
                }
            )
            tok += e - s
    return token_coordinates(pd.DataFrame(rows), {"c": length})


def test_token_coordinates_reverse_minus_windows():
    contig, pos, minus, names = both_strand_tokens(1000)
    assert names == ["c"] and contig.max() == 0
    assert pos[:3].tolist() == [0, 1, 2]
    assert pos[1000:1003].tolist() == [499, 498, 497]  # first − window read 3'→5'
    assert minus[1000] and not minus[0]


def test_blocks_are_contiguous_and_strands_agree():
    contig, pos, minus, names = both_strand_tokens(20_000)
    split = make_split(contig, pos, names, {"c": 20_000}, block_size=1000, test_fraction=0.25, seed=3)
    side = split.token_side
    assert set(np.unique(side)) == {TRAIN, TEST}
    plus, minus_side = side[~minus], side[minus]
    by_pos_plus = np.empty(20_000, int)
    by_pos_plus[pos[~minus]] = plus
    by_pos_minus = np.empty(20_000, int)
    by_pos_minus[pos[minus]] = minus_side
    np.testing.assert_array_equal(by_pos_plus, by_pos_minus)  # a region is on one side on both strands
    assert np.all(by_pos_plus.reshape(20, 1000) == by_pos_plus.reshape(20, 1000)[:, :1])  # whole blocks
    assert 0.15 <= (side == TEST).mean() <= 0.35
    again = make_split(contig, pos, names, {"c": 20_000}, block_size=1000, test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(again.token_side, side)  # seeded


def test_duplicate_regions_stay_on_one_side_and_gap_excludes_boundaries():
    pos = np.arange(30_000)
    contig = np.zeros_like(pos)
    groups = [[parse_region("c:2000-4500"), parse_region("c:20,000-22,500")]]
    for seed in range(8):
        split = make_split(
            contig,
            pos,
            ["c"],
            {"c": 30_000},
            block_size=1000,
            test_fraction=0.3,
            seed=seed,
            duplicate_groups=groups,
            gap=100,
        )
        sides = {split.token_side[p] for p in (2000, 3000, 4400, 20_000, 21_000, 22_400)}
        assert len(sides - {EXCLUDED}) == 1
        boundary = np.flatnonzero(np.diff(split.block_side))
        if boundary.size:
            b = (boundary[0] + 1) * 1000
            assert split.token_side[b - 50] == EXCLUDED and split.token_side[b + 50] == EXCLUDED
            assert split.token_side[b + 500] != EXCLUDED


def test_split_errors():
    pos = np.arange(500)
    with pytest.raises(InputError, match="block_size"):
        make_split(np.zeros_like(pos), pos, ["c"], {"c": 500}, block_size=1000, test_fraction=0.2)
    with pytest.raises(InputError):
        parse_region("c:10")


def test_canonical_kmers_are_strand_free():
    seq = "ACGTTGCAAGGCTTAN" * 3
    rc = seq.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]
    k, ok = canonical_kmers(seq, 5)
    k_rc, ok_rc = canonical_kmers(rc, 5)
    assert set(k[ok].tolist()) == set(k_rc[ok_rc].tolist())
    assert not ok[12]  # window over the N


def test_find_repeats_direct_and_inverted():
    rng = np.random.default_rng(0)
    bases = np.array(list("ACGT"))
    unit = "".join(rng.choice(bases, 1500))
    rc = unit.translate(str.maketrans("ACGT", "TGCA"))[::-1]
    filler = lambda m: "".join(rng.choice(bases, m))  # noqa: E731
    seq = filler(3000) + unit + filler(5000) + rc + filler(2000)
    other = filler(1000) + unit + filler(1000)
    pairs = find_repeats({"a": seq, "b": other}, min_length=1000, k=31)
    copies = {(p.contig, p.start // 100) for pair in pairs for p in pair}
    assert ("a", 30) in copies and ("b", 10) in copies
    assert any(p.contig == "a" and 9500 <= p.start < 11000 for pair in pairs for p in pair)  # the inverted copy
    assert find_repeats({"a": filler(20_000)}, min_length=1000) == []
    assert isinstance(pairs[0][0], RepeatCopy)


def test_buffer_rows_map_to_label_store_rows_with_trims():
    """Categorical concepts come from the label store: buffer row → store row must skip trimmed starts."""
    import pandas as pd

    from dnalens.formats.buffer_labels import store_rows
    from dnalens.probe.inputs import widen_instances

    class Store:  # the two arrays store_rows reads
        window_rows = np.array([7, 3, 9])  # windows.bed rows in store order
        window_offsets = np.array([0, 100, 200, 300])

    windows = pd.DataFrame({"row": [3, 9], "token_start": [0, 95], "token_end": [95, 190], "read_offset": [5, 5]})
    rows = store_rows(windows, Store.window_rows, Store.window_offsets)
    assert rows[0] == 105 and rows[94] == 199 and rows[95] == 205 and rows[-1] == 299
    wide = widen_instances(np.array([[4, -1], [5, 6]]), ["b", "d"], ["a", "b", "c", "d"])
    np.testing.assert_array_equal(wide, [[-1, 4, -1, -1], [-1, 5, -1, 6]])
