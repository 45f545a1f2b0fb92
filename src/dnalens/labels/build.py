"""Build the label store: genome-wide concept arrays, sliced per window and read strand.

For each contig, every column is painted once over the whole contig for + reads and once for − reads
(bit-packed genome matrices), then all tokens of that contig are gathered in one fancy index.
A − window therefore reads the − arrays reversed, where sense and antisense have swapped roles.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.lib.format import open_memmap

from dnalens.atomic import atomic_dir, reserve
from dnalens.concepts.genome_data import GenomeSequence
from dnalens.concepts.registry import ConceptSet
from dnalens.formats.instance_runs import RunLengthIds, run_files
from dnalens.formats.label_store import INSTANCES, STORE_FORMAT, STORE_VERSION, store_digest
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.labels.export import instance_frame, write_instance_table, write_summary
from dnalens.labels.tokens import check_windows, token_layout

log = logging.getLogger(__name__)
BIT_ORDER = "big"  # np.packbits default: column j is bit 7 - j % 8 of byte j // 8


def build_label_store(
    out_dir: str | Path,
    concepts: ConceptSet,
    genome: GenomeSequence,
    windows: Sequence[Window],
    *,
    window_rows: Sequence[int] | np.ndarray | None = None,
    window_table: str | None = None,
    extra_meta: dict[str, Any] | None = None,
    frame=None,
) -> dict[str, Any]:
    """Write the store for `windows[window_rows]` (all windows when None) to `out_dir`, atomically;
    returns its meta.json content. `frame` is the instance table when the caller already has it."""
    rows = np.arange(len(windows), dtype=np.int64) if window_rows is None else np.asarray(window_rows, np.int64)
    chosen = [windows[i] for i in rows.tolist()]
    check_windows(chosen, genome.lengths, genome.circular)
    layout = token_layout(chosen, genome.lengths)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        stats = _write_arrays(tmp, concepts, genome, chosen, layout)
        np.save(tmp / "window_offsets.npy", layout.offsets, allow_pickle=False)
        np.save(tmp / "window_rows.npy", rows, allow_pickle=False)
        write_windows_bed(chosen, tmp / "windows.bed")
        frame = instance_frame(concepts) if frame is None else frame
        write_instance_table(frame, tmp / "instance_table.tsv")
        meta = _meta(concepts, genome, layout.n_tokens, len(chosen), stats, window_table, extra_meta)
        meta["digest"] = store_digest(tmp)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        write_summary(meta, tmp / "concept_summary.tsv")
    log.info(
        "labels: %d tokens x %d concepts (%d region) in %s",
        layout.n_tokens,
        len(concepts.columns),
        len(concepts.region_columns),
        out_dir,
    )
    return meta


def _empty_or_memmap(path: Path, dtype, shape: tuple[int, ...], fill: int = 0):
    if 0 in shape:
        np.save(path, np.full(shape, fill, dtype=dtype), allow_pickle=False)
        return None
    arr = open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    reserve(path)  # a full disk is one DiskFullError here, not SIGBUS while writing through the map
    if fill:
        arr[...] = fill
    return arr


def _write_arrays(tmp: Path, concepts: ConceptSet, genome: GenomeSequence, windows: Sequence[Window], layout) -> dict:
    columns, regions = concepts.columns, concepts.region_columns
    n, n_bytes = layout.n_tokens, max(1, -(-len(columns) // 8))
    labels = _empty_or_memmap(tmp / "labels.npy", np.uint8, (n, n_bytes))
    # dense ids while painting, one contiguous row per region column, then stored as runs
    scratch = tmp / "instances.scratch.npy"
    instances = _empty_or_memmap(scratch, np.int32, (len(regions), n), fill=-1)
    (tmp / "categorical").mkdir()
    cats = {
        c.name: _empty_or_memmap(tmp / "categorical" / f"{c.name}.npy", _cat_dtype(c.classes), (n,), fill=-1)
        for c in concepts.categoricals
    }
    genome_nt = np.zeros(len(columns), dtype=np.int64)
    groups = layout.groups(windows)
    col_of = {id(c): j for j, c in enumerate(columns)}
    region_of = {id(c): r for r, c in enumerate(regions)}
    for contig in genome.contigs:
        size = genome.lengths[contig]
        idx = {s: groups[(contig, s)] for s in "+-" if (contig, s) in groups}
        gpos = {s: layout.position[i] for s, i in idx.items()}
        # one contiguous uint8 array per packed byte and read strand (no strided writes)
        packed = {s: [np.zeros(size, dtype=np.uint8) for _ in range(n_bytes)] for s in idx}
        for concept in concepts.concepts:
            mine = [c for c in columns if c.concept is concept]
            values = {s: concept.values(contig, size, s) for s in "+-"}
            for col in mine:
                j = col_of[id(col)]
                for s in "+-":
                    v = values[_flip(s) if col.antisense else s]
                    genome_nt[j] += int(np.count_nonzero(v))
                    if s in packed:
                        packed[s][j >> 3] |= v.view(np.uint8) << np.uint8(7 - (j & 7))
            del values
            mine_regions = [c for c in mine if id(c) in region_of]
            if mine_regions and idx and instances is not None:
                offset = concepts.id_offsets[concept.name]
                ids = {s: concept.instance_values(contig, size, s, offset) for s in "+-"}
                for col in mine_regions:
                    for s, i in idx.items():
                        instances[region_of[id(col)], i] = ids[_flip(s) if col.antisense else s][gpos[s]]
        for s, i in idx.items():
            labels[i] = np.stack(packed[s], axis=1)[gpos[s]]
            for cat in concepts.categoricals:
                cats[cat.name][i] = cat.values(contig, size, s)[gpos[s]]
    for arr in (labels, *cats.values()):
        if arr is not None:
            arr.flush()
    if instances is None:  # no tokens or no region columns
        instances = np.full((len(regions), n), -1, np.int32)
    RunLengthIds.from_columns(iter(instances), n).save(tmp, INSTANCES)
    del instances
    scratch.unlink()
    return {"genome_nt": genome_nt.tolist(), "tokens": column_counts(labels, len(columns)).tolist()}


def column_counts(packed: np.ndarray | None, n_columns: int, chunk: int = 1 << 22) -> np.ndarray:
    """True count per column of a packed label matrix, from byte histograms (no unpacking)."""
    counts = np.zeros(n_columns, dtype=np.int64)
    if packed is None:
        return counts
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.int64)  # [256, 8]
    for b in range(packed.shape[1]):
        hist = np.zeros(256, dtype=np.int64)
        for at in range(0, packed.shape[0], chunk):
            hist += np.bincount(packed[at : at + chunk, b], minlength=256)
        cols = range(8 * b, min(8 * b + 8, n_columns))
        counts[list(cols)] = (hist @ bits)[: len(cols)]
    return counts


def _meta(
    concepts: ConceptSet,
    genome: GenomeSequence,
    n_tokens: int,
    n_windows: int,
    stats: dict,
    window_table: str | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    region_names = [c.name for c in concepts.region_columns]
    entries = []
    for j, col in enumerate(concepts.columns):
        c = col.concept
        entries.append(
            {
                "name": col.name,
                "column": j,
                "family": c.family,
                "kind": c.kind,
                "description": c.description,
                "sense_concept": c.name,
                "orientation": "antisense" if col.antisense else ("sense" if c.stranded else "unstranded"),
                "region_column": region_names.index(col.name) if col.name in region_names else None,
                "instances": c.intervals.n_instances if c.intervals is not None else None,
                "first_instance_id": concepts.id_offsets.get(c.name),
                "genome_nt": stats["genome_nt"][j],
                "tokens": stats["tokens"][j],
            }
        )
    return {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "bit_order": BIT_ORDER,
        "n_tokens": n_tokens,
        "n_windows": n_windows,
        "concept_names": [c.name for c in concepts.columns],
        "region_concepts": region_names,
        "concepts": entries,
        "categorical": {
            c.name: {"classes": c.classes, "description": c.description, "family": c.family}
            for c in concepts.categoricals
        },
        "n_instances": concepts.n_instances,
        "instance_table": "instance_table.tsv",
        "contigs": genome.lengths,
        "circular": sorted(genome.circular),
        "genetic_code": genome.genetic_code,
        "kingdom": genome.kingdom,
        "window_table": window_table,
        "files": {
            "labels": "labels.npy",
            "instances": run_files(INSTANCES),
            "window_offsets": "window_offsets.npy",
            "window_rows": "window_rows.npy",
            "windows": "windows.bed",
        },
        **(extra or {}),
    }


def _cat_dtype(classes: list[str]):
    return np.int8 if len(classes) < 127 else np.int16


def _flip(strand: str) -> str:
    return "-" if strand == "+" else "+"
