"""One feature's codes at a time, for the report's per-feature outputs (top windows, hits, tracks, cards).

The report draws a few hundred features. On a whole genome the busiest of them hold more than a
million nonzeros each, so their columns together run to gigabytes; they are read one column at a time
from the buffer's feature-major copy (a few recent ones cached) instead of being held together.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import numpy as np
import scipy.sparse as sp

from dnalens.formats.feature_columns import FeatureColumns


class FeatureReader:
    """Columns of a code matrix by feature id: FeatureColumns (read from disk) or an in-memory matrix."""

    def __init__(self, source, cache_size: int = 4) -> None:
        if isinstance(source, FeatureColumns):
            self._disk, self._csc = source, None
        else:
            csc = sp.csc_matrix(source, dtype=np.float32)
            csc.sort_indices()
            self._disk, self._csc = None, csc
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def shape(self) -> tuple[int, int]:
        return (self._disk or self._csc).shape

    def column_nnz(self) -> np.ndarray:
        return self._disk.column_nnz() if self._disk is not None else np.diff(self._csc.indptr)

    def column(self, feature: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, values) of one feature."""
        feature = int(feature)
        if feature in self._cache:
            self._cache.move_to_end(feature)
            return self._cache[feature]
        if self._csc is not None:
            lo, hi = self._csc.indptr[feature], self._csc.indptr[feature + 1]
            return self._csc.indices[lo:hi], self._csc.data[lo:hi]  # views: nothing to cache
        block = self._disk.block(feature, feature + 1)
        self._cache[feature] = (block.indices, block.data)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return self._cache[feature]

    def columns(self, features: Iterable[int]) -> sp.csc_matrix:
        """The given columns, in that order, as one CSC matrix with sorted row indices."""
        features = [int(f) for f in features]
        if self._csc is not None:
            part = self._csc[:, features] if features else sp.csc_matrix((self.shape[0], 0), dtype=np.float32)
        else:
            part = self._disk.columns(features)
        part = sp.csc_matrix(part)
        part.sort_indices()
        return part


def as_reader(codes) -> FeatureReader:
    return codes if isinstance(codes, FeatureReader) else FeatureReader(codes)
