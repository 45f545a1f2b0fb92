"""The feature-major copy equals scipy's CSC of the row-major codes, whatever the shard cut."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dnalens.errors import InputError
from dnalens.formats.codes import CsrArrays
from dnalens.formats.feature_columns import (
    FeatureColumns,
    column_counts,
    feature_blocks,
    feature_bounds,
    write_feature_major,
)


def _random_csr(n_rows: int, n_features: int, seed: int) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_rows, n_features)) < 0.15, rng.gamma(2.0, 1.0, (n_rows, n_features)), 0.0)
    dense[:, 3] = 0.0  # a feature that never fires
    return sp.csr_matrix(dense.astype(np.float16).astype(np.float32))


def _shards(csr: sp.csr_matrix, cuts: list[int]) -> list[CsrArrays]:
    edges = [0, *cuts, csr.shape[0]]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        part = csr[a:b]
        out.append(
            CsrArrays(
                part.indptr.astype(np.int64), part.indices.astype(np.int32), part.data.astype(np.float16), csr.shape[1]
            )
        )
    return out


@pytest.mark.parametrize("cuts", [[], [1], [7, 8, 40], list(range(1, 60))])
def test_feature_major_equals_scipy_csc(tmp_path, cuts):
    csr = _random_csr(60, 11, seed=len(cuts))
    shards = _shards(csr, cuts)
    write_feature_major(tmp_path, shards, column_counts(shards, 11), 60)
    columns = FeatureColumns(tmp_path, 60)
    expected = sp.csc_matrix(csr.astype(np.float32))
    expected.sort_indices()
    whole = columns.block(0, 11)
    assert (whole != expected).nnz == 0
    np.testing.assert_array_equal(whole.indptr, expected.indptr)
    np.testing.assert_array_equal(whole.indices, expected.indices)
    np.testing.assert_array_equal(np.load(tmp_path / "features.rows.npy"), expected.indices)  # a valid .npy
    for f0, f1 in [(2, 5), (3, 4), (10, 11)]:
        assert (columns.block(f0, f1) != expected[:, f0:f1]).nnz == 0
    picked = columns.columns([9, 0, 9])
    assert (picked != expected[:, [9, 0, 9]]).nnz == 0
    got = sp.hstack([b for _, _, b in columns.blocks(max_entries=20)], format="csc")
    assert (got != expected).nnz == 0


def test_feature_bounds_respect_the_entry_limit():
    nnz = np.array([5, 5, 30, 0, 1, 9, 2])
    bounds = feature_bounds(nnz, 10)
    assert bounds == [(0, 2), (2, 3), (3, 6), (6, 7)]  # a single 30-value column goes alone
    assert feature_bounds(np.zeros(0, int), 10) == [(0, 0)]


def test_in_memory_matrices_give_the_same_blocks():
    csr = _random_csr(30, 9, seed=5)
    pieces = list(feature_blocks(csr, max_entries=15))
    assert [p[:2] for p in pieces] == feature_bounds(np.diff(sp.csc_matrix(csr).indptr), 15)
    assert (sp.hstack([p[2] for p in pieces]) != csr.astype(np.float32)).nnz == 0


def test_a_missing_copy_names_the_rebuild(tmp_path):
    with pytest.raises(InputError, match="dnalens buffer"):
        FeatureColumns(tmp_path, 10)


def test_a_miscount_is_refused(tmp_path):
    csr = _random_csr(20, 6, seed=1)
    shards = _shards(csr, [10])
    counts = column_counts(shards, 6)
    counts[0] -= 1
    with pytest.raises(InputError, match="more values than counted"):
        write_feature_major(tmp_path, shards, counts, 20)


def test_the_one_row_major_copy_gives_columns_on_demand_and_old_copies_still_read(tmp_path):
    """A buffer keeps one copy of the codes (row-major, uint16 indices); the feature-major view is
    transposed into a temporary directory where it is read (removed with it); a buffer written with a
    stored feature-major copy (before) still reads that copy."""
    import gc

    import pandas as pd

    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.feature_columns import column_counts, write_feature_major
    from dnalens.probe.inputs import inputs_from_buffer

    csr = _random_csr(40, 5, seed=2)
    windows = pd.DataFrame(
        {
            "row": [0],
            "contig": "c",
            "start": [0],
            "end": [40],
            "strand": "+",
            "name": ["w"],
            "token_start": [0],
            "token_end": [40],
            "read_offset": [0],
        }
    )
    buffer = ActivationBuffer(
        codes=_shards(csr, [])[0],
        labels_packed=np.zeros((40, 1), np.uint8),
        label_names=["x"],
        instances=np.zeros((40, 0), np.int32),
        instance_names=[],
        windows=windows,
    )
    path = buffer.save(tmp_path / "buffer")
    assert not any(path.glob("features.*")) and np.load(path / "codes.indices.npy").dtype == np.uint16
    opened = ActivationBuffer.open(path)
    columns = opened.feature_columns
    where = columns.path
    assert where.parent != path and (where / "features.rows.npy").is_file()
    assert (columns.block(0, 5) != csr.tocsc()).nnz == 0
    inputs = inputs_from_buffer(path)
    assert (inputs.feature_columns.block(0, 5) != csr.tocsc()).nnz == 0 and (
        inputs.codes.take(np.arange(40)) != csr
    ).nnz == 0
    del opened, columns
    gc.collect()
    assert not where.exists()  # the temporary copy leaves with its reader
    stored = [CsrArrays(csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(np.float16), 5)]
    write_feature_major(path, stored, column_counts(stored, 5), 40)  # a buffer from before: its copy is read
    old = ActivationBuffer.open(path)
    assert old.feature_columns.path == path and (old.feature_columns.block(0, 5) != csr.tocsc()).nnz == 0
