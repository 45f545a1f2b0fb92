"""report.html content: run summary, concept and feature tables, one card per annotated feature.

A card answers "what does this feature mean, where does it fire, how sure are we": best concept with
held-out metrics, its strongest windows drawn with the annotation beneath and the bases it lights
up, and its mean activation around start codons, stop codons and splice sites.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from dnalens import __version__
from dnalens.report import html, plots
from dnalens.report.feature_reader import FeatureReader
from dnalens.report.metagene import metagene_profiles
from dnalens.report.options import ReportSettings
from dnalens.report.tokens import TokenMap, display_locus
from dnalens.report.top_windows import best_windows, read_span_to_genome, window_profile
from dnalens.report.tracks import feature_colour

if TYPE_CHECKING:
    from dnalens.report.stage import ReportInputs

WINDOWS_PER_CARD = 3
FEATURE_ROWS = 25


def card_features(table: pd.DataFrame, settings: ReportSettings) -> list[int]:
    """Annotated features that fire, best first; when none pass, the best few candidates."""
    live = table[table["max_activation"] > 0]
    chosen = live[live["annotated"]].head(settings.max_cards)
    if chosen.empty:
        chosen = live.head(min(settings.max_cards, 6))
    return [int(f) for f in chosen["feature_id"]]


def _metrics(row: pd.Series, score: pd.Series | None) -> list[tuple[str, Any]]:
    out = [("held-out F1", row["heldout_f1"]), ("AUROC", row["heldout_auroc"]),
           ("precision", row["heldout_precision"]), ("recall", row["heldout_recall"])]
    if score is not None:
        out.append(("train F1", score["f1_train"]))
    out += [("threshold", row["threshold"]), ("q", row["q_value"]),
            ("active in", f"{100 * row['activation_frequency']:.2f}% of nt"), ("max activation", row["max_activation"]),
            ("hits", row["n_hits"])]
    return out


def _window_views(inputs: ReportInputs, settings: ReportSettings, codes: FeatureReader, tokens: TokenMap,
                  feature: int, colour: str, on_level: float, ymax: float) -> list[dict[str, Any]]:
    views = []
    for w, peak_row, value in best_windows(codes, feature, tokens, min(WINDOWS_PER_CARD, settings.top_windows)):
        win = tokens.windows.iloc[w]
        contig, start, end, strand = win["contig"], int(win["start"]), int(win["end"]), win["strand"]
        length = inputs.contig_lengths[contig]
        profile = window_profile(codes, feature, tokens, w)
        peak_offset = int(tokens.offset[peak_row])
        a, b = max(0, peak_offset - settings.sequence_flank), min(len(profile), peak_offset + settings.sequence_flank + 1)
        ctx = read_span_to_genome(win, a, b)
        svg = plots.activation_track_svg(
            profile, contig=contig, start=start, end=end, strand=strand,
            parts=inputs.regions.overlapping(contig, start, end), colour=colour, on_level=on_level, ymax=ymax,
            contig_length=length, title=f"f{feature} along {display_locus(contig, start, end, length)} ({strand})")
        views.append({
            "locus": display_locus(contig, start, end, length), "strand": strand,
            "peak": f"{contig}:{int(tokens.position[peak_row]) + 1:,}", "activation": value,
            "genes": ", ".join(inputs.regions.gene_names(contig, start, end)), "svg": Markup(svg),
            "context": display_locus(contig, ctx[0], ctx[1], length),
            "sequence": html.sequence_html(inputs.sequence_of(contig, ctx[0], ctx[1], strand), profile[a:b],
                                           on_level, colour),
        })
    return views


def render(inputs: ReportInputs, settings: ReportSettings, codes: FeatureReader, tokens: TokenMap,
           table: pd.DataFrame, concept_summary: pd.DataFrame, features: list[int], colours: dict[int, str],
           on_level: dict[int, float], relative: np.ndarray, maxima: np.ndarray, track_files: list[str]) -> str:
    """The whole report.html text."""
    by_id = table.set_index("feature_id")
    scores = inputs.scores.set_index(["feature", "concept"]) if len(inputs.scores) else None
    profiles = metagene_profiles(codes, features, tokens, inputs.anchors, flank=settings.metagene_flank,
                                 max_anchors=settings.max_anchors)
    card_list = []
    for i, f in enumerate(features):
        row = by_id.loc[f]
        colour = colours.get(f, feature_colour(i))
        level = on_level.get(f, float(relative[f] * maxima[f]))
        concept = row["best_concept"] if isinstance(row["best_concept"], str) else ""
        score = scores.loc[(f, concept)] if scores is not None and concept and (f, concept) in scores.index else None
        card_list.append({
            "feature_id": f, "colour": colour, "concept": concept, "annotated": bool(row["annotated"]),
            "metrics": _metrics(row, score),
            "windows": _window_views(inputs, settings, codes, tokens, f, colour, level, float(maxima[f])),
            "metagene": Markup(plots.metagene_svg(profiles[f], colour, f"f{f} metagene")) if len(inputs.anchors) else "",
        })
    on_cards = set(features)
    feature_rows = [{**{k: (None if _missing(v) else v) for k, v in r.items()}, "card": r["feature_id"] in on_cards}
                    for r in table.head(FEATURE_ROWS).to_dict("records")]
    concepts = [{k: (None if _missing(v) else v) for k, v in r.items()} for r in concept_summary.to_dict("records")]
    concepts.sort(key=lambda c: -(c["best_feature_f1"] or 0) if c["n_features_passing"] else 0)
    n_annotated = int(table["annotated"].sum())
    notes = []
    if n_annotated == 0:
        notes.append("No feature passes the thresholds on held-out data; the cards show the best candidates, "
                     "which should not be read as findings.")
    if inputs.scores.empty:
        notes.append("No probing scores were found: features are ranked by activation only.")
    context = {
        "title": f"dnalens — {inputs.genome}",
        "subtitle": f"What has the model learned about this genome?  Model: {inputs.model} · layer: {inputs.layer} · "
                    f"SAE: {inputs.sae}",
        "summary": [("genome", inputs.genome), ("model", inputs.model), ("layer", inputs.layer), ("SAE", inputs.sae),
                    ("contigs", len(inputs.contig_lengths)), ("windows", len(inputs.windows)),
                    ("nucleotides read", codes.shape[0]), ("SAE features", codes.shape[1]),
                    ("features that ever fire", int((table["max_activation"] > 0).sum())),
                    ("annotated features", n_annotated), ("concepts", len(concept_summary)),
                    ("feature × concept pairs passing", int(_passing_pairs(inputs, settings)))],
        "sae_quality": {k: v for k, v in inputs.sae_quality.items() if isinstance(v, (int, float, str, bool))},
        "notes": notes,
        "thresholds": _threshold_text(inputs, settings),
        "concepts_found": [c for c in concepts if c["n_features_passing"]],
        "concepts_other": [c for c in concepts if not c["n_features_passing"]],
        "features": feature_rows,
        "features_note": f"top {min(FEATURE_ROWS, len(table))} of {len(table)}; all in features.tsv",
        "cards": card_list,
        "files": _files(track_files),
        "settings": json.dumps(settings.__dict__, default=list),
        "version": __version__,
    }
    return html.render_report(context)


def _threshold_text(inputs: ReportInputs, settings: ReportSettings) -> str:
    if settings.overrides_probing or "annotated" not in inputs.scores or inputs.scores["annotated"].isna().any():
        return (f"held-out F1 ≥ {settings.threshold('min_f1')}, AUROC ≥ {settings.threshold('min_auroc')} "
                f"and q ≤ {settings.threshold('max_q')} (report settings)")
    return inputs.probing_rule


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value))


def _passing_pairs(inputs: ReportInputs, settings: ReportSettings) -> int:
    from dnalens.report.tables import passes

    return int(passes(inputs.scores, settings).sum()) if len(inputs.scores) else 0


def _files(track_files: list[str]) -> list[tuple[str, str]]:
    files = [("features.tsv", "one row per feature: frequency, activation, best concept, strongest hit"),
             ("feature_concepts.tsv", "feature × concept pairs that pass the thresholds (train and held-out)"),
             ("concept_summary.tsv", "per concept: instances, coverage, best features, probe AUROC"),
             ("top_windows.tsv", "per feature its strongest windows, genes and sequence (UPPER = on)"),
             ("hits.gff3", "feature hits as GFF3 sequence_feature (1-based)"),
             ("tracks/igv_session.xml", "IGV session: genome, annotation, hits and activation tracks")]
    files += [(f"tracks/{name}", "per-nucleotide activation, one strand (bigWig)")
              for name in track_files if name.endswith(".bw")]
    files.append(("tracks/hits.bed", "feature hits, BED9 coloured per feature"))
    return files
