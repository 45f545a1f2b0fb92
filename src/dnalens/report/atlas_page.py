"""results/summary/report.html: the atlas across genomes as one self-contained page (inline CSS and SVG).

It leads with what is shared and what is not (latents per pattern, per genome), then the conserved,
divergent and genome-specific latents with each genome's held-out AUROC, a latents × genomes heatmap of
annotated labels (inline SVG, like plots.py: no image library, text stays selectable) and links to each
genome's own report. With per-genome SAEs it says that latents were matched by decoder cosine and shows
the cosines.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from markupsafe import Markup

from dnalens import __version__
from dnalens.report.atlas import PATTERN_MEANING, PATTERNS, label_key
from dnalens.report.html import render_template

MAX_TABLE_ROWS = 200  # per pattern table; the rest are in atlas_latents.tsv
MAX_HEATMAP_ROWS = 400
# Okabe-Ito and Tol's muted colours: distinguishable for colour-blind readers, cycled past 14 labels
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#882255",
    "#AA4499",
)
FIRES_FILL, SILENT_FILL = "#dfe4e8", "#ffffff"
CELL_W, ROW_H, LEFT, TOP = 150, 16, 170, 34


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _cell_title(latent: int, genome: str, row: pd.Series, matched_by_cosine: bool) -> str:
    """Hover text of one latent in one genome (`row`: its atlas row): its label pair's numbers."""
    if pd.isna(row["genome_latent"]):
        return f"f{latent} in {genome}: no matched latent"
    state = "annotated" if row["annotated"] else ("fires, not annotated" if row["fires"] else "silent")
    text = (
        f"f{latent} in {genome}: {label_key(row['label'], row['view']) or 'no label'} ({state}); "
        f"held-out AUROC {_fmt(row['auroc_test'])}, baseline {_fmt(row['baseline_auroc_test'])}, "
        f"margin {_fmt(row['margin'], 2)}, q {_fmt(row['q'], 2)}, frequency {_fmt(row['frequency'], 2)}"
    )
    if matched_by_cosine:
        text += f"; matched latent f{row['genome_latent']} at decoder cosine {_fmt(row['match_cosine'])}"
    return text


def heatmap_rows(latents: pd.DataFrame, atlas: pd.DataFrame) -> list[tuple[str, int]]:
    """(group label, latent) of every latent annotated somewhere, grouped by label: the shared label, else
    the label in the first genome that annotates it. Largest groups first; within a group by pattern."""
    first = atlas[atlas["annotated"]].drop_duplicates("latent")  # atlas rows are in genome order
    first_key = {int(r.latent): label_key(r.label, r.view) for r in first.itertuples()}
    some = latents[latents["n_genomes_annotated"] > 0]
    group = [s or first_key[int(lat)] for s, lat in zip(some["shared_label"], some["latent"])]
    rank = some["pattern"].map({p: i for i, p in enumerate(PATTERNS)}).to_numpy()
    size = pd.Series(group).value_counts()
    keyed = sorted(zip(group, rank, some["latent"].astype(int)), key=lambda t: (-size[t[0]], t[0], t[1], t[2]))
    return [(g, lat) for g, _, lat in keyed]


def heatmap_svg(
    atlas: pd.DataFrame,
    rows: Sequence[tuple[str, int]],
    genomes: Sequence[str],
    colours: Mapping[str, str],
    *,
    matched_by_cosine: bool,
) -> Markup:
    """Latents (rows, grouped) × genomes (columns): an annotated cell is filled in its label's colour and
    names the label; grey = fires there but not annotated; white = silent there. Hover: the numbers."""
    cells = atlas.set_index(["latent", "genome"])
    width, height = LEFT + CELL_W * len(genomes) + 4, TOP + ROW_H * len(rows) + 4
    out = [
        f'<svg id="atlas-heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="annotated labels, latents by genomes" '
        'font-family="system-ui, DejaVu Sans, sans-serif" font-size="11">'
    ]
    for j, genome in enumerate(genomes):
        x = LEFT + CELL_W * j + CELL_W / 2
        out.append(
            f'<text x="{x:.0f}" y="{TOP - 10}" text-anchor="middle" font-weight="600"><title>{escape(genome)}</title>'
            f"{escape(_short(genome, 20))}</text>"
        )
    previous = None
    for i, (group, latent) in enumerate(rows):
        y = TOP + ROW_H * i
        if group != previous:
            out.append(f'<line x1="0" x2="{width}" y1="{y}" y2="{y}" stroke="#9aa5ad" stroke-width="1"/>')
            out.append(
                f'<text x="2" y="{y + 12}" font-weight="600"><title>{escape(group)}</title>'
                f"{escape(_short(group, 18))}</text>"
            )
            previous = group
        out.append(f'<text x="{LEFT - 6}" y="{y + 12}" text-anchor="end" fill="#5f6b73">f{latent}</text>')
        for j, genome in enumerate(genomes):
            row = cells.loc[(latent, genome)]
            x = LEFT + CELL_W * j
            key = label_key(row["label"], row["view"])
            fill = colours[key] if row["annotated"] else (FIRES_FILL if row["fires"] else SILENT_FILL)
            opacity = ' fill-opacity="0.55"' if row["annotated"] else ""
            title = escape(_cell_title(latent, genome, row, matched_by_cosine))
            out.append(
                f'<g><title>{title}</title><rect x="{x + 1}" y="{y + 1}" width="{CELL_W - 2}" height="{ROW_H - 2}" '
                f'fill="{fill}"{opacity} stroke="#c5ccd2" stroke-width="0.5"/>'
            )
            if row["annotated"]:
                out.append(f'<text x="{x + 5}" y="{y + 12}">{escape(_short(key, 23))}</text>')
            out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def _cells(latent: int, cells: pd.DataFrame, genomes: Sequence[str], matched_by_cosine: bool) -> list[dict]:
    out = []
    for genome in genomes:
        row = cells.loc[(latent, genome)]
        out.append(
            {
                "annotated": bool(row["annotated"]),
                "fires": bool(row["fires"]),
                "matched": not pd.isna(row["genome_latent"]),
                "label": label_key(row["label"], row["view"]),
                "auroc": row["auroc_test"],
                "margin": row["margin"],
                "cosine": row["match_cosine"] if matched_by_cosine and genome != genomes[0] else None,
                "genome_latent": None if pd.isna(row["genome_latent"]) else int(row["genome_latent"]),
                "title": _cell_title(latent, genome, row, matched_by_cosine),
            }
        )
    return out


def pattern_tables(
    latents: pd.DataFrame, atlas: pd.DataFrame, genomes: Sequence[str], matched_by_cosine: bool
) -> list[dict]:
    """The conserved, divergent and genome-specific latents (at most MAX_TABLE_ROWS each), each with one
    cell per genome."""
    cells = atlas.set_index(["latent", "genome"])
    tables = []
    for pattern in ("conserved", "divergent", "genome-specific"):
        chosen = latents[latents["pattern"] == pattern]
        rows = [
            {
                "latent": int(r.latent),
                "label": r.shared_label or r.labels,
                "cells": _cells(int(r.latent), cells, genomes, matched_by_cosine),
            }
            for r in chosen.head(MAX_TABLE_ROWS).itertuples()
        ]
        tables.append({"pattern": pattern, "meaning": PATTERN_MEANING[pattern], "n": len(chosen), "rows": rows})
    return tables


def genome_rows(atlas: pd.DataFrame, latents: pd.DataFrame, genomes: Sequence[str], links: Sequence[str]) -> list[dict]:
    """Per genome: latents firing and annotated there, distinct labels, how many of its annotated latents
    are conserved / only its own, and (per-genome SAEs) the median decoder cosine of its matches."""
    pattern = latents.set_index("latent")["pattern"]
    out = []
    for genome, link in zip(genomes, links):
        mine = atlas[atlas["genome"] == genome]
        annotated = mine[mine["annotated"]]
        kinds = pattern.reindex(annotated["latent"]).value_counts()
        out.append(
            {
                "genome": genome,
                "link": link,
                "firing": int(mine["fires"].sum()),
                "annotated": len(annotated),
                "labels": len(_keys(annotated)),
                "conserved": int(kinds.get("conserved", 0)),
                "specific": int(kinds.get("genome-specific", 0)),
                "median_cosine": np.nan if genome == genomes[0] else float(mine["match_cosine"].median()),
            }
        )
    return out


def _keys(atlas: pd.DataFrame) -> set[str]:
    """The labels (with their view) of the annotated rows."""
    annotated = atlas[atlas["annotated"]]
    return {label_key(a, v) for a, v in zip(annotated["label"], annotated["view"])}


def render_atlas(
    atlas: pd.DataFrame,
    latents: pd.DataFrame,
    genomes: Sequence[str],
    links: Sequence[str],
    *,
    dictionary: str,
    matched_by_cosine: bool,
    min_frequency: float,
) -> str:
    """The page's HTML. `links`: each genome's report.html relative to the page (atlas_stage.report_links)."""
    counts = latents["pattern"].value_counts()
    rows = heatmap_rows(latents, atlas)
    labels = list(dict.fromkeys(group for group, _ in rows))
    labels += sorted(_keys(atlas) - set(labels))
    colours = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(labels)}
    shown = rows[:MAX_HEATMAP_ROWS]
    shown_ids = [latent for _, latent in shown]
    sentence = (
        f"Of {len(latents):,} latents, "
        + ", ".join(f"{int(counts.get(p, 0)):,} {p}" for p in PATTERNS)
        + f" across {len(genomes)} genomes."
    )
    context = {
        "title": f"dnalens atlas: {len(genomes)} genomes",
        "subtitle": f"dictionary: {dictionary}",
        "sentence": sentence,
        "patterns": [(p, int(counts.get(p, 0)), PATTERN_MEANING[p]) for p in PATTERNS],
        "genomes": genome_rows(atlas, latents, genomes, links),
        "genome_names": list(genomes),
        "tables": pattern_tables(latents, atlas, genomes, matched_by_cosine),
        "max_table_rows": MAX_TABLE_ROWS,
        "heatmap": heatmap_svg(atlas, shown, genomes, colours, matched_by_cosine=matched_by_cosine) if shown else None,
        "heatmap_total": len(rows),
        "heatmap_shown": len(shown),
        "legend": [(key, colours[key]) for key in colours if key in _keys(atlas[atlas["latent"].isin(shown_ids)])],
        "fires_fill": FIRES_FILL,
        "matched_by_cosine": matched_by_cosine,
        "reference": genomes[0],
        "cosines": _cosine_summary(atlas, genomes) if matched_by_cosine else [],
        "min_frequency": min_frequency,
        "version": __version__,
    }
    return render_template("atlas.html.j2", context)


def _cosine_summary(atlas: pd.DataFrame, genomes: Sequence[str]) -> list[dict]:
    """Per genome other than the reference: quartiles of its matches' decoder cosines, over all latents
    and over the latents annotated in some genome."""
    somewhere = atlas.groupby("latent")["annotated"].transform("any")
    out = []
    for genome in genomes[1:]:
        mine = atlas["genome"] == genome
        every = atlas.loc[mine, "match_cosine"].dropna()
        found = atlas.loc[mine & somewhere, "match_cosine"].dropna()
        out.append(
            {
                "genome": genome,
                "matched": len(every),
                "quartiles": [float(v) for v in np.quantile(every, [0, 0.25, 0.5, 0.75, 1])] if len(every) else [],
                "annotated_median": float(found.median()) if len(found) else np.nan,
            }
        )
    return out
