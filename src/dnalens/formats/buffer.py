"""ActivationBuffer: sparse SAE codes + labels + instance ids + window index, one row per token, opened
memory-mapped from its directory (layout, format version and writers: formats/buffer_files.py).

A buffer built by `dnalens buffer` keeps no labels: its rows are label-store tokens (window `row`,
read position read_offset + k), read through the store (formats/buffer_labels.py). Version 1 buffers (a
copy of labels.npy and a dense instances.npy) are refused with the fix: rerun the buffer rule.

Rows are tokens of whole windows, windows in windows.bed order, read order within a window.
R (region concepts, `instance_names`) may be fewer columns than L (`label_names`): only region-like
concepts have instances.

One copy of the codes: the feature-major view probing and the report read one column block at a time
(`feature_columns`, formats/feature_columns.py) is transposed from the row-major copy where it is read, into a
temporary directory that lives as long as that view (6 bytes per value, $TMPDIR).
"""

from __future__ import annotations

import json
import logging
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.formats.buffer_files import FORMAT, VERSION, write_buffer_files
from dnalens.formats.buffer_labels import open_labels
from dnalens.formats.codes import CodeRows, CsrArrays, read_csr
from dnalens.formats.feature_columns import COLUMN_FILES, FeatureColumns
from dnalens.formats.row_chunks import PackedLabels, RowChunkedArray

log = logging.getLogger(__name__)


class ActivationBuffer:
    def __init__(
        self,
        *,
        codes: CsrArrays,
        labels_packed: np.ndarray,
        label_names: Sequence[str],
        instances: np.ndarray,
        instance_names: Sequence[str],
        windows,
        dense: np.ndarray | None = None,
        meta: dict[str, Any] | None = None,
        path: Path | None = None,
        label_store=None,
    ) -> None:
        self.code_arrays = codes
        self.labels_packed = labels_packed
        self.label_names = list(label_names)
        self.instances = instances
        self.instance_names = list(instance_names)
        self.windows = windows
        self.dense = dense
        self.meta = dict(meta or {})
        self.path = path
        self.label_store = label_store  # the LabelStore labels and instances are read through, if any
        self._check()

    def _check(self) -> None:
        n = self.n_tokens
        shapes = {"labels": self.labels_packed.shape, "instances": self.instances.shape}
        problems = []
        if self.labels_packed.shape[0] != n or self.labels_packed.shape[1] < (len(self.label_names) + 7) // 8:
            problems.append(f"labels {shapes['labels']}")
        if self.instances.shape != (n, len(self.instance_names)):
            problems.append(f"instances {shapes['instances']}")
        if self.dense is not None and self.dense.shape[0] != n:
            problems.append(f"dense {self.dense.shape}")
        if len(self.windows) and int(self.windows["token_end"].iloc[-1]) != n:
            problems.append(f"windows end at token {int(self.windows['token_end'].iloc[-1])}")
        if problems:
            raise InputError(
                f"activation buffer parts disagree with {n} code rows: {', '.join(problems)}.",
                path=self.path,
                fix="rebuild it with `dnalens buffer`.",
            )

    # ---- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, labels: str | Path | None = None) -> "ActivationBuffer":
        """Memory-map a buffer directory (nothing is read into memory until used); `labels`: the label
        store to read labels through (default: the one recorded in buffer.json)."""
        import pandas as pd

        path = Path(path)
        meta_path = path / "buffer.json"
        if not meta_path.is_file():
            raise InputError(
                "not an activation buffer (no buffer.json).", path=path, fix="build it with `dnalens buffer`."
            )
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise InputError("buffer.json is not a dnalens activation buffer.", path=meta_path)
        if int(meta.get("version", 0)) > VERSION:
            raise InputError(
                f"buffer format version {meta['version']} is newer than this dnalens reads ({VERSION}).",
                path=meta_path,
                fix="upgrade dnalens.",
            )
        if int(meta.get("version", 0)) < VERSION:
            raise InputError(
                f"buffer format version {meta.get('version')} keeps its own copy of labels and dense instance "
                f"ids; this dnalens reads version {VERSION} (labels read through the label store).",
                path=path,
                fix="rebuild it: rerun the labels and buffer rules (`snakemake --forcerun labels_part buffer`, "
                "or `dnalens labels`, then `dnalens encode` and `dnalens buffer`).",
            )

        def load(name: str) -> np.ndarray:
            return np.load(path / name, mmap_mode="r", allow_pickle=False)

        dense = load("dense.npy") if meta.get("dense") else None
        windows = pd.read_parquet(path / "windows.parquet")
        packed, instances, store = open_labels(path, meta, windows, labels)
        return cls(
            codes=read_csr(path, "codes", meta["n_features"]),
            labels_packed=packed,
            label_names=meta["label_names"],
            instances=instances,
            instance_names=meta["instance_names"],
            windows=windows,
            dense=dense,
            meta=meta,
            path=path,
            label_store=store,
        )

    # ---- views -------------------------------------------------------------------------------------
    @property
    def n_tokens(self) -> int:
        return self.code_arrays.n_rows

    @property
    def n_features(self) -> int:
        return self.code_arrays.n_cols

    @property
    def nnz(self) -> int:
        return self.code_arrays.nnz

    @cached_property
    def feature_columns(self) -> FeatureColumns | None:
        """Feature-major codes (column blocks read from disk); None for an in-memory buffer. An opened buffer
        without a stored copy gets one transposed now into a temporary directory (removed with this object)."""
        if self.path is None:
            return None
        if all((self.path / name).is_file() for name in COLUMN_FILES):
            return FeatureColumns(self.path, self.n_tokens)
        from dnalens.formats.feature_columns import transposed_columns

        return transposed_columns(self.code_arrays, self.n_tokens)

    @cached_property
    def code_rows(self) -> CodeRows:
        """Row subsets of the codes read from disk (an opened buffer), else the in-memory CSR."""
        if self.path is None:
            return self.codes
        return CodeRows(self.path, "codes", self.n_features)

    @cached_property
    def codes(self):
        """scipy.sparse CSR [N, F], float32 values (scipy computes in float32; indices stay mapped)."""
        return self.code_arrays.to_scipy()

    @cached_property
    def label_matrix(self) -> PackedLabels:
        """bool [N, L] labels unpacked per column or row subset (read from disk for an opened buffer:
        through the label store, or by row chunks of its own labels.npy)."""
        inline = self.path is not None and self.label_store is None
        packed = RowChunkedArray(self.path / "labels.npy") if inline else self.labels_packed
        return PackedLabels(packed, len(self.label_names))

    @cached_property
    def instance_matrix(self):
        """int32 [N, R] instance ids, expanded per column or row subset from runs (an opened buffer), else
        the in-memory array."""
        return self.instances if self.path is not None else np.asarray(self.instances)

    @property
    def labels(self) -> np.ndarray:
        """bool [N, L] (unpacked on each call; use `label(name)` for one column)."""
        return np.unpackbits(np.asarray(self.labels_packed), axis=1, count=len(self.label_names)).astype(bool)

    def label(self, name: str) -> np.ndarray:
        j = self.label_names.index(name)
        return (np.asarray(self.labels_packed[:, j >> 3]) >> (7 - (j & 7))) & 1 == 1

    @property
    def store_rows(self) -> np.ndarray | None:
        """Label-store row of every buffer row when labels are read through a store (the map the labels and
        instance ids are read through, built once), else None."""
        return None if self.label_store is None else self.labels_packed.rows

    def window_rows(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Buffer rows (tokens) of the windows at `positions` of the window table, in that order."""
        starts = self.windows["token_start"].to_numpy()[positions]
        ends = self.windows["token_end"].to_numpy()[positions]
        if len(starts) == 0:
            return np.zeros(0, dtype=np.int64)
        lengths = ends - starts
        return np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())

    # ---- building new buffers ------------------------------------------------------------------------
    def select(self, windows: Sequence[int] | np.ndarray) -> "ActivationBuffer":
        """A new in-memory buffer with only the given windows (positions in `.windows`, or a bool mask)."""
        positions = np.asarray(windows)
        if positions.dtype == bool:
            if positions.shape != (len(self.windows),):
                raise ValueError(f"mask has {positions.shape[0]} entries for {len(self.windows)} windows")
            positions = np.flatnonzero(positions)
        positions = positions.astype(np.int64)
        rows = self.window_rows(positions)
        ip = np.asarray(self.code_arrays.indptr)
        counts = ip[rows + 1] - ip[rows]
        starts = ip[rows]
        value_idx = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        codes = CsrArrays(
            indptr,
            np.asarray(self.code_arrays.indices)[value_idx],
            np.asarray(self.code_arrays.values)[value_idx],
            self.n_features,
        )
        table = self.windows.iloc[positions].reset_index(drop=True).copy()
        lengths = (table["token_end"] - table["token_start"]).to_numpy()
        table["token_end"] = np.cumsum(lengths)
        table["token_start"] = table["token_end"] - lengths
        return ActivationBuffer(
            codes=codes,
            labels_packed=np.asarray(self.labels_packed[rows]),
            label_names=self.label_names,
            instances=np.asarray(self.instances[rows]),
            instance_names=self.instance_names,
            windows=table,
            dense=None if self.dense is None else np.asarray(self.dense)[rows],
            meta=self.meta,
        )

    @staticmethod
    def concat(buffers: Sequence["ActivationBuffer"], *, offset_instances: bool = False) -> "ActivationBuffer":
        """Rows of `buffers` one after the other (same features, labels and instance columns).

        Instance ids are kept: right for pieces of one genome. For different genomes pass
        `offset_instances=True` so ids of later buffers are shifted past those of earlier ones.
        """
        import pandas as pd

        if not buffers:
            raise ValueError("nothing to concatenate")
        first = buffers[0]
        for b in buffers[1:]:
            for attr in ("n_features", "label_names", "instance_names"):
                if getattr(b, attr) != getattr(first, attr):
                    raise InputError(f"cannot concatenate buffers with different {attr}.", path=b.path)
            if (b.dense is None) != (first.dense is None):
                raise InputError("cannot concatenate buffers with and without a dense twin.", path=b.path)
        indptrs, tables, instances, row_base, nnz_base, id_base = [np.zeros(1, np.int64)], [], [], 0, 0, 0
        for b in buffers:
            indptrs.append(np.asarray(b.code_arrays.indptr[1:]) + nnz_base)
            table = b.windows.copy()
            table["token_start"] += row_base
            table["token_end"] += row_base
            tables.append(table)
            inst = np.array(b.instances, dtype=np.int32, copy=True)
            if offset_instances and inst.size:
                inst[inst >= 0] += id_base
                id_base = max(id_base, int(inst.max()) + 1)
            instances.append(inst)
            row_base += b.n_tokens
            nnz_base += b.nnz
        codes = CsrArrays(
            np.concatenate(indptrs),
            np.concatenate([np.asarray(b.code_arrays.indices) for b in buffers]),
            np.concatenate([np.asarray(b.code_arrays.values) for b in buffers]),
            first.n_features,
        )
        return ActivationBuffer(
            codes=codes,
            labels_packed=np.concatenate([np.asarray(b.labels_packed) for b in buffers]),
            label_names=first.label_names,
            instances=np.concatenate(instances),
            instance_names=first.instance_names,
            windows=pd.concat(tables, ignore_index=True),
            dense=None if first.dense is None else np.concatenate([np.asarray(b.dense) for b in buffers]),
            meta={**first.meta, "concatenated_from": [str(b.path) if b.path else None for b in buffers]},
        )

    def save(self, path: str | Path) -> Path:
        """Write this buffer to `path` (atomically, as a whole) and return it. An opened buffer that reads
        through a label store keeps reading through it; any other writes its labels inline."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            write_buffer_files(tmp, self, path)
        return path

    # ---- accounting --------------------------------------------------------------------------------
    def bytes_per_token(self) -> dict[str, float]:
        """Bytes per token this buffer holds itself (labels and instance ids read through a label store: 0;
        instance ids: their runs, or 4 x R for an in-memory array)."""
        n = max(self.n_tokens, 1)
        through = self.label_store is not None
        nbytes = getattr(self.instances, "nbytes", None)
        instance_bytes = float(nbytes if nbytes is not None else 4 * len(self.instance_names) * self.n_tokens)
        parts = {
            "codes": (self.nnz * (2 + np.dtype(self.code_arrays.indices.dtype).itemsize) + (self.n_tokens + 1) * 8) / n,
            "labels": 0.0 if through else float(self.labels_packed.shape[1]),
            "instances": 0.0 if through else instance_bytes / n,
            "dense": 0.0 if self.dense is None else 2.0 * self.dense.shape[1],
        }
        parts["total"] = sum(parts.values())
        return parts

    def info(self) -> dict[str, Any]:
        return {
            "path": str(self.path) if self.path else None,
            "tokens": self.n_tokens,
            "windows": len(self.windows),
            "features": self.n_features,
            "nnz": self.nnz,
            "mean_l0": self.nnz / max(self.n_tokens, 1),
            "labels": len(self.label_names),
            "instance_columns": len(self.instance_names),
            "dense_width": None if self.dense is None else int(self.dense.shape[1]),
            "bytes_per_token": self.bytes_per_token(),
            **{k: self.meta.get(k) for k in ("layer", "sae", "trim_start", "trim_end", "genome")},
        }
