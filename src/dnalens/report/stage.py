"""The report stage: in-memory inputs → every table, track and the HTML page under results/<genome>/.

`run_report` takes plain objects (a sparse code matrix, a window table, a score table, lookups),
so the whole stage runs in tests on a hand-made genome; `inputs.py` defines `ReportInputs` and reads
the real stage outputs into one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.atomic import atomic_dir, write_text
from dnalens.errors import InputError
from dnalens.formats.feature_columns import FeatureColumns, feature_bounds
from dnalens.formats.probe_dir import SCORE_COLUMNS
from dnalens.report import (
    cards,
    discovery,
    effects_view,
    findings,
    model_context,
    portraits,
    steer_view,
    tables,
    tracks,
    views,
)
from dnalens.report.feature_reader import FeatureReader
from dnalens.report.hits import hit_cap_header, hit_summary, selected_hits, with_header_lines
from dnalens.report.inputs import ReportInputs
from dnalens.report.options import ReportSettings
from dnalens.report.regions import Regions
from dnalens.report.tokens import TokenMap, build_token_map, display_locus
from dnalens.report.top_windows import top_windows

log = logging.getLogger(__name__)
FEATURE_BLOCK_ENTRIES = 8_000_000  # code values per block of features (about 20 bytes each while processed)


@dataclass(frozen=True)
class ReportPaths:
    """Output layout under results/<genome>/ (the per-genome outputs listed in README.md and docs/ARCHITECTURE.md)."""

    root: Path

    @property
    def features_tsv(self) -> Path:
        return self.root / "features.tsv"

    @property
    def features_parquet(self) -> Path:
        return self.root / "features.parquet"

    @property
    def feature_concepts_tsv(self) -> Path:
        return self.root / "feature_concepts.tsv"

    @property
    def concept_summary_tsv(self) -> Path:
        return self.root / "concept_summary.tsv"

    @property
    def top_windows_tsv(self) -> Path:
        return self.root / "top_windows.tsv"

    @property
    def hits_gff3(self) -> Path:
        return self.root / "hits.gff3.gz"  # bgzip, with hits.gff3.gz.tbi next to it

    @property
    def candidates_gff3(self) -> Path:
        return self.root / "candidates.gff3"

    @property
    def tracks(self) -> Path:
        return self.root / "tracks"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"


def _with_top_loci(top: pd.DataFrame, lengths: dict[str, int], regions: Regions) -> pd.DataFrame:
    """Strongest hit per latent as text, with the genes (and products) it overlaps."""
    if top.empty:
        return pd.DataFrame(columns=["top_locus", "top_strand", "top_activation", "n_hits", "top_genes"])
    spans = list(zip(top["contig"], top["start"].astype(int), top["end"].astype(int)))
    loci = [display_locus(c, s, e, lengths[c]) for c, s, e in spans]
    genes = ["; ".join(regions.gene_labels(c, s, e)) for c, s, e in spans]
    return pd.DataFrame(
        {
            "top_locus": loci,
            "top_strand": top["strand"],
            "top_activation": top["activation"],
            "n_hits": top["n_hits"],
            "top_genes": genes,
        },
        index=top.index,
    )


def _check_chosen(chosen: tuple[int, ...], n_latents: int) -> None:
    bad = [f for f in chosen if not 0 <= f < n_latents]
    if bad:
        raise InputError(
            f"report.bigwig_features lists latent(s) {bad} but the SAE has {n_latents} latents.",
            fix=f"use ids between 0 and {n_latents - 1} (features.tsv `latent`).",
        )


def drawn_labels(table: pd.DataFrame) -> pd.Series:
    """Per latent, the label of what hits and tracks draw: the own-strand column (a strand-shared SAE's
    opposite-strand label describes the same latent on the other strand's reads)."""
    return table.set_index("latent")["own_label" if "own_label" in table else "label"]


def write_tracks(
    directory: Path,
    inputs: ReportInputs,
    reader: FeatureReader,
    tokens: TokenMap,
    hits: pd.DataFrame,
    track_features: list[int],
    colours: dict[int, str],
    table: pd.DataFrame,
    gff3: Path,
) -> list[str]:
    """tracks/: per-strand bigWigs of `track_features`, hits.bed.gz (+ .tbi), chrom.sizes and an IGV session
    that loads exactly these, the annotation and `gff3` (written into `directory`)."""
    concepts = {int(f): str(c) for f, c in drawn_labels(table).items() if isinstance(c, str)}
    written = []
    final = directory.parent / "tracks"
    resources: list[tuple[Path, str, str | None]] = []
    if inputs.annotation_gff3 is not None and Path(inputs.annotation_gff3).exists():
        resources.append((inputs.annotation_gff3, "annotation", None))
    resources.append((final / "hits.bed.gz", "dnalens hits (annotated latents)", None))
    resources.append((gff3, "dnalens hits (GFF3, with labels and scores)", None))
    for f in track_features:
        rows, values = reader.column(f)
        label = f"f{f}" + (f" {concepts[f]}" if f in concepts else "")
        for strand, minus in (("plus", False), ("minus", True)):
            name = f"f{f}.{strand}.bw"
            tracks.write_bigwig(
                directory / name, inputs.contig_lengths, tracks.strand_maxima(rows, values, tokens, minus)
            )
            resources.append((final / name, f"{label} ({'+' if not minus else '−'} strand)", colours.get(f)))
            written.append(name)
    tracks.write_tabix(
        directory / "hits.bed.gz", tracks.bed9_text(hits, inputs.contig_lengths, colours, concepts), "bed"
    )
    tracks.write_chrom_sizes(directory / "chrom.sizes", inputs.contig_lengths)
    first = hits.iloc[0] if len(hits) else None
    locus = (
        display_locus(
            first["contig"],
            max(int(first["start"]) - 200, 0),
            int(first["end"]) + 200,
            inputs.contig_lengths[first["contig"]],
        )
        if first is not None
        else "All"
    )
    write_text(
        directory / "igv_session.xml",
        tracks.igv_session_xml(final / "igv_session.xml", inputs.genome_fasta, locus, resources),
    )
    return written + ["hits.bed.gz", "hits.bed.gz.tbi", "chrom.sizes", "igv_session.xml"]


def _sorted_csc(codes) -> sp.csc_matrix:
    csc = sp.csc_matrix(codes, dtype=np.float32)
    csc.sort_indices()
    return csc


def _range_blocks(source, lo: int, hi: int, max_entries: int):
    """(f0, f1, CSC block) over features [lo, hi) of a FeatureColumns or a sorted CSC."""
    for a, b in feature_bounds(np.diff(source.indptr)[lo:hi], max_entries) if hi > lo else []:
        f0, f1 = lo + a, lo + b
        yield f0, f1, (source.block(f0, f1) if isinstance(source, FeatureColumns) else source[:, f0:f1])


PASS_COLUMNS = ("feature", "n_active_tokens", *tables.STAT_COLUMNS, *tables.HIT_SUMMARY_COLUMNS)


@dataclass(frozen=True)
class Prepared:
    """What every part of the report derives from the inputs first (cheap: no pass over the codes)."""

    source: Any  # FeatureColumns or a sorted CSC
    layout: views.Layout
    tokens: TokenMap
    scores: pd.DataFrame
    probe: pd.DataFrame  # views.per_latent label metrics
    relative: np.ndarray  # per latent: the fraction of its max above which it is on


def prepare(inputs: ReportInputs, settings: ReportSettings) -> Prepared:
    source = inputs.feature_columns if inputs.feature_columns is not None else _sorted_csc(inputs.codes)
    n_tokens, n_features = source.shape
    layout = views.Layout(n_features, inputs.strand_shared)
    _check_chosen(settings.bigwig_features, layout.n_latents)
    tokens = build_token_map(inputs.windows, inputs.contig_lengths, n_tokens)
    scores = inputs.scores.reindex(columns=list(SCORE_COLUMNS))
    probe = views.per_latent(tables.label_metrics(scores, inputs.feature_labels, settings), layout)
    relative = np.full(layout.n_latents, settings.hit_threshold)
    # hits and tracks draw the own-strand column: its label pair's threshold (views.py)
    has_threshold = probe["own_threshold" if "own_threshold" in probe else "threshold"].dropna()
    relative[has_threshold.index.to_numpy(int)] = has_threshold.to_numpy(float)
    return Prepared(source, layout, tokens, scores, probe, relative)


def latent_passes(prep: Prepared, inputs: ReportInputs, lo: int, hi: int) -> pd.DataFrame:
    """The per-latent work over every stored value, for latents [lo, hi) (PASS_COLUMNS, one row each):
    statistics, hit count and strongest hit with its genes. The own-strand view of a strand-shared SAE
    (the opposite one mirrors it); one block of features read at a time. `report_part` jobs each run
    one range (parts.py); results do not depend on how the latents are split."""
    stats, hits = [], []
    for f0, f1, block in _range_blocks(prep.source, lo, hi, FEATURE_BLOCK_ENTRIES):
        block_stats = tables.feature_stats(block)
        block_stats["feature"] += f0
        block_hits = hit_summary(block, prep.tokens, prep.relative[f0:f1], block_stats["max_activation"].to_numpy())
        block_hits.index = block_hits.index + f0
        stats.append(block_stats)
        hits.append(block_hits)
    if not stats:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in PASS_COLUMNS}).astype({"feature": np.int64})
    top = _with_top_loci(pd.concat(hits), inputs.contig_lengths, inputs.regions)
    out = pd.concat(stats, ignore_index=True).set_index("feature").join(top, how="left")
    return out.reset_index().reindex(columns=list(PASS_COLUMNS))


def check_passes(passes: pd.DataFrame, n_latents: int) -> pd.DataFrame:
    """`latent_passes` rows (from report_part jobs) must be latents 0..n_latents-1, each once."""
    passes = passes.sort_values("feature", kind="stable").reset_index(drop=True)
    if not np.array_equal(passes["feature"].to_numpy(np.int64), np.arange(n_latents)):
        raise InputError(
            f"the report parts hold {len(passes)} rows for {n_latents} latents (missing or repeated latents).",
            fix="rerun every report_part job with the same buffer and --parts.",
        )
    return passes


def intervention_blocks(inputs: ReportInputs, latents: list[int]) -> dict[int, str]:
    """Per card latent, its "What it does" HTML: the ablation against matched controls (rule effects) and the
    steering figure (rule steer), where those stages ran and tested it."""
    blocks = {}
    for f in latents:
        parts = [effects_view.what_it_does_html(inputs.effects, f) if inputs.effects is not None else ""]
        parts.append(steer_view.steer_card(inputs.steer, f, inputs.steer_figures.get(f, "")) or "")
        if any(parts):
            blocks[f] = "".join(parts)
    return blocks


def run_report(
    inputs: ReportInputs, settings: ReportSettings, out_root: str | Path, passes: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Write every report output for one genome; returns counts for the log. `passes`: the gathered
    `latent_passes` of every latent (report_part jobs), else computed here."""
    paths = ReportPaths(Path(out_root))
    prep = prepare(inputs, settings)
    source, layout, tokens, scores, relative = prep.source, prep.layout, prep.tokens, prep.scores, prep.relative
    n_tokens, n_features = source.shape
    if passes is None:
        log.info(
            "statistics and hits for %d latents (%d features) over %d tokens", layout.n_latents, n_features, n_tokens
        )
        passes = latent_passes(prep, inputs, 0, layout.n_latents)
    passes = check_passes(passes, layout.n_latents)
    stats = passes[["feature", "n_active_tokens", *tables.STAT_COLUMNS]]
    maxima = stats["max_activation"].to_numpy()
    top = passes.set_index("feature")[list(tables.HIT_SUMMARY_COLUMNS)]
    top = top[top["n_hits"].fillna(0) > 0]
    table = tables.feature_table(stats, prep.probe, top, layer=inputs.layer, sae=inputs.sae)
    table = model_context.with_replicate_columns(table, inputs.model_context)
    if inputs.effects is not None:  # rule effects: ablation against matched controls (report/effects_view.py)
        table = table.merge(effects_view.feature_columns(inputs.effects), on="latent", how="left")
    pairs = views.with_latents(tables.feature_concepts(scores, settings), layout).assign(
        layer=inputs.layer, sae=inputs.sae
    )
    margin_cut = settings.min_margin if settings.min_margin is not None else inputs.min_margin
    summary = tables.concept_summary(
        inputs.label_summary, scores, inputs.concepts, settings, layout.latent_of, margin_cut
    )

    # genome-browser files (hits, bigWigs) only for latents that pass the annotation rule (and the listed ones)
    track_features = tables.browser_latents(table, settings.top_n_tracks, settings.bigwig_features)
    ranked = tables.rank_features(table, settings.detailed_features)
    detailed = list(dict.fromkeys(track_features + ranked))
    card_features = cards.card_features(table, settings)
    # the detailed and card latents' columns, read one at a time (together they can be GBs)
    reader = FeatureReader(source)
    found = portraits.portraits(
        reader,
        list(dict.fromkeys(card_features + detailed)),
        tokens,
        inputs.sequence_of,
        inputs.contig_lengths,
        inputs.regions,
    )
    table.insert(int(table.columns.get_loc("label")), "description", portraits.descriptions(table, found, margin_cut))
    colours = {f: tracks.feature_colour(i) for i, f in enumerate(detailed)}
    on_level = {f: relative[f] * maxima[f] for f in detailed}
    windows_table = top_windows(
        reader,
        detailed,
        tokens,
        k=settings.top_windows,
        on_level=on_level,
        flank=settings.sequence_flank,
        sequence_of=inputs.sequence_of,
        genes_of=inputs.regions.gene_labels,
    ).rename(columns={"feature_id": "latent"})
    detailed_hits = selected_hits(reader, track_features, tokens, relative, maxima, settings.max_hits_per_feature)
    drawn = drawn_labels(table)
    chosen = discovery.choose_latents(table, drawn)
    # strong runs only: on above max(label threshold, STRONG_FRACTION) of the latent's max (benchmarks/discovery.py)
    strong = np.maximum(relative, discovery.STRONG_FRACTION)
    found_hits = selected_hits(reader, list(chosen.latents), tokens, strong, maxima, settings.max_hits_per_feature)
    candidates = discovery.find_candidates(found_hits, chosen, inputs.regions, sequence_of=inputs.sequence_of)
    info = {
        int(r.latent): {
            "label": drawn[r.latent],
            "latent_label": r.label,
            "view": r.view,
            "annotated": str(bool(r.annotated)).lower(),
        }
        for r in table[table["latent"].isin(track_features)].itertuples()
    }

    published = findings.finding_labels(table)  # `label` only where it passes; else best_candidate, marked
    tables.write_table(published, paths.features_tsv)
    tables.write_table(published, paths.features_parquet)
    tables.write_table(pairs, paths.feature_concepts_tsv)
    tables.write_table(summary, paths.concept_summary_tsv)
    tables.write_table(windows_table, paths.top_windows_tsv)
    n_hits = table.set_index("latent")["n_hits"].reindex(track_features).fillna(0).astype(int).to_dict()
    gff3 = tracks.gff3_chunks(detailed_hits, inputs.contig_lengths, info, colours)
    cap = hit_cap_header(n_hits, settings.max_hits_per_feature)  # the cap, stated in the file itself
    tracks.write_tabix(paths.hits_gff3, with_header_lines(gff3, cap), "gff")
    write_text(
        paths.candidates_gff3, discovery.candidates_gff3(candidates, chosen, inputs.contig_lengths, inputs.genome)
    )
    with atomic_dir(paths.tracks) as tmp_tracks:
        track_files = write_tracks(
            tmp_tracks, inputs, reader, tokens, detailed_hits, track_features, colours, table, paths.hits_gff3
        )

    html = cards.render(
        inputs,
        settings,
        reader,
        tokens,
        table,
        summary,
        card_features,
        colours,
        on_level,
        relative,
        maxima,
        track_files,
        margin_cut=margin_cut,
        n_features=n_features,
        portraits=found,
        card_blocks=intervention_blocks(inputs, card_features),
    )
    write_text(paths.report_html, html)
    return {
        "features": n_features,
        "latents": layout.n_latents,
        "annotated": int(table["annotated"].sum()),
        "hits": int(passes["n_hits"].fillna(0).sum()),
        "tracks": len(track_features),
        "cards": len(card_features),
        "candidates": len(candidates),
    }
