"""The labels stage end to end: FASTA + annotation + windows → label store, BED export, summary."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dnalens.atomic import atomic_path
from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import GenomeSequence, load_genome_sequence
from dnalens.concepts.registry import ConceptSet, compute_concepts
from dnalens.concepts.settings import concept_settings
from dnalens.errors import InputError
from dnalens.formats.window_table import Window, read_windows_bed
from dnalens.genome.model import Annotation
from dnalens.labels.build import build_label_store
from dnalens.labels.export import export_bed, instance_frame

log = logging.getLogger(__name__)
DEFAULT_GENETIC_CODE = 11


@dataclass
class LabelRun:
    meta: dict[str, Any]
    concepts: ConceptSet
    seconds: dict[str, float]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'i/n' (0-based shard i of n contiguous blocks of windows) → (i, n)."""
    if not text:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like i/n, not {text!r}.") from None
    if n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {text}: need 0 <= i < n.")
    return i, n


def whole_contig_windows(lengths: Mapping[str, int]) -> list[Window]:
    """Default windows when none are given: every contig whole, read on + and on −."""
    return [Window(c, 0, n, s, f"{c}:{s}") for c, n in lengths.items() for s in "+-"]


def load_inputs(
    fasta: str | Path,
    annotation: str | Path | None,
    *,
    annotation_format: str = "auto",
    genome_info: str | Path | None = None,
    genetic_code: int | None = None,
    circular: tuple[str, ...] = (),
) -> tuple[GenomeSequence, Annotation]:
    """Genome arrays + annotation; genetic code / topology / kingdom from genome.json when given."""
    from dnalens.genome.annotation import load_annotation

    kingdom, code, circ = None, genetic_code, set(circular)
    if genome_info:
        from dnalens.genome.prepare import read_genome_info

        info = read_genome_info(genome_info)
        kingdom, circ = info.kingdom, circ | set(info.circular)
        code = code or info.genetic_code
    genome = load_genome_sequence(
        fasta, circular=frozenset(circ), genetic_code=code or DEFAULT_GENETIC_CODE, kingdom=kingdom
    )
    if annotation is None:
        return genome, Annotation([])
    ann = load_annotation(
        annotation, annotation_format, contig_lengths=genome.lengths, circular=genome.circular, fasta_path=fasta
    )
    if not genome_info:  # facts the annotation itself carries (GenBank topology and transl_table)
        genome.circular = genome.circular | (ann.circular_seqids & set(genome.lengths))
        if genetic_code is None and ann.genetic_code:
            genome.genetic_code = ann.genetic_code
    return genome, ann


def run_labels(
    fasta: str | Path,
    annotation: str | Path | None,
    out: str | Path,
    *,
    windows: str | Path | None = None,
    export_bed_dir: str | Path | None = None,
    summary: str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    shard: tuple[int, int] | None = None,
    base_dir: str | Path | None = None,
    **input_options: Any,
) -> LabelRun:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    conf = concept_settings(settings)
    genome, ann = load_inputs(fasta, annotation, **input_options)
    table = read_windows_bed(windows) if windows else whole_contig_windows(genome.lengths)
    rows = None
    if shard is not None:
        rows = np.array_split(np.arange(len(table), dtype=np.int64), shard[1])[shard[0]]
    seconds["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctx = ConceptContext(ann, genome, conf, Path(base_dir) if base_dir else Path.cwd())
    concepts = compute_concepts(ctx)
    frame = instance_frame(concepts)
    seconds["concepts"] = time.perf_counter() - t0
    log.info(
        "concepts: %d columns, %d instances (genetic code %d, circular: %s)",
        len(concepts.columns),
        concepts.n_instances,
        genome.genetic_code,
        ", ".join(sorted(genome.circular)) or "none",
    )
    t0 = time.perf_counter()
    extra = {
        "sources": {"fasta": str(fasta), "annotation": None if annotation is None else str(annotation)},
        "settings": dataclasses.asdict(conf),
        "shard": list(shard) if shard else None,
    }
    meta = build_label_store(
        out,
        concepts,
        genome,
        table,
        window_rows=rows,
        window_table=None if windows is None else str(windows),
        extra_meta=extra,
        frame=frame,
    )
    seconds["store"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if summary:
        with atomic_path(summary) as tmp:
            shutil.copyfile(Path(out) / "concept_summary.tsv", tmp)
    if export_bed_dir:
        export_bed(frame, meta, export_bed_dir)
    seconds["export"] = time.perf_counter() - t0
    log.info("labels timing (s): %s", ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))
    return LabelRun(meta, concepts, seconds)


def merge_label_shards(
    stores: list[str | Path],
    out: str | Path,
    *,
    export_bed_dir: str | Path | None = None,
    summary: str | Path | None = None,
) -> dict[str, Any]:
    """Gather of the scattered labels rule: concatenate shard stores, then the same summary and BED
    export `run_labels` writes (from the instance table every shard carries whole)."""
    from dnalens.formats.label_store import LabelStore
    from dnalens.labels.merge import concat_label_stores

    concat_label_stores(stores, out)
    store = LabelStore.open(out)
    if summary:
        with atomic_path(summary) as tmp:
            shutil.copyfile(Path(out) / "concept_summary.tsv", tmp)
    if export_bed_dir:
        export_bed(store.instance_table(), store.meta, export_bed_dir)
    return store.meta
