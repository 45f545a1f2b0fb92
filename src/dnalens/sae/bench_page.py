"""results/sae_bench/report.html: the sweep's table, the rule and its choice, three figures and, per concept, the
best single latent and latent group of every variant. Self-contained (inline SVG and CSS, nothing fetched)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from dnalens.sae.bench_figures import lines_svg, scatter_svg
from dnalens.sae.bench_table import ANTISENSE

# the columns the page's variant table shows, with their headings
SHOWN = {
    "variant": "variant",
    "changes": "changes",
    "layer": "layer",
    "fvu": "FVU",
    "l0_over_d_in": "L0/d_in",
    "dead_fraction": "dead",
    "dense_fraction": "dense",
    "init_cosine": "init cos",
    "seed_agreement": "seed agr.",
    "concepts_annotated": "concepts (held-out)",
    "latents_annotated": "latents (held-out)",
    "train_concepts_passing": "concepts (train)",
    "train_concept_groups": "groups (train)",
    "train_fvu": "FVU (train)",
    "train_l0_over_d_in": "L0/d_in (train)",
    "train_dead_fraction": "dead (train)",
    "healthy": "healthy",
    "eligible": "eligible",
    "rule_rank": "rank",
}

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SAE Bench</title>
<style>
body{font-family:sans-serif;margin:1.5em;max-width:1200px}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}
td:first-child,th:first-child,td.text{text-align:left}
tr.chosen td{background:#fff3c4;font-weight:bold}
.figs{display:flex;flex-wrap:wrap;gap:1em}
.note{color:#555;font-size:13px}
</style></head><body>
<h1>SAE Bench: {{ n_variants }} variant(s) on {{ genomes }}</h1>
<p><b>Choice:</b> {{ choice.reason }}.</p>
<p class="note">Rule: among variants with {{ bars }}, the best by {{ rank_by }} (train blocks only; held-out numbers
only report). Quality is per {{ unit }}; with several genomes counts add up and quality is averaged.</p>
<table><tr>{% for h in headings %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr{% if row.chosen %} class="chosen"{% endif %}>{% for cell in row.cells %}
<td{% if loop.index <= 3 %} class="text"{% endif %}>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
<div class="figs">{% for fig in figures %}<div>{{ fig | safe }}</div>{% endfor %}</div>
<p class="note">L0/d_in, FVU and concepts annotated are held-out numbers (the choice did not read them). k-sparse
probing: the mean held-out AUROC over the evaluated concepts (sense strand) of a logistic probe on the k latents
chosen on train blocks; dashed lines: the dense linear probe on the same tokens (per layer) and the best
sequence-only baseline, averaged over the same concepts.</p>
<h2>Per concept: best single latent and latent group (held-out AUROC)</h2>
<p class="note">Best latent chosen on train blocks; its held-out AUROC, then the concept's latent group
(k-sparse probe, k chosen by cross-fitted train AUROC) as k:AUROC. Antisense twins are folded into their concept.
Bold: the variant has a latent for the concept that passes the strict annotation rule on held-out blocks.</p>
<table><tr><th>genome</th><th>concept</th><th>baseline</th>{% for v in variants %}<th>{{ v }}</th>{% endfor %}</tr>
{% for row in concept_rows %}<tr><td class="text">{{ row.genome }}</td><td class="text">{{ row.concept }}</td>
<td>{{ row.baseline }}</td>{% for cell in row.cells %}<td>{% if cell.beats %}<b>{{ cell.text }}</b>{% else %}{{ cell.text }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
</body></html>
"""


def _cell(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def k_sparse_series(sparse: pd.DataFrame) -> tuple[dict[str, tuple[list, list]], dict[str, float]]:
    """Per variant: mean held-out k-sparse AUROC over the (sense) concepts at each k; references: the dense
    probe per layer and the best sequence-only baseline, averaged over the same concepts."""
    if sparse.empty:
        return {}, {}
    sense = sparse[~sparse["concept"].str.endswith(ANTISENSE)]
    series = {}
    for variant, rows in sense.groupby("variant", sort=False):
        per_k = rows.groupby("k")["auroc_test"].mean()
        series[str(variant)] = (per_k.index.tolist(), per_k.to_list())
    one_k = sense[sense["k"] == sense["k"].min()]
    refs = {
        f"dense {layer}": float(rows.drop_duplicates(["genome", "concept"])["dense_auroc_test"].mean())
        for layer, rows in one_k.groupby("layer")
    }
    refs["baseline"] = float(one_k.drop_duplicates(["genome", "concept"])["baseline_auroc_test"].mean())
    return series, refs


def figures(variants: pd.DataFrame, sparse: pd.DataFrame, chosen: str | None) -> list[str]:
    names = variants["variant"].astype(str).tolist()
    l0 = variants["l0_over_d_in"].to_numpy(float)
    series, refs = k_sparse_series(sparse)
    return [
        scatter_svg(
            names,
            l0,
            variants["fvu"].to_numpy(float),
            chosen=chosen,
            xlabel="L0 / d_in",
            ylabel="FVU",
            title="L0 vs FVU (held-out)",
        ),
        scatter_svg(
            names,
            l0,
            variants["concepts_annotated"].to_numpy(float),
            chosen=chosen,
            xlabel="L0 / d_in",
            ylabel="concepts annotated",
            title="L0 vs concepts found (held-out)",
            counts=True,
        ),
        lines_svg(
            series,
            refs,
            chosen=chosen,
            xlabel="k latents",
            ylabel="mean held-out AUROC",
            title="k-sparse probing vs k",
        ),
    ]


def concept_matrix(concepts: pd.DataFrame, variants: list[str]) -> list[dict[str, Any]]:
    """Rows (genome, sense concept) x variant cells for the page."""
    if concepts.empty:
        return []
    sense = concepts[~concepts["concept"].str.endswith(ANTISENSE) & concepts["evaluated"]]
    out = []
    for (genome, concept), rows in sense.groupby(["genome", "concept"], sort=False):
        by_variant = {r.variant: r for r in rows.itertuples(index=False)}
        cells = []
        for v in variants:
            r = by_variant.get(v)
            if r is None:
                cells.append({"text": "–", "beats": False})
                continue
            group = "" if pd.isna(r.group_k) else f"; k{int(r.group_k)}:{_cell(r.group_auroc_test)}"
            cells.append({"text": f"{r.best_auroc_test:.3f}{group}", "beats": bool(r.annotated)})
        baseline = float(rows["baseline_auroc_test"].iloc[0])
        out.append({"genome": genome, "concept": concept, "baseline": f"{baseline:.3f}", "cells": cells})
    return out


def render_bench_page(tables: Mapping[str, pd.DataFrame], choice: Mapping[str, Any]) -> str:
    from jinja2 import Environment

    variants = tables["variants"]
    chosen = choice.get("chosen")
    rule = choice["rule"]
    bars = [f"{m} ≤ {v:g}" for m, v in rule["at_most"].items()] + [f"{m} ≥ {v:g}" for m, v in rule["at_least"].items()]
    shown = [c for c in SHOWN if c in variants]
    rows = [{"chosen": bool(r["chosen"]), "cells": [_cell(r[c]) for c in shown]} for _, r in variants.iterrows()]
    genomes = sorted({g for gs in variants["genomes"] for g in str(gs).split(",")})
    return (
        Environment(autoescape=True)
        .from_string(TEMPLATE)
        .render(
            n_variants=len(variants),
            genomes=", ".join(genomes),
            choice=choice,
            bars=", ".join(bars) or "no bars",
            rank_by=", then ".join(rule["rank_by"]),
            unit=str(variants["unit"].iloc[0]) if len(variants) else "row",
            headings=[SHOWN[c] for c in shown],
            rows=rows,
            figures=figures(variants, tables["sparse_probing"], chosen),
            variants=variants["variant"].astype(str).tolist(),
            concept_rows=concept_matrix(tables["concepts"], variants["variant"].astype(str).tolist()),
        )
    )
