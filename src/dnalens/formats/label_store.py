"""The label store: its on-disk layout and its reader (memory-mapped, no pickle); labels/ builds and merges it.

Layout of a store directory, format version 2 (see docs/ARCHITECTURE.md):
  labels.npy          uint8 [N, ceil(L/8)]  bit-packed bools, np.packbits big bit order along concepts
  instances.{pointers,starts,ids}.npy       instance id per region concept (R columns, −1 outside),
                                            run-length encoded: int64 [R+1] run range per column,
                                            int64 [M] first token of each run, int32 [M] its id
                                            (formats/instance_runs.py; expanded by `instances(rows)`)
  categorical/X.npy   int8  [N]             class index, −1 undefined (classes in meta.json)
  window_offsets.npy  int64 [W+1]           token range of each window of this store
  window_rows.npy     int64 [W]             rows of the source window table (the row of each token,
                                            `token_window`, is computed from these two)
  windows.bed         the store's windows (BED6), in token order
  instance_table.tsv, concept_summary.tsv, meta.json (`digest`: blake2b of the files above, which a
                                            buffer reading labels through this store checks)
Version 1 stores (dense instances.npy, token_window.npy) are refused with the fix: rerun `dnalens labels`.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.coordinates import token_positions
from dnalens.formats.instance_runs import RunLengthIds, run_files
from dnalens.formats.window_table import Window, read_windows_bed

STORE_FORMAT = "dnalens-labels"
STORE_VERSION = 2  # 2: instance ids run-length encoded (formats/instance_runs.py), no token_window.npy
INSTANCES = "instances"  # stem of the run files: instances.{pointers,starts,ids}.npy

Rows = slice | Sequence[int] | np.ndarray | None


class LabelStore:
    def __init__(self, path: Path, meta: dict) -> None:
        self.path = path
        self.meta = meta

    @classmethod
    def open(cls, path: str | Path) -> "LabelStore":
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.exists():
            raise InputError("not a label store (no meta.json).", path=path, fix="build it with `dnalens labels`.")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != STORE_FORMAT:
            raise InputError("meta.json is not a dnalens label store.", path=meta_file)
        version = int(meta.get("version", 0))
        if version != STORE_VERSION:
            raise InputError(
                f"label store format version {version}; this dnalens reads version {STORE_VERSION} "
                "(instance ids run-length encoded, no token_window.npy).",
                path=path,
                fix="rebuild it: rerun the labels rule (`snakemake --forcerun labels_part`, or `dnalens labels`), "
                "then the buffer rule.",
            )
        return cls(path, meta)

    # --- column names -------------------------------------------------------------------------
    @property
    def concept_names(self) -> list[str]:
        return list(self.meta["concept_names"])

    @property
    def region_concepts(self) -> list[str]:
        return list(self.meta["region_concepts"])

    @property
    def categorical_names(self) -> list[str]:
        return list(self.meta["categorical"])

    @property
    def n_tokens(self) -> int:
        return int(self.meta["n_tokens"])

    # --- arrays -------------------------------------------------------------------------------
    def _load(self, name: str) -> np.ndarray:
        return np.load(self.path / name, mmap_mode="r", allow_pickle=False)

    @cached_property
    def packed_labels(self) -> np.ndarray:
        return self._load("labels.npy")

    @cached_property
    def window_offsets(self) -> np.ndarray:
        return self._load("window_offsets.npy")

    @cached_property
    def token_window(self) -> np.ndarray:
        """int32 [N]: row of the source windows.bed for every token (from window_offsets and window_rows)."""
        lengths = np.diff(np.asarray(self.window_offsets, np.int64))
        return np.repeat(np.asarray(self.window_rows), lengths).astype(np.int32)

    @cached_property
    def window_rows(self) -> np.ndarray:
        return self._load("window_rows.npy")

    @cached_property
    def windows(self) -> list[Window]:
        return read_windows_bed(self.path / "windows.bed")

    def labels(self, rows: Rows = None) -> np.ndarray:
        """Bool [n, L] (unpacked) for all tokens, a slice, or an index array."""
        packed = self.packed_labels if rows is None else self.packed_labels[rows]
        return np.unpackbits(packed, axis=1, count=len(self.concept_names)).astype(bool)

    @cached_property
    def instance_runs(self) -> RunLengthIds:
        """int32 [N, R] instance ids as runs (small, in memory); reads like an array, column by column."""
        return RunLengthIds.load(self.path, INSTANCES, self.n_tokens)

    def instances(self, rows: Rows = None) -> np.ndarray:
        """int32 [n, R] instance ids (−1 outside) for all tokens, a slice, or an index array, expanded
        from the runs (`instance_runs.column(r, rows)` reads one column)."""
        return self.instance_runs.rows(rows)

    def categorical(self, name: str) -> tuple[np.ndarray, list[str]]:
        if name not in self.meta["categorical"]:
            raise KeyError(f"no categorical {name!r}; have {self.categorical_names}")
        return self._load(f"categorical/{name}.npy"), list(self.meta["categorical"][name]["classes"])

    def column(self, name: str) -> np.ndarray:
        """One concept as bool [N] without unpacking the others."""
        j = self.concept_names.index(name)
        return (self.packed_labels[:, j >> 3] >> (7 - (j & 7))) & 1 == 1

    def window_tokens(self, window_idx: int) -> slice:
        return slice(int(self.window_offsets[window_idx]), int(self.window_offsets[window_idx + 1]))

    def token_genome_positions(self, window_idx: int) -> tuple[str, np.ndarray]:
        """(contig, genome position of each token of window `window_idx` of this store, read order)."""
        w = self.windows[window_idx]
        size = int(self.meta["contigs"][w.contig])
        return w.contig, token_positions([w.start], [w.end], [w.strand == "-"], size)[1]

    def instance_table(self):
        return read_instance_table(self.path / self.meta["instance_table"])


def store_digest(directory: Path) -> str:
    """blake2b of the store's arrays and windows (not meta.json): a buffer records it and reads labels
    through the store only while it is unchanged. Equal content gives an equal digest, so a merged store
    has the one an unscattered run writes."""
    digest = hashlib.blake2b(digest_size=16)
    names = ["labels.npy", *run_files(INSTANCES), "window_offsets.npy", "window_rows.npy", "windows.bed"]
    names += sorted(f"categorical/{p.name}" for p in (directory / "categorical").glob("*.npy"))
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(directory / name, "rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def read_instance_table(path: str | Path):
    import pandas as pd

    return pd.read_csv(
        path,
        sep="\t",
        keep_default_na=False,
        dtype={
            "instance_id": np.int64,
            "start": np.int64,
            "end": np.int64,
            "contig": str,
            "feature_id": str,
            "name": str,
            "concept": str,
            "strand": str,
        },
    )
