"""`dnalens explain`: resolve the inputs, read the sequences, write the table, tracks and page (as a whole).

Everything that can be wrong with the inputs (which sequence, which dictionary, which labels) is checked
before the model runs; the output directory appears complete or not at all (atomic_dir).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.explain.inputs import (
    GenomeDir,
    InputSequence,
    parse_region,
    read_fasta,
    read_latent_labels,
    region_sequence,
)
from dnalens.explain.sequence_read import ReadSettings, edge_mask, read_sequences
from dnalens.explain.settings import ExplainSettings
from dnalens.formats.explain import LATENTS, PAGE, TABLE, TRACKS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExplainRequest:
    """What the user asked for on the command line (paths as given; `model`: a model: block or directory)."""

    out: Path
    fasta: Path | None = None
    region: str | None = None
    genome_dir: Path | None = None
    dictionary: Path | None = None
    probe: Path | None = None
    model: Any = None
    top: int | None = None


def _check_request(req: ExplainRequest) -> None:
    if (req.fasta is None) == (req.region is None):
        raise InputError("give either --fasta or --region (one of them).", fix="e.g. --region contig:1001-11000.")
    if req.region is not None and req.genome_dir is None:
        raise InputError(
            f"region {req.region} needs the prepared genome it lies in.", fix="add --genome-dir results/<genome>."
        )
    if req.genome_dir is None and req.dictionary is None:
        raise InputError("no dictionary to read the sequences with.", fix="add --dictionary DIR or --genome-dir.")


def _layer(genome: GenomeDir | None, sae, dictionary: Path) -> str:
    layer = (genome.buffer_meta.get("layer") if genome else None) or sae.metadata.get("hook_name")
    if not layer:
        raise InputError(
            "the dictionary does not say which layer it reads (cfg.json metadata.hook_name).",
            path=dictionary,
            fix="pass --genome-dir of a run that used it, or a SAELens directory with hook_name.",
        )
    return str(layer)


def _check_labels_match(genome: GenomeDir | None, req: ExplainRequest, sae) -> None:
    """Labels from a genome's probe table describe the dictionary that genome was encoded with."""
    if genome is None or req.dictionary is None or req.probe is not None:
        return
    from dnalens.sae.encode_resume import sae_identity

    recorded = genome.buffer_meta.get("sae_digest")
    if recorded and sae_identity(sae, "cpu")["weights"] != recorded:
        raise InputError(
            f"--dictionary is not the dictionary {genome.root} was encoded with ({recorded}), so its probe labels "
            "do not apply.",
            path=req.dictionary,
            fix="pass --probe with the probe table of a run that used this dictionary, or drop --dictionary.",
        )


def resolve(req: ExplainRequest, settings: ExplainSettings, *, adapter=None, sae=None):
    """(sequences, adapter, sae, read settings, labels, genome) with every input checked; loads the model last."""
    from dnalens.models.base import load_model, parse_spec
    from dnalens.models.window_pass import trims
    from dnalens.sae.io import load_sae
    from dnalens.settings import schema_defaults

    _check_request(req)
    genome = GenomeDir.open(req.genome_dir) if req.genome_dir is not None else None
    dictionary = Path(req.dictionary) if req.dictionary is not None else genome.dictionary()
    probe = req.probe if req.probe is not None else (genome.probe if genome and genome.probe.is_file() else None)
    labels = read_latent_labels(probe)
    spec = parse_spec(req.model if req.model is not None else {})
    trim = (genome.trims() if genome else None) or trims(spec)
    window = settings.window or (genome.window_length() if genome else None) or schema_defaults("windows")["length"]
    sae = sae if sae is not None else load_sae(dictionary)
    _check_labels_match(genome, req, sae)
    read = ReadSettings(_layer(genome, sae, dictionary), int(window), (int(trim[0]), int(trim[1])))
    if read.step < 1:
        raise InputError(
            f"windows of {window} nt keep no rows after trims of {trim[0]} + {trim[1]}.",
            fix="use longer windows (explain.window).",
        )
    if req.fasta is not None:
        sequences = read_fasta(req.fasta, settings.max_length)
    else:
        sequences = [region_sequence(genome, parse_region(req.region), read.step, read.trim, settings.max_length)]
    adapter = adapter if adapter is not None else load_model(spec)
    return sequences, adapter, sae, read, labels, genome, dictionary, probe


def read_inputs(adapter, sae, sequences: list[InputSequence], read: ReadSettings):
    """Per sequence its SequenceRead and edge mask, cut from the read of its context to its own bases."""
    from dnalens.explain.sequence_read import SequenceRead

    whole = read_sequences(adapter, sae, [s.read for s in sequences], read, [s.phase for s in sequences])
    reads, edges = [], []
    for s, r in zip(sequences, whole):
        a, b = s.at, s.at + len(s.seq)
        reads.append(SequenceRead(r.codes[a:b], r.log_likelihood[a:b]))
        edges.append(edge_mask(len(s.read), read, s.phase)[a:b])
    return reads, edges


def run_explain(req: ExplainRequest, settings: ExplainSettings, *, adapter=None, sae=None) -> dict[str, Any]:
    """Write req.out/ (explain.tsv, latents.tsv, tracks/, explain.html) as a whole; returns a short summary."""
    from dnalens.explain.page import render_page
    from dnalens.explain.tables import max_activation, nucleotide_table, shown_latents
    from dnalens.explain.tracks import write_tracks
    from dnalens.genome.fasta import read_chrom_sizes

    sequences, adapter, sae, read, labels, genome, dictionary, probe = resolve(req, settings, adapter=adapter, sae=sae)
    reads, edges = read_inputs(adapter, sae, sequences, read)
    inner = getattr(sae, "strand_sae", None)
    top = settings.top if req.top is None else int(req.top)
    latents = shown_latents(labels, max_activation(reads, sae.d_sae), top, None if inner is None else inner.d_sae)
    table = nucleotide_table(sequences, reads, edges, latents)
    sizes = None
    if genome is not None and req.region is not None:
        sizes_path = genome.root / "chrom.sizes"
        sizes = read_chrom_sizes(sizes_path if sizes_path.is_file() else Path(f"{genome.fasta}.fai"))
    title = sequences[0].seq_id if len(sequences) == 1 else f"{len(sequences)} sequences"
    context = {
        "title": f"dnalens explain: {title}",
        "subtitle": f"{sum(len(s.seq) for s in sequences):,} nt read by the model at {read.layer} and its dictionary",
        "dictionary": str(dictionary),
        "layer": read.layer,
        "probe": None if probe is None else str(probe),
        "window": read.window,
        "trim": read.trim,
        "top": top,
        "edge_bases": int(sum(int(e.sum()) for e in edges)),
    }
    with atomic_dir(req.out) as tmp:
        names = write_tracks(tmp / TRACKS, table, list(latents["column"]), sizes)
        latents = latents.assign(bigwig=[f"{TRACKS}/{n}" for n in names[: len(latents)]])
        table.to_csv(tmp / TABLE, sep="\t", index=False, float_format="%.6g")
        latents.to_csv(tmp / LATENTS, sep="\t", index=False, float_format="%.6g")
        annotation = genome.annotation if genome is not None and req.region is not None else None
        html = render_page(
            sequences, table, latents, context=context, annotation=annotation, page_bases=settings.page_bases
        )
        (tmp / PAGE).write_text(html)
    ll = table["log_likelihood"].to_numpy(np.float64)
    summary = {
        "sequences": len(sequences),
        "nucleotides": int(len(table)),
        "latents_shown": int(len(latents)),
        "annotated_shown": int(latents["annotated"].sum()) if len(latents) else 0,
        "mean_log_likelihood": float(np.nanmean(ll)) if np.isfinite(ll).any() else float("nan"),
        "edge_bases": context["edge_bases"],
    }
    log.info("explain: %s -> %s", summary, req.out)
    return summary
