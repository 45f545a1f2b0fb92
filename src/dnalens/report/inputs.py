"""Read the real stage outputs into a `ReportInputs`: buffer, probe tables, labels, genome, annotation.

This is the only report module that knows other stages' file layouts, and it defines `ReportInputs`, what it
produces. The probe tables are read in
the probe stage's own column names, with no aliases: a probe folder written by an older probe stage
stops the run with an InputError naming the missing column(s). The buffer's window table is read in the
buffer's own column names too (`normalise_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.formats.effects import read_effects
from dnalens.formats.layer_scan import read_layer_scan
from dnalens.formats.probe_dir import (
    FEATURE_CONCEPT,
    SCORE_COLUMNS,
    SCORE_REQUIRED,
    ProbeTables,
    read_json,
    read_probe_dir,
    require_columns,
)
from dnalens.formats.steer import read_steer
from dnalens.formats.variants import read_variants_table
from dnalens.report.health import sae_health
from dnalens.report.model_context import read_model_context
from dnalens.report.regions import Regions, anchors_from_annotation, regions_from_annotation
from dnalens.report.sae_facts import read_sae_config, sae_description
from dnalens.report.tokens import WINDOW_COLUMNS
from dnalens.report.top_windows import SequenceOf
from dnalens.report.variants_view import variants_view
from dnalens.settings import schema_defaults

PROBE_DEFAULTS = schema_defaults("probe")  # a probe folder without its settings ran with these


@dataclass
class ReportInputs:
    """Everything the report needs, already read (`read_report_inputs`; tests build one by hand)."""

    genome: str
    codes: Any  # [tokens, features], rows in buffer (read) order: scipy.sparse, or anything with .shape
    windows: pd.DataFrame  # tokens.WINDOW_COLUMNS
    contig_lengths: dict[str, int]
    scores: pd.DataFrame  # formats.probe_dir.SCORE_COLUMNS (probe/feature_concept.parquet)
    label_summary: pd.DataFrame  # concept, instances, nucleotides, coverage
    concepts: pd.DataFrame  # probe/concepts.parquet (formats.probe_dir.CONCEPT_REQUIRED and more)
    feature_labels: pd.DataFrame  # probe/features.parquet: feature, label (primary metric, chosen on train)
    regions: Regions
    anchors: pd.DataFrame  # regions.anchors_from_annotation
    sequence_of: SequenceOf
    genome_fasta: Path
    annotation_gff3: Path | None = None
    model: str = "?"
    layer: str = "?"
    sae: str = "?"
    sae_quality: dict[str, Any] = field(default_factory=dict)
    annotation_rule: str = "as decided by the probe stage"  # how the probe stage marked pairs annotated (in words)
    min_margin: float = PROBE_DEFAULTS["min_margin"]  # the probe run's "beats the best sequence-only baseline" cut
    strand_shared: bool = False  # codes are [own strand | opposite strand] of one per-strand SAE (views.py)
    sae_health: list = field(default_factory=list)  # (what, in words) from health.sae_health
    feature_columns: Any = None  # formats.feature_columns.FeatureColumns: read block by block instead of `codes`
    layer_scan: pd.DataFrame | None = None  # formats.layer_scan table (dense probes per layer); None = no scan
    model_context: Any = None  # model_context.ModelContext: bits/nt vs Markov, ablation, replicate; None = not read
    effects: pd.DataFrame | None = None  # formats.effects table (rule effects); None = not run
    steer: pd.DataFrame | None = None  # formats.steer table (rule steer); None = not run
    steer_figures: dict[int, str] = field(default_factory=dict)  # latent -> the steer stage's SVG figure
    variants_html: str = ""  # the variants section (report/variants_view.py); "" = no `variants:` for this genome


def normalise_scores(frame: pd.DataFrame, path: Path | str | None = None) -> pd.DataFrame:
    require_columns(frame, SCORE_REQUIRED, path)
    scores = frame.reindex(columns=list(SCORE_COLUMNS))
    scores = scores.astype({"feature": np.int64, "concept": str})
    for col in ("annotated", "best_for_concept"):
        scores[col] = scores[col].astype("boolean").fillna(False).astype(bool)
    return scores


def annotation_rule(summary: dict[str, Any]) -> str:
    """The probe stage's annotation rule in words, from probe/summary.json."""
    s = summary.get("settings") or {}
    if not {"min_auroc", "min_margin", "max_q"} <= set(s):
        return "as decided by the probe stage"
    rule = (
        f"held-out AUROC ≥ {s['min_auroc']}, margin over the best sequence-only baseline ≥ {s['min_margin']} "
        f"and q ≤ {s['max_q']}"
    )
    if "min_instances" in s:
        rule += f", for concepts with ≥ {s['min_instances']} instances"
    return rule + " (probe settings)"


def normalise_windows(frame: pd.DataFrame) -> pd.DataFrame:
    """The buffer's window table (WINDOW_COLUMNS, plus `read_offset` when the buffer has it)."""
    missing = [c for c in WINDOW_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"the buffer's window table has no {', '.join(missing)} column(s) "
            f"(columns: {', '.join(map(str, frame.columns))}).",
            fix="rebuild the buffer with this dnalens version (`dnalens buffer`).",
        )
    return frame[[*WINDOW_COLUMNS, *(["read_offset"] if "read_offset" in frame else [])]].reset_index(drop=True)


def read_probe_tables(probe_dir: str | Path) -> ProbeTables:
    """The probe directory (formats/probe_dir.py) with its scores in the report's column order."""
    tables = read_probe_dir(probe_dir)
    path = Path(probe_dir) / FEATURE_CONCEPT
    return ProbeTables(normalise_scores(tables.scores, path), tables.labels, tables.concepts, tables.summary)


def read_label_summary(path: str | Path) -> pd.DataFrame:
    summary = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
    if "concept" not in summary:
        raise InputError("concept summary has no 'concept' column.", path=path, fix="rerun `dnalens labels`.")
    return summary


@dataclass(frozen=True)
class InputPaths:
    genome: str
    buffer: Path
    probe: Path
    fasta: Path
    annotation: Path | None
    chrom_sizes: Path
    label_summary: Path
    sae_quality: Path | None = None
    model: str = "?"
    layer: str | None = None
    sae: str | None = None
    layer_scan: Path | None = None  # results/<genome>/layer_scan.tsv (layer_scan.enabled)
    model_settings: dict | None = None  # the config's model: section (where the model's evaluation.json lives)
    effects: Path | None = None  # results/<genome>/effects/effects.tsv (rule effects)
    steer: Path | None = None  # results/<genome>/effects/steer.tsv; its figures in steer_figures/ beside it
    variants: Path | None = None  # results/<genome>/variants/variants.parquet (rule variants)


def read_report_inputs(paths: InputPaths) -> ReportInputs:
    """Open every input; the FASTA stays indexed on disk (pyfaidx) and is read per window."""
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.window_table import span_sequence
    from dnalens.genome.fasta import open_fasta, read_chrom_sizes

    contig_lengths = read_chrom_sizes(paths.chrom_sizes)
    buffer = ActivationBuffer.open(paths.buffer)
    meta = getattr(buffer, "meta", None) or {}
    windows = buffer.windows if isinstance(buffer.windows, pd.DataFrame) else pd.DataFrame(buffer.windows)
    probe = read_probe_tables(paths.probe)
    quality = read_json(paths.sae_quality)
    fasta = open_fasta(paths.fasta)

    def sequence_of(contig: str, start: int, end: int, strand: str) -> str:
        return span_sequence(fasta, contig, start, end, strand)

    if paths.annotation is not None:
        from dnalens.genome.gff3 import read_normalized_gff3

        annotation = read_normalized_gff3(paths.annotation)
        regions = regions_from_annotation(annotation, contig_lengths)
        anchors = anchors_from_annotation(annotation)
    else:
        from dnalens.report.regions import REGION_COLUMNS

        regions = Regions(pd.DataFrame(columns=list(REGION_COLUMNS)), contig_lengths)
        anchors = pd.DataFrame(columns=["contig", "position", "strand", "kind"])
    return ReportInputs(
        genome=paths.genome,
        codes=buffer.code_rows,
        feature_columns=buffer.feature_columns,
        windows=normalise_windows(windows),
        contig_lengths=contig_lengths,
        scores=probe.scores,
        label_summary=read_label_summary(paths.label_summary),
        concepts=probe.concepts,
        feature_labels=probe.labels,
        regions=regions,
        anchors=anchors,
        sequence_of=sequence_of,
        genome_fasta=paths.fasta,
        annotation_gff3=paths.annotation,
        model=paths.model,
        layer=paths.layer or str(meta.get("layer") or quality.get("layer") or "?"),
        sae=paths.sae or sae_name(meta, quality),
        sae_quality=flat_quality(quality),
        annotation_rule=annotation_rule(probe.summary),
        min_margin=float((probe.summary.get("settings") or {}).get("min_margin", PROBE_DEFAULTS["min_margin"])),
        strand_shared=strand_shared(quality, meta),
        sae_health=sae_health(quality),
        layer_scan=None if paths.layer_scan is None else read_layer_scan(paths.layer_scan),
        model_context=read_model_context(paths.genome, quality, meta.get("sae"), paths.model_settings),
        effects=None if paths.effects is None else read_effects(paths.effects),
        steer=None if paths.steer is None else read_steer(paths.steer),
        steer_figures={} if paths.steer is None else steer_figures(Path(paths.steer).parent / "steer_figures"),
        variants_html="" if paths.variants is None else variants_view(read_variants_table(paths.variants)).html(),
    )


def steer_figures(directory: Path) -> dict[int, str]:
    """latent -> the SVG text the steer stage wrote (f<latent>.svg), embedded in that latent's card."""
    found = {}
    for path in sorted(directory.glob("f*.svg")) if directory.is_dir() else []:
        if path.stem[1:].isdigit():
            found[int(path.stem[1:])] = path.read_text()
    return found


def strand_shared(quality: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Whether the codes are [own strand | opposite strand] views (sae_quality.json, else the SAE's cfg.json)."""
    if "strand_shared" in quality:
        return bool(quality["strand_shared"])
    cfg = Path(str(meta.get("sae") or "")) / "cfg.json"
    if cfg.is_file():
        return bool(((read_json(cfg).get("metadata") or {}).get("dnalens") or {}).get("strand_shared"))
    return False


QUALITY_LABELS = {  # sae_quality.json key → run-summary label, in display order
    "architecture": "architecture as saved for SAELens (BatchTopK saves as jumprelu)",
    "d_sae": "features",
    "k": "k",
    "l0": "mean active features per nt (L0)",
    "fvu": "fraction of variance unexplained",
    "loss_recovered": "loss recovered",
    "dead_fraction": "dead features",
    "dense_fraction": "dense features",
    "n_tokens": "nt evaluated",
}


def flat_quality(quality: dict[str, Any]) -> dict[str, Any]:
    """sae_quality.json → ordered {label: value}: known keys first with readable labels, then the rest."""
    flat = {
        **{k: v for k, v in quality.items() if not isinstance(v, dict)},
        **{k: v for sub in quality.values() if isinstance(sub, dict) for k, v in sub.items()},
    }
    out = {label: flat.pop(key) for key, label in QUALITY_LABELS.items() if key in flat}
    out.update({k: v for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def sae_name(meta: dict[str, Any], quality: dict[str, Any]) -> str:
    """Short SAE description for titles: what the dictionary's own cfg.json says was trained (sae_facts), else
    sae_quality.json's architecture, width and k, else the SAE folder name."""
    described = sae_description(read_sae_config(meta.get("sae")))
    if described:
        return described
    if quality.get("architecture") and quality.get("d_sae"):
        k = f", k={quality['k']}" if quality.get("k") else ""
        lookup = f", {quality['base_lookup']}-mer lookup" if quality.get("base_lookup") else ""
        strands = ", one dictionary for both strands" if quality.get("strand_shared") else ""
        return f"{quality['architecture']} ({quality['d_sae']} features{k}{lookup}{strands})"
    return Path(str(meta.get("sae") or "?")).name
