"""The `prepare` stage: a genome config entry -> results/<genome>/{genome.fa,.fai, annotation.gff3,
chrom.sizes, genome.json}.

Whatever came in (FASTA + GFF3/GTF, FASTA + pyrodigal, one GenBank file, local or downloaded), what
comes out is the same five files, so no later stage cares about input formats. Everything is built in
a hidden staging folder and moved into place only when all of it succeeded: no partial outputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnalens import __version__
from dnalens.atomic import write_text
from dnalens.errors import InputError
from dnalens.genome.annotation import load_annotation, sniff_format, subset_annotation, write_normalized_gff3
from dnalens.genome.fasta import index_fasta, normalize_fasta, write_chrom_sizes, write_fasta
from dnalens.genome.model import Annotation
from dnalens.genome.sources import PREDICT, local_sources
from dnalens.settings import schema_defaults

log = logging.getLogger(__name__)
KINGDOM_GENETIC_CODE = {"prokaryote": 11, "organelle": 11, "eukaryote": 1}
TOPOLOGIES = ("linear", "circular")
OUTPUT_FILES = ("genome.fa", "genome.fa.fai", "annotation.gff3", "chrom.sizes", "genome.json")


_DEFAULTS = schema_defaults("genomes")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class GenomeSettings:
    """One entry of `genomes:` in the config (see config/README.md)."""

    fasta: str | None = _DEFAULTS["fasta"]
    annotation: str | None = _DEFAULTS["annotation"]
    annotation_format: str = _DEFAULTS["annotation_format"]
    genbank: str | None = _DEFAULTS["genbank"]
    genetic_code: int | None = _DEFAULTS["genetic_code"]
    topology: str | dict[str, str] | None = _DEFAULTS["topology"]
    kingdom: str = _DEFAULTS["kingdom"]
    contigs: tuple[str, ...] | None = _DEFAULTS["contigs"]
    variants: str | None = _DEFAULTS["variants"]  # read by `dnalens variants`, not by prepare

    def check(self) -> None:
        if bool(self.fasta) == bool(self.genbank):
            raise InputError(
                "a genome needs exactly one of `fasta` or `genbank`.",
                fix="give `fasta:` (+ optional `annotation:`) or one `genbank:` file.",
            )
        if self.genbank and self.annotation:
            raise InputError(
                "`annotation` cannot be combined with `genbank` (GenBank carries its own).",
                fix="drop `annotation:` or use `fasta:` + `annotation:`.",
            )
        if self.kingdom not in KINGDOM_GENETIC_CODE:
            raise InputError(
                f"kingdom {self.kingdom!r} is unknown.", fix=f"use one of {', '.join(KINGDOM_GENETIC_CODE)}."
            )
        if self.annotation == PREDICT and self.kingdom == "eukaryote":
            raise InputError(
                "`annotation: predict` uses pyrodigal, which only finds prokaryotic genes.",
                fix="give a GFF3/GTF annotation for eukaryotes.",
            )
        values = self.topology.values() if isinstance(self.topology, dict) else [self.topology]
        if any(v is not None and v not in TOPOLOGIES for v in values):
            raise InputError(f"topology {self.topology!r} is invalid.", fix="use linear or circular.")


@dataclass(frozen=True)
class ContigInfo:
    name: str
    length: int
    topology: str


@dataclass(frozen=True)
class GenomeInfo:
    """genome.json: the facts later stages need about a prepared genome."""

    name: str
    genetic_code: int
    genetic_code_source: str
    kingdom: str
    contigs: tuple[ContigInfo, ...]
    annotation_source: str
    sources: dict[str, Any]
    dnalens_version: str = __version__

    @property
    def lengths(self) -> dict[str, int]:
        return {c.name: c.length for c in self.contigs}

    @property
    def circular(self) -> frozenset[str]:
        return frozenset(c.name for c in self.contigs if c.topology == "circular")

    def topology(self, contig: str) -> str:
        return next(c.topology for c in self.contigs if c.name == contig)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"


def read_genome_info(path: str | os.PathLike) -> GenomeInfo:
    try:
        data = json.loads(Path(path).read_text())
        contigs = tuple(ContigInfo(**c) for c in data.pop("contigs"))
        return GenomeInfo(contigs=contigs, **data)
    except FileNotFoundError:
        raise InputError("genome.json not found.", path=path, fix="run `dnalens prepare` first.") from None
    except (json.JSONDecodeError, TypeError, KeyError) as err:
        raise InputError(
            f"genome.json is not a dnalens genome file ({err}).", path=path, fix="regenerate it with `dnalens prepare`."
        ) from None


def _config_topology(settings: GenomeSettings, contigs: list[str]) -> dict[str, str]:
    if isinstance(settings.topology, dict):
        unknown = sorted(set(settings.topology) - set(contigs))
        if unknown:
            raise InputError(
                f"topology: contig(s) {', '.join(unknown)} are not in the genome.",
                fix=f"use contig names from the FASTA: {', '.join(contigs[:10])}.",
            )
        return dict(settings.topology)
    return {c: settings.topology for c in contigs} if settings.topology else {}


def _file_facts(given: str, local: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(local, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {"given": given, "path": local, "bytes": os.path.getsize(local), "sha256": digest.hexdigest()}


def _resolve_genetic_code(settings: GenomeSettings, annotation: Annotation) -> tuple[int, str]:
    if settings.genetic_code is not None:
        if annotation.genetic_code not in (None, settings.genetic_code):
            log.warning(
                "config genetic_code %s overrides transl_table %s of the annotation",
                settings.genetic_code,
                annotation.genetic_code,
            )
        return settings.genetic_code, "config"
    if annotation.genetic_code is not None:
        return annotation.genetic_code, "annotation transl_table"
    return KINGDOM_GENETIC_CODE[settings.kingdom], f"default for kingdom {settings.kingdom}"


def _build(name: str, settings: GenomeSettings, files: Mapping[str, str], stage: Path) -> GenomeInfo:
    fasta_out = stage / "genome.fa"
    source_circular: set[str] = set()
    if settings.genbank:
        from dnalens.genome.genbank import read_genbank

        records = read_genbank(files["genbank"], contigs=settings.contigs)
        missing = sorted(set(settings.contigs or ()) - {n for n, _ in records.sequences})
        if missing:
            raise InputError(
                f"contig(s) {', '.join(missing)} from `contigs:` are not in the GenBank file.",
                path=files["genbank"],
                fix="use record accessions (VERSION line) as contig names.",
            )
        lengths = write_fasta(records.sequences, fasta_out)
        annotation, source_circular, annotation_source = records.annotation, set(records.circular), "genbank"
    else:
        all_lengths = normalize_fasta(files["fasta"], fasta_out, settings.contigs)
        lengths = {c: n for c, n in all_lengths.items() if not settings.contigs or c in settings.contigs}
        topo = _config_topology(settings, list(lengths))
        circular = {c for c, t in topo.items() if t == "circular"}
        if settings.annotation == PREDICT:
            annotation, annotation_source = Annotation([]), "predict"
        elif settings.annotation:
            annotation = load_annotation(
                files["annotation"],
                settings.annotation_format,
                contig_lengths=all_lengths,
                circular=circular,
                fasta_path=settings.fasta,
            )
            annotation_source = settings.annotation_format
            if annotation_source == "auto":
                annotation_source = sniff_format(files["annotation"])
            source_circular = set(annotation.circular_seqids)
            if settings.contigs:
                annotation = subset_annotation(annotation, settings.contigs)
        else:
            annotation, annotation_source = Annotation([]), "none"
    topology = {c: ("circular" if c in source_circular else "linear") for c in lengths}
    topology.update(_config_topology(settings, list(lengths)))
    code, code_source = _resolve_genetic_code(settings, annotation)
    circular = frozenset(c for c, t in topology.items() if t == "circular")
    index_fasta(fasta_out)
    if annotation_source == "predict":
        import pyfaidx

        from dnalens.genome.predict import predict_genes

        with pyfaidx.Fasta(str(fasta_out)) as fa:
            sequences = {c: str(fa[c][:]) for c in lengths}
        annotation = predict_genes(sequences, code, circular=circular, trna_introns=settings.kingdom == "organelle")
    annotation = Annotation(
        annotation.features, genetic_code=code, source_path=annotation.source_path, circular_seqids=circular
    )
    write_normalized_gff3(annotation, stage / "annotation.gff3", lengths)
    write_chrom_sizes(lengths, stage / "chrom.sizes")
    sources = {role: _file_facts(getattr(settings, role), path) for role, path in files.items()}
    if annotation_source == "predict":
        sources["annotation"] = {
            "given": PREDICT,
            "tool": "pyrodigal + pyaragorn + pybarrnap (bac)"
            + (" + aragorn -i (when installed)" if settings.kingdom == "organelle" else ""),
        }
    info = GenomeInfo(
        name=name,
        genetic_code=code,
        genetic_code_source=code_source,
        kingdom=settings.kingdom,
        contigs=tuple(ContigInfo(c, n, topology[c]) for c, n in lengths.items()),
        annotation_source=annotation_source,
        sources=sources,
    )
    n_tx = sum(1 for _ in annotation.transcripts())
    log.info(
        "%s: %d contig(s), %d bp, %s, genetic code %s (%s), %d features, %d transcripts",
        name,
        len(lengths),
        sum(lengths.values()),
        annotation_source,
        code,
        code_source,
        len(annotation.features),
        n_tx,
    )
    return info


def run_prepare(
    name: str, spec: Mapping[str, Any], outdir: str | os.PathLike, downloads_dir: str | os.PathLike | None = None
) -> GenomeInfo:
    """Prepare one genome into `outdir`; URLs in `spec` are expected in `downloads_dir` (see sources.py)."""
    from dnalens.settings import from_mapping

    settings = from_mapping(GenomeSettings, spec, where=f"genomes.{name}")
    settings.check()
    out = Path(outdir)
    files = local_sources(dataclasses.asdict(settings), downloads_dir or out / "downloads")
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".prepare-", dir=out))
    try:
        info = _build(name, settings, files, stage)
        write_text(stage / "genome.json", info.to_json())
        for fname in OUTPUT_FILES:  # genome.json last: its presence means the rest is complete
            os.replace(stage / fname, out / fname)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return info
