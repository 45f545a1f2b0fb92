"""What probing needs, as plain arrays, and how to get it from an ActivationBuffer (+ label store).

The pure functions of this package take arrays; this module is the only one that knows the buffer
and label-store layouts: token genome coordinates from the window table (read order, − windows
reversed, trimmed starts via read_offset), instance ids widened from region columns to all labels,
categorical concepts mapped from label-store rows to buffer rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.coordinates import token_positions

log = logging.getLogger(__name__)


@dataclass
class ProbeInputs:
    codes: object  # scipy.sparse [N, F], or formats.codes.CodeRows (row subsets read from disk)
    labels: object  # bool [N, L]: ndarray, or formats.row_chunks.PackedLabels (columns unpacked when read)
    label_names: list[str]
    instances: object | None  # int [N, L] array or WideInstances, −1 outside (or for point concepts)
    token_contig: np.ndarray  # int [N] index into contig_names
    token_position: np.ndarray  # int [N] 0-based genome position
    token_minus: np.ndarray  # bool [N] read on the − strand
    contig_names: list[str]
    contig_lengths: dict[str, int]
    dense: np.ndarray | None = None  # [N, d] (may be a memmap)
    feature_columns: object | None = (
        None  # formats.feature_columns.FeatureColumns: what the metrics read, block by block
    )
    categorical: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)
    sequence: dict[str, np.ndarray] | None = None  # uint8 A0 C1 G2 T3 N4 per contig (sequence baselines)
    edge_distance: np.ndarray | None = None  # int [N] nt to the nearer end of the token's window (read order)
    dense_note: str = ""  # why there is no dense input (logged, in summary.json)

    @property
    def n_tokens(self) -> int:
        return int(self.labels.shape[0])


def _read_offsets(windows) -> np.ndarray:
    """Read position of each window's first buffer row (> 0 where extraction trimmed the start)."""
    if "read_offset" in windows:
        return windows["read_offset"].to_numpy(np.int64)
    return np.zeros(len(windows), np.int64)


def token_coordinates(windows, contig_lengths: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(contig index, genome position, minus strand) of every buffer row, from the window table."""
    contigs = list(dict.fromkeys(windows["contig"].astype(str)))
    missing = [c for c in contigs if c not in contig_lengths]
    if missing:
        raise InputError(
            f"no length known for contig(s) {', '.join(missing[:3])}.", fix="pass --labels or --fasta of this genome."
        )
    t0 = windows["token_start"].to_numpy(np.int64)
    t1 = windows["token_end"].to_numpy(np.int64)
    minus = (windows["strand"].astype(str) == "-").to_numpy()
    cidx = np.array([contigs.index(c) for c in windows["contig"].astype(str)], np.int64)
    size = np.array([contig_lengths[c] for c in contigs], np.int64)[cidx]
    owner, pos = token_positions(
        windows["start"].to_numpy(np.int64),
        windows["end"].to_numpy(np.int64),
        minus,
        size,
        count=t1 - t0,
        read_offset=_read_offsets(windows),
    )
    # int32 when it fits: these are [N] arrays held through the whole probe stage
    position_type = np.int32 if int(size.max(initial=0)) < np.iinfo(np.int32).max else np.int64
    return cidx.astype(np.int32)[owner], pos.astype(position_type), minus[owner], contigs


class WideInstances:
    """[N, L] instance ids (−1 outside and for concepts without ids) as a view over the buffer's [N, R]
    region columns: the widened int32 matrix would be 4·L bytes per token (E. coli: 1.15 GB), mostly −1.
    Supports what the metrics use: `x[:, j]` (one column), `x[rows]` (a row subset) and np.asarray."""

    def __init__(self, region: np.ndarray, column_of_label: list[int | None]) -> None:
        self.region = region
        self.column_of_label = list(column_of_label)
        self.shape = (int(region.shape[0]), len(self.column_of_label))
        self.ndim = 2

    def column(self, j: int, rows=None) -> np.ndarray:
        r = self.column_of_label[j]
        n = self.shape[0] if rows is None else len(np.arange(self.shape[0])[rows])
        if r is None:
            return np.full(n, -1, np.int32)
        col = self.region[:, r] if rows is None else self.region[rows, r]
        return np.asarray(col, np.int32)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, j = key
            if not isinstance(j, (int, np.integer)):
                return np.asarray(self)[key]
            return self.column(int(j), None if isinstance(rows, slice) and rows == slice(None) else rows)
        return WideInstances(np.asarray(self.region[key]), self.column_of_label)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.full(self.shape, -1, dtype=np.int32)
        for j, r in enumerate(self.column_of_label):
            if r is not None:
                out[:, j] = self.region[:, r]
        return out if dtype is None else out.astype(dtype)


def widen_instances(instances: np.ndarray, instance_names: list[str], label_names: list[str]) -> WideInstances | None:
    """[N, R] region columns → an [N, L] view with −1 for concepts without instance ids."""
    if not instance_names:
        return None
    return WideInstances(instances, [instance_names.index(n) if n in instance_names else None for n in label_names])


def token_edge_distance(windows) -> np.ndarray:
    """Distance (nt) of every buffer row to the nearer end of its window, from its read position
    (trimmed starts included via read_offset) and the window length."""
    t0 = windows["token_start"].to_numpy(np.int64)
    lengths = windows["token_end"].to_numpy(np.int64) - t0
    size = (windows["end"] - windows["start"]).to_numpy(np.int64)
    owner = np.repeat(np.arange(len(windows)), lengths)
    k = np.arange(int(lengths.sum()), dtype=np.int64) - t0[owner] + _read_offsets(windows)[owner]
    return np.minimum(k, size[owner] - 1 - k).astype(np.int32)


def inputs_from_buffer(
    buffer_path: str | Path,
    labels_dir: str | Path | None = None,
    fasta: str | Path | None = None,
    activations: str | Path | None = None,
    columns: bool = True,
    read_dense: bool = True,
) -> ProbeInputs:
    """Open a buffer (and its label store, recorded in buffer.json unless given) as ProbeInputs; the FASTA
    gives the sequence baselines, `activations` (the shard directory the codes came from) the dense
    probe when the buffer has no dense twin. Jobs of a scattered run (probe/parts.py) ask for less:
    columns=False: no feature-major copy (they read no feature blocks, or only their own); read_dense=False:
    no dense input (they fit no probes)."""
    from dnalens.formats.buffer import ActivationBuffer

    buf = ActivationBuffer.open(buffer_path, labels=labels_dir)
    store = buf.label_store  # the store the labels are read through, if any
    labels_dir = labels_dir or buf.meta.get("labels")
    if store is None and labels_dir and Path(labels_dir, "meta.json").exists():
        from dnalens.formats.label_store import LabelStore

        store = LabelStore.open(labels_dir)
    elif store is None:
        log.warning("no label store found (%s): no categorical probes", labels_dir)
    if store is not None:
        lengths = {str(k): int(v) for k, v in store.meta["contigs"].items()}
    elif fasta is not None:
        from pyfaidx import Fasta

        with Fasta(str(fasta)) as fa:
            lengths = {name: len(fa[name]) for name in fa.keys()}
    else:
        ends = buf.windows.groupby("contig")["end"].max()
        lengths = {str(k): int(v) for k, v in ends.items()}
    contig, position, minus, names = token_coordinates(buf.windows, lengths)
    categorical = {}
    if store is not None and store.categorical_names:
        from dnalens.formats.buffer_labels import store_rows

        rows = buf.store_rows  # the buffer's own row map when it reads through this store
        if rows is None:
            rows = store_rows(buf.windows, store.window_rows, store.window_offsets)
        for name in store.categorical_names:
            values, classes = store.categorical(name)
            categorical[name] = (np.asarray(values)[rows].astype(np.int16), classes)
    sequence = None
    if fasta is not None:
        from dnalens.concepts.genome_data import encode

        sequence = {c: encode(text) for c, text in read_sequences(fasta, names).items()}
    dense, note = buf.dense, ""
    if not read_dense:
        dense, note = None, "not read by this job"
    elif dense is None and activations:
        from dnalens.probe.dense_shards import ShardRows

        dense, note = ShardRows.open(activations, buf.windows)
    elif dense is None:
        note = "the buffer has no dense twin and no --activations directory was given"
    if dense is None and read_dense:
        log.warning("no dense probe: %s", note)
    return ProbeInputs(
        codes=buf.code_rows,
        labels=buf.label_matrix,
        label_names=list(buf.label_names),
        instances=widen_instances(buf.instance_matrix, list(buf.instance_names), list(buf.label_names)),
        token_contig=contig,
        token_position=position,
        token_minus=minus,
        contig_names=names,
        contig_lengths=lengths,
        dense=dense,
        categorical=categorical,
        feature_columns=buf.feature_columns if columns else None,
        sequence=sequence,
        edge_distance=token_edge_distance(buf.windows),
        dense_note=note,
    )


def read_sequences(fasta: str | Path, contigs: list[str]) -> dict[str, str]:
    from pyfaidx import Fasta

    with Fasta(str(fasta), sequence_always_upper=True) as fa:
        return {c: str(fa[c][:]) for c in contigs if c in fa}
