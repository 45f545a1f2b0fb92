"""RowChunkedArray and PackedLabels read the same values as numpy indexing of the whole arrays."""

from __future__ import annotations

import numpy as np
import pytest

from dnalens.formats.row_chunks import PackedLabels, RowChunkedArray


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(-1, 100, (1000, 7)).astype(np.int32)
    labels = rng.random((1000, 13)) < 0.3
    np.save(tmp_path / "ids.npy", ids)
    np.save(tmp_path / "labels.npy", np.packbits(labels, axis=1))
    return tmp_path, ids, labels, rng.integers(0, 1000, 300)


@pytest.mark.parametrize("chunk_rows", [1, 64, 10**6])
def test_row_chunks_equal_numpy_indexing(arrays, chunk_rows):
    path, ids, _, rows = arrays
    x = RowChunkedArray(path / "ids.npy", chunk_rows=chunk_rows)
    assert x.shape == ids.shape and x.dtype == np.int32
    np.testing.assert_array_equal(x[rows], ids[rows])  # any order, repeats
    np.testing.assert_array_equal(x[rows, 3], ids[rows, 3])
    np.testing.assert_array_equal(x[np.sort(rows), [1, 2]], ids[np.sort(rows)][:, [1, 2]])
    np.testing.assert_array_equal(x[:, 6], ids[:, 6])
    np.testing.assert_array_equal(x[10:500:3], ids[10:500:3])
    np.testing.assert_array_equal(np.asarray(x), ids)
    with pytest.raises(IndexError):
        x.take(np.array([1000]))


def test_packed_labels_unpack_only_what_is_read(arrays):
    path, _, labels, rows = arrays
    for packed in (np.packbits(labels, axis=1), RowChunkedArray(path / "labels.npy", chunk_rows=100)):
        lab = PackedLabels(packed, 13)
        assert lab.shape == (1000, 13)
        np.testing.assert_array_equal(np.asarray(lab), labels)
        np.testing.assert_array_equal(lab[rows], labels[rows])
        np.testing.assert_array_equal(lab[rows, 12], labels[rows, 12])
        np.testing.assert_array_equal(lab[:, 0], labels[:, 0])
        np.testing.assert_array_equal(lab[rows, 2:5], labels[rows, 2:5])
        np.testing.assert_array_equal(lab.sum(axis=0), labels.sum(axis=0))
