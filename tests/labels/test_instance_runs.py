"""Run-length encoded instance ids against the dense array they replace (hand-made, with edge runs)."""

import numpy as np
import pytest

from dnalens.formats.instance_runs import RunLengthIds

# 10 tokens x 4 region columns: a run at token 0, a one-token run at the last token, all −1, one run overall
DENSE = np.array(
    [
        [3, -1, -1, 8],
        [3, -1, -1, 8],
        [-1, 5, -1, 8],
        [-1, 5, -1, 8],
        [4, 5, -1, 8],
        [4, -1, -1, 8],
        [4, 6, -1, 8],
        [-1, 6, -1, 8],
        [-1, 6, -1, 8],
        [3, 7, -1, 8],
    ],
    np.int32,
)
# the change points, by hand: (first token, id) per run
RUNS = [
    [(0, 3), (2, -1), (4, 4), (7, -1), (9, 3)],
    [(0, -1), (2, 5), (5, -1), (6, 6), (9, 7)],
    [(0, -1)],
    [(0, 8)],
]


def test_encoding_is_the_hand_computed_change_points():
    runs = RunLengthIds.from_dense(DENSE)
    assert runs.pointers.tolist() == [0, 5, 10, 11, 12] and runs.shape == DENSE.shape
    for r, want in enumerate(RUNS):
        starts, ids = runs.runs(r)
        assert list(zip(starts.tolist(), ids.tolist())) == want
    assert runs.starts.dtype == np.int64 and runs.ids.dtype == np.int32


@pytest.mark.parametrize(
    "rows",
    [
        np.array([9]),  # the one-token run at the end (few rows: binary search)
        np.array([0, 1, 9]),
        np.array([9, 0, 4, 4, 2]),  # unsorted, repeated
        np.arange(10),  # many rows: expand and gather
        np.array([-1, -10]),
        slice(3, 8),
        slice(None, None, -3),
        np.arange(10) % 3 == 0,
    ],
)
def test_every_read_equals_the_dense_array(rows):
    runs = RunLengthIds.from_dense(DENSE)
    np.testing.assert_array_equal(np.asarray(runs), DENSE)
    np.testing.assert_array_equal(runs[rows], DENSE[rows])
    for r in range(DENSE.shape[1]):
        np.testing.assert_array_equal(runs[:, r], DENSE[:, r])
        np.testing.assert_array_equal(runs[rows, r], DENSE[rows, r])
        assert runs[rows, r].dtype == np.int32
    np.testing.assert_array_equal(runs[rows, 1:3], DENSE[rows, 1:3])


def test_out_of_range_rows_raise():
    runs = RunLengthIds.from_dense(DENSE)
    with pytest.raises(IndexError):
        runs[np.array([10]), 0]
    with pytest.raises(IndexError):
        runs[:, 4]


@pytest.mark.parametrize("cuts", [[3], [2, 4, 9], [0, 10], [1, 1, 5]])
def test_concat_merges_runs_across_the_cut_as_encoding_the_whole_would(cuts):
    pieces = np.split(DENSE, cuts)
    merged = RunLengthIds.concat([RunLengthIds.from_dense(p) for p in pieces])
    whole = RunLengthIds.from_dense(DENSE)
    for part in ("pointers", "starts", "ids"):
        np.testing.assert_array_equal(getattr(merged, part), getattr(whole, part))
    assert merged.n_rows == 10


def test_no_tokens_and_no_columns(tmp_path):
    empty = RunLengthIds.from_dense(np.zeros((0, 2), np.int32))
    assert empty.shape == (0, 2) and empty.starts.size == 0 and empty[:, 1].size == 0
    none = RunLengthIds.from_dense(np.zeros((5, 0), np.int32))
    assert np.asarray(none).shape == (5, 0)
    runs = RunLengthIds.from_dense(DENSE)
    runs.save(tmp_path, "instances")
    back = RunLengthIds.load(tmp_path, "instances", 10)
    np.testing.assert_array_equal(np.asarray(back), DENSE)
