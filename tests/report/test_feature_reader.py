"""FeatureReader gives the same columns from the buffer's feature-major copy as from a scipy matrix."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dnalens.formats.codes import CsrArrays
from dnalens.formats.feature_columns import FeatureColumns, column_counts, write_feature_major
from dnalens.report.feature_reader import FeatureReader
from dnalens.report.hits import selected_hits

from . import synthetic


def _on_disk(tmp_path, csr: sp.csr_matrix) -> FeatureColumns:
    shard = CsrArrays(
        csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(np.float16), csr.shape[1]
    )
    write_feature_major(tmp_path, [shard], column_counts([shard], csr.shape[1]), csr.shape[0])
    return FeatureColumns(tmp_path, csr.shape[0])


def test_disk_and_memory_columns_agree_and_the_cache_stays_small(tmp_path):
    rng = np.random.default_rng(3)
    dense = np.where(rng.random((80, 9)) < 0.2, rng.integers(1, 50, (80, 9)) / 8, 0.0)  # exact in float16
    csr = sp.csr_matrix(dense.astype(np.float32))
    disk, memory = FeatureReader(_on_disk(tmp_path, csr), cache_size=2), FeatureReader(csr)
    assert disk.shape == memory.shape == (80, 9)
    np.testing.assert_array_equal(disk.column_nnz(), (dense != 0).sum(axis=0))
    for f in [4, 0, 8, 4, 4, 2]:
        for reader in (disk, memory):
            rows, values = reader.column(f)
            np.testing.assert_array_equal(rows, np.flatnonzero(dense[:, f]))
            np.testing.assert_array_equal(values, dense[rows, f])
        assert len(disk._cache) <= 2
    for reader in (disk, memory):
        np.testing.assert_array_equal(reader.columns([7, 1, 7]).toarray(), dense[:, [7, 1, 7]])


def test_selected_hits_from_disk_equal_those_from_memory(tmp_path):
    csr = sp.csr_matrix(synthetic.codes())
    csr.data = csr.data.astype(np.float16).astype(np.float32)
    tokens, relative, maxima = synthetic.token_map(), np.full(3, 0.1), csr.max(axis=0).toarray().ravel()
    expected = selected_hits(sp.csc_matrix(csr), [2, 0], tokens, relative, maxima, 5)
    assert len(expected) > 0
    for max_nnz in (1, 10**6):
        got = selected_hits(
            FeatureReader(_on_disk(tmp_path, csr)), [0, 2], tokens, relative, maxima, 5, max_nnz=max_nnz
        )
        assert got.equals(expected)
