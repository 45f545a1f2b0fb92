"""Read the real stage outputs into a `ReportInputs`: buffer, probe tables, labels, genome, annotation.

This is the only report module that knows other stages' file layouts; column-name differences are
absorbed here (`_normalise_*`) so the tables, tracks and HTML code see one vocabulary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.report.regions import anchors_from_annotation, regions_from_annotation
from dnalens.report.stage import ReportInputs
from dnalens.report.tables import SCORE_COLUMNS
from dnalens.report.tokens import WINDOW_COLUMNS


# probing-stage column → report column (first match wins)
_SCORE_ALIASES: dict[str, tuple[str, ...]] = {
    "feature": ("feature", "feature_id", "latent"),
    "concept": ("concept", "label"),
    "auroc_train": ("auroc_train", "train_auroc"),
    "f1_train": ("f1_train", "train_f1"),
    "precision_train": ("precision_train", "train_precision"),
    "recall_train": ("recall_train", "train_recall"),
    "auroc_heldout": ("auroc_heldout", "heldout_auroc", "auroc_test", "test_auroc"),
    "f1_heldout": ("f1_heldout", "heldout_f1", "f1_test", "test_f1"),
    "precision_heldout": ("precision_heldout", "heldout_precision", "precision_test", "test_precision"),
    "recall_heldout": ("recall_heldout", "heldout_recall", "recall_test", "test_recall"),
    "threshold": ("threshold", "threshold_train", "train_threshold", "best_threshold"),
    "p_value": ("p_value", "p", "pvalue"),
    "q_value": ("q_value", "q", "qvalue"),
    "annotated": ("annotated",),
    "best_for_concept": ("best_for_concept",),
}
_WINDOW_ALIASES: dict[str, tuple[str, ...]] = {
    "contig": ("contig", "chrom", "seqid"),
    "start": ("start",),
    "end": ("end",),
    "strand": ("strand",),
    "token_start": ("token_start", "tok_start", "first_token"),
    "token_end": ("token_end", "tok_end", "stop_token"),
}
_PROBE_ALIASES: dict[str, tuple[str, ...]] = {
    "concept": ("concept", "label"),
    "dense_probe_auroc": ("dense_probe_auroc", "dense_auroc", "auroc_dense", "dense_heldout_auroc"),
    "sae_probe_auroc": ("sae_probe_auroc", "sae_auroc", "auroc_sae", "sparse_auroc", "sae_heldout_auroc"),
}


def _rename(frame: pd.DataFrame, aliases: dict[str, tuple[str, ...]], *, required: tuple[str, ...],
            what: str, path: Path | None) -> pd.DataFrame:
    out = {}
    for target, names in aliases.items():
        found = next((n for n in names if n in frame.columns), None)
        if found is not None:
            out[target] = frame[found]
        elif target in required:
            raise InputError(f"{what} has no {target!r} column (columns: {', '.join(map(str, frame.columns))}).",
                             path=path, fix="rerun the stage that writes it with this dnalens version.")
        else:
            out[target] = np.nan
    return pd.DataFrame(out)


def normalise_scores(frame: pd.DataFrame, path: Path | None = None) -> pd.DataFrame:
    scores = _rename(frame, _SCORE_ALIASES, required=("feature", "concept", "f1_heldout", "auroc_heldout"),
                     what="probe score table", path=path)
    scores = scores.astype({"feature": np.int64, "concept": str})
    if scores["annotated"].notna().all():
        scores["annotated"] = scores["annotated"].astype(bool)
    return scores[list(SCORE_COLUMNS)]


def probing_rule(summary: dict[str, Any]) -> str:
    """The probing stage's annotation rule in words, from probe/summary.json."""
    s = summary.get("settings") or {}
    if not {"min_auroc", "min_f1", "max_q"} <= set(s):
        return "as decided by the probing stage"
    rule = f"held-out AUROC ≥ {s['min_auroc']} or held-out F1 ≥ {s['min_f1']}, with q ≤ {s['max_q']}"
    if "min_instances" in s:
        rule += f", for concepts with ≥ {s['min_instances']} instances"
    return rule + " (probing settings)"


def normalise_windows(frame: pd.DataFrame) -> pd.DataFrame:
    if "token_start" not in frame and "token_offset" in frame:  # offsets only: ranges are back to back
        counts = (frame["end"] - frame["start"]).to_numpy()
        frame = frame.assign(token_start=np.concatenate(([0], np.cumsum(counts)[:-1])), token_end=np.cumsum(counts))
    windows = _rename(frame, _WINDOW_ALIASES, required=WINDOW_COLUMNS, what="buffer window table", path=None)
    if "read_offset" in frame:
        windows["read_offset"] = frame["read_offset"].to_numpy()
    return windows


def normalise_probes(frame: pd.DataFrame) -> pd.DataFrame:
    return _rename(frame, _PROBE_ALIASES, required=("concept",), what="probe table", path=None)


def _parquet_with(directory: Path, columns: set[str]) -> tuple[pd.DataFrame, Path] | None:
    """The first parquet file in `directory` whose columns include one alias of each name in `columns`."""
    import pyarrow.parquet as pq

    for path in sorted(directory.glob("*.parquet")):
        names = set(pq.read_schema(path).names)
        if all(any(a in names for a in _SCORE_ALIASES.get(c, _PROBE_ALIASES.get(c, (c,)))) for c in columns):
            return pd.read_parquet(path), path
    return None


def read_probe_tables(probe_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feature × concept scores, per-concept dense/SAE probe AUROC) from the probing stage's folder:
    feature_concept.parquet and concepts.parquet (any parquet with those columns as a fallback)."""
    directory = Path(probe_dir)
    if not directory.is_dir():
        raise InputError("probe results folder not found.", path=directory, fix="run `dnalens probe` first.")
    named = directory / "feature_concept.parquet"
    found = (pd.read_parquet(named), named) if named.exists() else _parquet_with(directory, {"feature", "concept", "f1_heldout"})
    if found is None:
        raise InputError("no feature × concept score table (.parquet) in the probe folder.", path=directory,
                         fix="run `dnalens probe` first.")
    scores = normalise_scores(*found)
    named = directory / "concepts.parquet"
    probes_found = (pd.read_parquet(named), named) if named.exists() else _parquet_with(
        directory, {"concept", "dense_probe_auroc"})
    probes = normalise_probes(probes_found[0]) if probes_found else pd.DataFrame(columns=list(_PROBE_ALIASES))
    return scores, probes


def read_label_summary(path: str | Path) -> pd.DataFrame:
    summary = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])
    if "concept" not in summary:
        raise InputError("concept summary has no 'concept' column.", path=path, fix="rerun `dnalens labels`.")
    return summary


def read_json(path: str | Path | None) -> dict[str, Any]:
    if path is None or not Path(path).exists():
        return {}
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg}).", path=path) from None


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


def read_report_inputs(paths: InputPaths) -> ReportInputs:
    """Open every input; the FASTA stays indexed on disk (pyfaidx) and is read per window."""
    from dnalens.buffer import ActivationBuffer
    from dnalens.genome.fasta import open_fasta, read_chrom_sizes
    from dnalens.genome.window_table import reverse_complement

    contig_lengths = read_chrom_sizes(paths.chrom_sizes)
    buffer = ActivationBuffer.open(paths.buffer)
    meta = getattr(buffer, "meta", None) or {}
    windows = buffer.windows if isinstance(buffer.windows, pd.DataFrame) else pd.DataFrame(buffer.windows)
    scores, probes = read_probe_tables(paths.probe)
    quality = read_json(paths.sae_quality)
    fasta = open_fasta(paths.fasta)

    def sequence_of(contig: str, start: int, end: int, strand: str) -> str:
        length = contig_lengths[contig]
        record = fasta[contig]
        pieces, pos = [], start
        while pos < end:  # windows on circular contigs wrap: take bases modulo the length
            a = pos % length
            b = min(length, a + (end - pos))
            pieces.append(str(record[a:b]))
            pos += b - a
        bases = "".join(pieces).upper()
        return reverse_complement(bases) if strand == "-" else bases

    if paths.annotation is not None:
        from dnalens.genome.gff3 import read_normalized_gff3

        annotation = read_normalized_gff3(paths.annotation)
        regions = regions_from_annotation(annotation, contig_lengths)
        anchors = anchors_from_annotation(annotation)
    else:
        from dnalens.report.regions import REGION_COLUMNS, Regions

        regions = Regions(pd.DataFrame(columns=list(REGION_COLUMNS)), contig_lengths)
        anchors = pd.DataFrame(columns=["contig", "position", "strand", "kind"])
    return ReportInputs(
        genome=paths.genome, codes=buffer.code_rows, feature_columns=buffer.feature_columns, windows=normalise_windows(windows), contig_lengths=contig_lengths,
        scores=scores, label_summary=read_label_summary(paths.label_summary), probes=probes, regions=regions,
        anchors=anchors, sequence_of=sequence_of, genome_fasta=paths.fasta, annotation_gff3=paths.annotation,
        model=paths.model, layer=paths.layer or str(meta.get("layer") or quality.get("layer") or "?"),
        sae=paths.sae or sae_name(meta, quality),
        sae_quality=flat_quality(quality), probing_rule=probing_rule(read_json(paths.probe / "summary.json")),
    )


QUALITY_LABELS = {  # sae_quality.json key → run-summary label, in display order
    "architecture": "architecture", "d_sae": "features", "k": "k", "l0": "mean active features per nt (L0)",
    "fvu": "fraction of variance unexplained", "loss_recovered": "loss recovered", "dead_fraction": "dead features",
    "dense_fraction": "dense features", "n_tokens": "nt evaluated",
}


def flat_quality(quality: dict[str, Any]) -> dict[str, Any]:
    """sae_quality.json → ordered {label: value}: known keys first with readable labels, then the rest."""
    flat = {**{k: v for k, v in quality.items() if not isinstance(v, dict)},
            **{k: v for sub in quality.values() if isinstance(sub, dict) for k, v in sub.items()}}
    out = {label: flat.pop(key) for key, label in QUALITY_LABELS.items() if key in flat}
    out.update({k: v for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out


def sae_name(meta: dict[str, Any], quality: dict[str, Any]) -> str:
    """Short SAE description for titles: architecture, width and k when known, else the SAE folder name."""
    if quality.get("architecture") and quality.get("d_sae"):
        k = f", k={quality['k']}" if quality.get("k") else ""
        lookup = f", {quality['base_lookup']}-mer lookup" if quality.get("base_lookup") else ""
        strands = ", one dictionary for both strands" if quality.get("strand_shared") else ""
        return f"{quality['architecture']} ({quality['d_sae']} features{k}{lookup}{strands})"
    return Path(str(meta.get("sae") or "?")).name
