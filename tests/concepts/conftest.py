"""Fixtures for concept tests: hand-built annotations and the bundled chloroplast GenBank."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from Bio import SeqIO

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import GenomeSequence, encode
from dnalens.concepts.registry import ConceptSet, compute_concepts
from dnalens.concepts.settings import concept_settings
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.genome.model import Annotation, Feature


def feat(seqid, ftype, start, end, strand, fid, parents=(), phase=None, **attrs) -> Feature:
    return Feature(seqid, ftype, start, end, strand, fid, tuple(parents), phase, tuple(attrs.items()))


def genome_of(seqs: dict[str, str], circular=(), code: int = 11, kingdom=None) -> GenomeSequence:
    return GenomeSequence({k: encode(v) for k, v in seqs.items()}, frozenset(circular), code, kingdom)


class Labelled:
    """Concepts computed for a hand-built annotation, with genome-order accessors per read strand."""

    def __init__(self, features, genome: GenomeSequence, **settings) -> None:
        self.genome = genome
        self.cs: ConceptSet = compute_concepts(
            ConceptContext(Annotation(list(features)), genome, concept_settings(settings))
        )

    @property
    def names(self) -> list[str]:
        return self.cs.concept_names

    def col(self, name: str, contig: str, read_strand: str) -> np.ndarray:
        c = next(c for c in self.cs.columns if c.name == name)
        return c.values(contig, self.genome.lengths[contig], read_strand)

    def ids(self, name: str, contig: str, read_strand: str) -> np.ndarray:
        c = next(c for c in self.cs.columns if c.name == name)
        return c.instance_values(contig, self.genome.lengths[contig], read_strand, self.cs.id_offsets[c.concept.name])

    def cat(self, name: str, contig: str, read_strand: str) -> tuple[np.ndarray, list[str]]:
        c = next(c for c in self.cs.categoricals if c.name == name)
        return c.values(contig, self.genome.lengths[contig], read_strand), c.classes

    def parts(self, name: str) -> set[tuple[str, int, int, str]]:
        c = next(c for c in self.cs.columns if c.name == name).concept.intervals
        return set(zip(c.contig.tolist(), c.start.tolist(), c.end.tolist(), c.strand.tolist()))


def ones(arr: np.ndarray) -> list[int]:
    return np.flatnonzero(arr).tolist()


@pytest.fixture(scope="session")
def chloroplast(tmp_path_factory, genomes_dir: Path):
    """The Arabidopsis chloroplast GenBank, its FASTA, and tiled 10-kb windows on both strands
    (the last window wraps the origin)."""
    d = tmp_path_factory.mktemp("chloroplast")
    record = SeqIO.read(genomes_dir / "NC_000932.gb", "genbank")
    fasta = d / "genome.fa"
    SeqIO.write([record], fasta, "fasta")
    n = len(record)
    windows = [
        Window(record.id, s, s + 10_000, strand, f"w{s}{strand}") for s in range(0, n, 10_000) for strand in "+-"
    ]
    write_windows_bed(windows, d / "windows.bed")
    return SimpleNamespace(
        gb=genomes_dir / "NC_000932.gb",
        fasta=fasta,
        record=record,
        seq=str(record.seq),
        windows=windows,
        windows_bed=d / "windows.bed",
        dir=d,
    )


@pytest.fixture(scope="session")
def cp_labels(chloroplast):
    from dnalens.formats.label_store import LabelStore
    from dnalens.labels.pipeline import run_labels

    out, bed = chloroplast.dir / "labels", chloroplast.dir / "labels_bed"
    run = run_labels(chloroplast.fasta, chloroplast.gb, out, windows=chloroplast.windows_bed, export_bed_dir=bed)
    return SimpleNamespace(run=run, store=LabelStore.open(out), bed=bed, out=out)
