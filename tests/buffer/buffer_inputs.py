"""Small, hand-made inputs for buffer tests: activation shards (H3's writer), a label store (its format)."""

import json

import numpy as np

from dnalens.formats.activation_shards import write_manifest, write_shard
from dnalens.formats.window_table import Window, write_windows_bed

WINDOWS = [
    Window("chr1", 0, 12, "+", "w0"),
    Window("chr1", 0, 12, "-", "w1"),
    Window("chr1", 10, 19, "+", "w2"),
    Window("chr2", 3, 11, "-", "w3"),
]
CONCEPTS = ["CDS", "CDS_antisense", "tRNA", "GC_rich", "intron", "exon", "gene", "gene_antisense", "rRNA"]
REGIONS = ["CDS", "tRNA", "gene"]


def write_label_store(path, windows, seed=0, lengths=None):
    """A label store in the layout dnalens.formats.label_store reads; returns (labels bool [N, L], instances)."""
    rng = np.random.default_rng(seed)
    lengths = [w.length for w in windows] if lengths is None else lengths
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    n = int(offsets[-1])
    labels = rng.random((n, len(CONCEPTS))) < 0.3
    instances = np.where(rng.random((n, len(REGIONS))) < 0.5, rng.integers(0, 5, (n, len(REGIONS))), -1).astype(
        np.int32
    )
    path.mkdir(parents=True)
    np.save(path / "labels.npy", np.packbits(labels, axis=1))
    write_instance_runs(path, instances)
    np.save(path / "window_offsets.npy", offsets)
    np.save(path / "window_rows.npy", np.arange(len(windows), dtype=np.int64))
    write_windows_bed(windows, path / "windows.bed")
    meta = {
        "format": "dnalens-labels",
        "version": 2,
        "digest": f"toy-{seed}",
        "n_tokens": n,
        "n_windows": len(windows),
        "concept_names": CONCEPTS,
        "region_concepts": REGIONS,
        "categorical": {},
        "contigs": {"chr1": 30, "chr2": 20},
    }
    (path / "meta.json").write_text(json.dumps(meta))
    return labels, instances


def write_instance_runs(path, instances):
    """instances.{pointers,starts,ids}.npy by a plain loop: a run starts at token 0 and where the id changes."""
    starts, ids, pointers = [], [], [0]
    for column in instances.T.tolist():
        for t, value in enumerate(column):
            if t == 0 or value != column[t - 1]:
                starts.append(t)
                ids.append(value)
        pointers.append(len(starts))
    np.save(path / "instances.pointers.npy", np.array(pointers, np.int64))
    np.save(path / "instances.starts.npy", np.array(starts, np.int64))
    np.save(path / "instances.ids.npy", np.array(ids, np.int32))


def write_activations(path, windows, d=6, trim=0, shard_windows=((0, 1), (2, 3)), seed=1):
    """Activation shards as `dnalens sample` writes them (trim drops each window's first positions)."""
    rng = np.random.default_rng(seed)
    per_window = [rng.standard_normal((w.length - trim, d)).astype(np.float16) for w in windows]
    for idx, rows in enumerate(shard_windows):
        lengths = [per_window[r].shape[0] for r in rows]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        write_shard(
            path,
            idx,
            np.concatenate([per_window[r] for r in rows]),
            list(rows),
            offsets,
            {"layer": "blocks.1", "trim_start": trim, "trim_end": 0},
        )
    write_manifest(path, {"layer": "blocks.1", "trim_start": trim, "trim_end": 0, "model": {"family": "tiny"}})
    return per_window
