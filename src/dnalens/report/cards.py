"""report.html content: "what the model learned" (every evaluated concept → its train-chosen best
latent against the best sequence-only baseline), SAE health in words, the latent table, and one card
per annotated latent.

A card answers "what does this latent mean, where does it fire, how sure are we": its label (chosen
on train) with held-out AUROC, baseline and margin, its strongest windows drawn with the annotation
beneath and the bases it lights up, and its mean activation around start codons, stop codons and
splice sites.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from dnalens import __version__
from dnalens.report import html, layer_figure, plots
from dnalens.report.feature_reader import FeatureReader
from dnalens.report.health import sae_health
from dnalens.report.hits import hit_cap_note
from dnalens.report.inputs import ReportInputs
from dnalens.report.latent_index import latent_data
from dnalens.report.logo import logo_svg
from dnalens.report.metagene import metagene_profiles
from dnalens.report.model_context import ModelContext, model_context_lines, replicate_text
from dnalens.report.options import ReportSettings
from dnalens.report.tokens import TokenMap, display_locus, igv_goto_url
from dnalens.report.top_windows import best_windows, read_span_to_genome, window_profile
from dnalens.report.tracks import feature_colour

WINDOWS_PER_CARD = 3
FEATURE_ROWS = 25


def card_features(table: pd.DataFrame, settings: ReportSettings) -> list[int]:
    """Annotated latents that fire, largest margin over the best sequence-only baseline first; none when
    nothing is annotated (a candidate below the thresholds is not a finding)."""
    live = table[(table["max_activation"] > 0) & table["annotated"]]
    live = live.sort_values(["margin", "latent"], ascending=[False, True], kind="stable", na_position="last")
    return [int(f) for f in live["latent"].head(settings.max_cards)]


def _metrics(row: pd.Series, context: ModelContext | None = None) -> list[tuple[str, Any]]:
    out = [
        ("held-out AUROC", row["auroc_test"]),
        ("best baseline AUROC", row["baseline_auroc_test"]),
        ("margin", row["margin"]),
        ("q", row["q"]),
        ("train AUROC", row["auroc_train"]),
        ("held-out F1", row["f1_test"]),
        ("precision", row["precision_test"]),
        ("recall", row["recall_test"]),
        ("threshold", row["threshold"]),
        ("active in", f"{100 * row['activation_frequency']:.2f}% of nt"),
        ("max activation", row["max_activation"]),
        ("hits", row["n_hits"]),
    ]
    if "opposite_label" in row.index:
        other = "opposite" if row["view"] == "own" else "own"
        label = row[f"{other}_label"] if isinstance(row[f"{other}_label"], str) else "–"
        out.append((f"{other}-strand view", f"{label} (margin {html._number(row[f'{other}_margin'])})"))
    if context is not None:
        out.append(("best match in the replicate", replicate_text(context, int(row.name))))
    return out


def _window_views(
    inputs: ReportInputs,
    settings: ReportSettings,
    codes: FeatureReader,
    tokens: TokenMap,
    feature: int,
    colour: str,
    on_level: float,
    ymax: float,
) -> list[dict[str, Any]]:
    views = []
    for w, peak_row, value in best_windows(codes, feature, tokens, min(WINDOWS_PER_CARD, settings.top_windows)):
        win = tokens.windows.iloc[w]
        contig, start, end, strand = win["contig"], int(win["start"]), int(win["end"]), win["strand"]
        length = inputs.contig_lengths[contig]
        profile = window_profile(codes, feature, tokens, w)
        first = int(win["read_offset"]) if "read_offset" in win.index else 0
        read_span = (first, first + int(win["token_end"] - win["token_start"]))
        peak_offset = int(tokens.offset[peak_row])
        a, b = (
            max(0, peak_offset - settings.sequence_flank),
            min(len(profile), peak_offset + settings.sequence_flank + 1),
        )
        ctx = read_span_to_genome(win, a, b)
        svg = plots.activation_track_svg(
            profile,
            contig=contig,
            start=start,
            end=end,
            strand=strand,
            parts=inputs.regions.overlapping(contig, start, end),
            colour=colour,
            on_level=on_level,
            ymax=ymax,
            contig_length=length,
            title=f"f{feature} along {display_locus(contig, start, end, length)} ({strand})",
            read_span=read_span,
        )
        views.append(
            {
                "locus": display_locus(contig, start, end, length),
                "strand": strand,
                "igv": igv_goto_url(contig, start, end, length),
                "peak": f"{contig}:{int(tokens.position[peak_row]) + 1:,}",
                "activation": value,
                "genes": "; ".join(inputs.regions.gene_labels(contig, start, end)),
                "svg": Markup(svg),
                "context": display_locus(contig, ctx[0], ctx[1], length),
                "sequence": html.sequence_html(
                    inputs.sequence_of(contig, ctx[0], ctx[1], strand), profile[a:b], on_level, colour
                ),
            }
        )
    return views


def render(
    inputs: ReportInputs,
    settings: ReportSettings,
    codes: FeatureReader,
    tokens: TokenMap,
    table: pd.DataFrame,
    concept_summary: pd.DataFrame,
    features: list[int],
    colours: dict[int, str],
    on_level: dict[int, float],
    relative: np.ndarray,
    maxima: np.ndarray,
    track_files: list[str],
    *,
    margin_cut: float,
    n_features: int,
    portraits: dict | None = None,
    card_blocks: dict[int, str] | None = None,
) -> str:
    """The whole report.html text; `portraits` (portraits.py) give each card its sequence logo, `card_blocks`
    its "What it does" HTML (ablation and steering, stage.intervention_blocks)."""
    portraits = portraits or {}
    card_blocks = card_blocks or {}
    context: ModelContext | None = getattr(inputs, "model_context", None)
    by_id = table.set_index("latent")
    profiles = metagene_profiles(
        codes, features, tokens, inputs.anchors, flank=settings.metagene_flank, max_anchors=settings.max_anchors
    )
    card_list = []
    for i, f in enumerate(features):
        row = by_id.loc[f]
        colour = colours.get(f, feature_colour(i))
        level = on_level.get(f, float(relative[f] * maxima[f]))
        card_list.append(
            {
                "feature_id": f,
                "colour": colour,
                "concept": row["label"] if isinstance(row["label"], str) else "",
                "view": row["view"],
                "annotated": bool(row["annotated"]),
                "metrics": _metrics(row, context),
                "description": row["description"] if isinstance(row.get("description"), str) else "",
                "logo": _logo(portraits.get(f), f),
                "windows": _window_views(inputs, settings, codes, tokens, f, colour, level, float(maxima[f])),
                "metagene": Markup(plots.metagene_svg(profiles[f], colour, f"f{f} metagene"))
                if len(inputs.anchors)
                else "",
                "does": Markup(card_blocks.get(f, "")),
            }
        )
    on_cards = set(features)
    feature_rows = [
        {**{k: (None if _missing(v) else v) for k, v in r.items()}, "card": r["latent"] in on_cards}
        for r in table.head(FEATURE_ROWS).to_dict("records")
    ]
    concepts = [{k: (None if _missing(v) else v) for k, v in r.items()} for r in concept_summary.to_dict("records")]
    learned = [c for c in concepts if c["evaluated"]]
    n_beat = sum(1 for c in learned if c["beats_baseline"])
    n_pass = sum(1 for c in learned if c["passes"])
    n_annotated = int(table["annotated"].sum())
    cap_note = browser_hit_cap_note(table, settings)
    notes = [cap_note]
    if n_annotated == 0:
        notes.append("No latent passes the annotation rule on held-out data, so there are no cards.")
    if inputs.scores.empty:
        notes.append("No probing scores were found: latents are ranked by activation only.")
    strands = (
        "one dictionary read on both strands: each latent is listed once (its own-strand view; "
        "the opposite-strand view is the same latent on the other strand's reads)"
        if inputs.strand_shared
        else ""
    )
    context = {
        "title": f"dnalens — {inputs.genome}",
        "subtitle": f"What has the model learned about this genome?  Model: {inputs.model} · layer: {inputs.layer} · "
        f"SAE: {inputs.sae}",
        "learned": learned,
        "card_ids": on_cards,
        "learned_sentence": (
            f"{n_beat} of {len(learned)} concepts have a latent that beats the best local sequence-only "
            f"baseline by ≥ {margin_cut:g} held-out AUROC; {n_pass} pass the whole annotation rule "
            f"({_threshold_text(inputs, settings)})."
        ),
        # with the raw sae_quality.json at hand, seed agreement is judged against this run's report setting
        "health": sae_health(context.quality, settings.seed_agreement_bar) if context else inputs.sae_health,
        # the first screen's model_context slot: bits/nt vs Markov, the read layer's ablation cost, seed agreement
        "model_context": model_context_lines(context, settings.seed_agreement_bar) if context else [],
        "hit_cap": cap_note,
        # the variants stage's section (report/variants_view.py), when the genome has `variants:`
        "variants_html": Markup(getattr(inputs, "variants_html", "") or ""),
        **_layer_scan_context(inputs),
        "summary": [
            ("genome", inputs.genome),
            ("model", inputs.model),
            ("layer", inputs.layer),
            ("SAE", inputs.sae),
            ("contigs", len(inputs.contig_lengths)),
            ("windows", len(inputs.windows)),
            ("nucleotides read", codes.shape[0]),
            ("SAE features", n_features),
            ("latents", len(table)),
            ("latents that ever fire", int((table["max_activation"] > 0).sum())),
            ("annotated latents", n_annotated),
            ("concepts", len(concept_summary)),
            ("feature × concept pairs passing", int(_passing_pairs(inputs, settings))),
        ],
        "strands": strands,
        "sae_quality": {k: v for k, v in inputs.sae_quality.items() if isinstance(v, (int, float, str, bool))},
        "notes": notes,
        "thresholds": _threshold_text(inputs, settings),
        "concepts_other": [c for c in concepts if not c["evaluated"]],
        "features": feature_rows,
        "features_note": (
            f"{len(table):,}: search and sort them here (the first {FEATURE_ROWS} without scripts); "
            "every column in features.tsv"
        ),
        "latent_data": latent_data(table, on_cards),
        "cards": card_list,
        "files": _files(track_files, inputs.layer_scan is not None, settings.max_hits_per_feature),
        # report.parts only splits the work (the same outputs for any value): not part of the page
        "settings": json.dumps({k: v for k, v in settings.__dict__.items() if k != "parts"}, default=list),
        "version": __version__,
    }
    return html.render_report(context)


def _layer_scan_context(inputs: ReportInputs) -> dict[str, Any]:
    """The layer scan's figure and sentence (layer_figure.py), or nothing when the scan did not run."""
    scan = inputs.layer_scan
    if scan is None or scan.empty:
        return {"layer_scan": "", "layer_scan_sentence": "", "layer_scan_sample": ""}
    binary = scan[scan["kind"] == "binary"]
    first = (binary if len(binary) else scan).iloc[0]
    return {
        "layer_scan": Markup(layer_figure.layer_scan_svg(scan, inputs.layer)),
        "layer_scan_sentence": layer_figure.layer_scan_sentence(scan, inputs.layer),
        "layer_scan_sample": f"{int(first['n_train']):,} train-block and {int(first['n_test']):,} held-out tokens",
    }


def _logo(portrait, feature: int) -> Markup | str:
    if portrait is None or portrait.n_peaks == 0:
        return ""
    flank = len(portrait.counts) // 2
    return Markup(
        logo_svg(
            portrait.counts,
            f"f{feature}: bases ±{flank} nt around its {portrait.n_peaks} strongest "
            "positions, read order (information content, bits)",
        )
    )


def _threshold_text(inputs: ReportInputs, settings: ReportSettings) -> str:
    extra = [
        f"{what} {op} {getattr(settings, key)}"
        for key, what, op in (
            ("min_auroc", "held-out AUROC", "≥"),
            ("min_margin", "margin", "≥"),
            ("min_f1", "held-out F1", "≥"),
            ("max_q", "q", "≤"),
        )
        if getattr(settings, key) is not None
    ]
    return inputs.annotation_rule + (f", and also {', '.join(extra)} (report settings)" if extra else "")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value))


def _passing_pairs(inputs: ReportInputs, settings: ReportSettings) -> int:
    from dnalens.report.tables import passes

    return int(passes(inputs.scores, settings).sum()) if len(inputs.scores) else 0


def browser_hit_cap_note(table: pd.DataFrame, settings: ReportSettings) -> str:
    """report.max_hits_per_feature in words for the latents the browser files hold (stage.py: browser_latents)."""
    from dnalens.report.tables import browser_latents

    written = browser_latents(table, settings.top_n_tracks, settings.bigwig_features)
    counts = table.set_index("latent")["n_hits"].reindex(written).fillna(0).astype(int)
    return hit_cap_note(counts.to_dict(), settings.max_hits_per_feature)


def _files(track_files: list[str], layer_scan: bool = False, max_hits: int | None = None) -> list[tuple[str, str]]:
    files = [
        ("features.tsv", "one row per latent: frequency, activation, label (train-chosen), strongest hit"),
        ("feature_concepts.tsv", "latent × concept pairs that pass, and each concept's train-chosen best latent"),
        ("concept_summary.tsv", "per concept: best latent (train-chosen), held-out AUROC, baseline, margin, q"),
        ("top_windows.tsv", "per latent its strongest windows, genes and sequence (UPPER = on)"),
        (
            "candidates.gff3",
            "discovery: strong runs of gene-like latents outside the annotation, with the "
            "nearest gene (header says which latents and whether they pass)",
        ),
        (
            "hits.gff3.gz",
            "hits of the annotated latents as GFF3 sequence_feature (1-based; bgzip + tabix)"
            + (f"; each latent's {max_hits:,} strongest (the header says which were cut)" if max_hits else ""),
        ),
        ("tracks/igv_session.xml", "IGV session: genome, annotation, hits and activation tracks"),
    ]
    files += [
        (f"tracks/{name}", "per-nucleotide activation, one strand (bigWig)")
        for name in track_files
        if name.endswith(".bw")
    ]
    files.append(
        (
            "tracks/hits.bed.gz",
            "hits of the annotated latents, BED9 coloured per latent (bgzip + tabix)"
            + (f"; each latent's {max_hits:,} strongest" if max_hits else ""),
        )
    )
    if layer_scan:
        files.append(
            (
                "layer_scan.tsv",
                "layer scan: dense-probe AUROC per layer × concept, cross-fitted on train blocks and held out, "
                "the layer rule's choice (no SAE)",
            )
        )
    return files
