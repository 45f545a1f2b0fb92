"""Read a label store (memory-mapped, no pickle) and concatenate shard stores.

Layout of a store directory, format version 2 (see docs/ARCHITECTURE.md):
  labels.npy          uint8 [N, ceil(L/8)]  bit-packed bools, np.packbits big bit order along concepts
  instances.{pointers,starts,ids}.npy       instance id per region concept (R columns, −1 outside),
                                            run-length encoded: int64 [R+1] run range per column,
                                            int64 [M] first token of each run, int32 [M] its id
                                            (labels/runs.py; expanded by `instances(rows)`)
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

import json
import shutil
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.formats.window_table import Window, read_windows_bed, write_windows_bed
from dnalens.labels.build import INSTANCES, STORE_FORMAT, STORE_VERSION, store_digest
from dnalens.labels.export import write_summary
from dnalens.labels.runs import RunLengthIds
from dnalens.labels.tokens import window_positions

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
        return w.contig, window_positions(w, int(self.meta["contigs"][w.contig]))

    def instance_table(self):
        from dnalens.labels.export import read_instance_table

        return read_instance_table(self.path / self.meta["instance_table"])


def concat_label_stores(parts: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Concatenate shard stores (same concepts, same genome) in the given order, atomically."""
    stores = [LabelStore.open(p) for p in parts]
    if not stores:
        raise InputError("no label stores to concatenate.")
    first = stores[0]
    for s in stores[1:]:
        for key in ("concept_names", "region_concepts", "categorical", "contigs", "n_instances", "genetic_code"):
            if s.meta[key] != first.meta[key]:
                raise InputError(
                    f"label store differs from {first.path} in {key}.",
                    path=s.path,
                    fix="build every shard with the same annotation, FASTA and concepts settings.",
                )
    n = sum(s.n_tokens for s in stores)
    with atomic_dir(out_dir) as tmp:
        _concat_npy(tmp / "labels.npy", [s.path / "labels.npy" for s in stores], n)
        RunLengthIds.concat([s.instance_runs for s in stores]).save(tmp, INSTANCES)
        (tmp / "categorical").mkdir()
        for name in first.categorical_names:
            _concat_npy(
                tmp / "categorical" / f"{name}.npy", [s.path / "categorical" / f"{name}.npy" for s in stores], n
            )
        offsets = [np.zeros(1, np.int64)]
        base = 0
        for s in stores:
            offsets.append(np.asarray(s.window_offsets[1:]) + base)
            base += s.n_tokens
        np.save(tmp / "window_offsets.npy", np.concatenate(offsets), allow_pickle=False)
        rows = np.concatenate([np.asarray(s.window_rows) for s in stores])
        np.save(tmp / "window_rows.npy", rows, allow_pickle=False)
        write_windows_bed([w for s in stores for w in s.windows], tmp / "windows.bed")
        shutil.copyfile(first.path / first.meta["instance_table"], tmp / "instance_table.tsv")
        meta = json.loads(json.dumps(first.meta))
        meta["n_tokens"], meta["n_windows"] = n, sum(s.meta["n_windows"] for s in stores)
        if "shard" in meta:  # the merged store is the whole table again, as an unsharded run writes it
            meta["shard"] = None
        for j, entry in enumerate(meta["concepts"]):
            entry["tokens"] = sum(s.meta["concepts"][j]["tokens"] for s in stores)
        meta["digest"] = store_digest(tmp)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        write_summary(meta, tmp / "concept_summary.tsv")
    return Path(out_dir)


def _concat_npy(path: Path, sources: list[Path], n: int) -> None:
    """Concatenate .npy files along axis 0: one header for the total shape, then each file's data
    bytes copied as they are. Constant memory, where reading and writing through memory maps kept
    every page resident (the merge of an E. coli store peaked at ~800 MB); same bytes as np.save."""
    fmt = np.lib.format
    parts = []
    for src in sources:
        with open(src, "rb") as handle:
            version = fmt.read_magic(handle)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read(handle)
            parts.append((src, handle.tell(), shape, fortran, dtype))
    _, _, shape0, _, dtype0 = parts[0]
    for src, _, shape, fortran, dtype in parts:
        if dtype != dtype0 or tuple(shape[1:]) != tuple(shape0[1:]) or (fortran and len(shape) > 1):
            raise InputError(
                f"array {shape} {dtype} does not match {shape0} {dtype0} of the first shard.",
                path=src,
                fix="build every shard with the same dnalens version and settings.",
            )
    if sum(int(p[2][0]) for p in parts) != n:
        raise InputError(
            f"shard arrays hold {sum(int(p[2][0]) for p in parts)} tokens, meta.json says {n}.",
            path=path.name,
            fix="rebuild the shards.",
        )
    with open(path, "wb") as out:
        header = {"descr": fmt.dtype_to_descr(dtype0), "fortran_order": False, "shape": (n, *shape0[1:])}
        fmt.write_array_header_1_0(out, header)
        for src, offset, *_ in parts:
            with open(src, "rb") as handle:
                handle.seek(offset)
                shutil.copyfileobj(handle, out, 1 << 22)
