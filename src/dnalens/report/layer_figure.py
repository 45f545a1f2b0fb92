"""The layer scan in report.html: a heatmap of dense-probe scores, concepts × layers, and what it says in words.

Why a heatmap: a model has 8 (the tiny model) to 32 (Evo 2 7B) layers and a genome 20-45 evaluated concepts;
one line per concept would be a tangle, a grid stays readable and each cell carries its numbers as text and a
hover title. Cells show held-out numbers (AUROC; balanced accuracy for categorical concepts). The colour runs
within each row, from the row's lowest layer (white) to its highest (dark blue), because the question is
*which layer* and most AUROCs sit near 1 (an absolute scale painted every cell the same blue); a row spanning
less than `MIN_SPAN` keeps its cells dark rather than stretch noise over the whole scale. The top row is what
the layer rule reads, the mean AUROC cross-fitted on the train blocks; the rule's layer and the SAE's layer are
marked.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

WIDTH = 960
LABEL_W = 230
ROW_H = 16
MAX_CELL_W = 72
MIN_SPAN = 0.02  # a row whose layers differ by less than this is drawn near its top colour
_LOW, _HIGH = np.array([247, 251, 255]), np.array([8, 81, 156])  # white → blue (ColorBrewer Blues ends)


def _colour(share: float) -> str:
    if not np.isfinite(share):
        return "#eeeeee"
    rgb = _LOW + (_HIGH - _LOW) * float(np.clip(share, 0, 1))
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def _cell(by: pd.DataFrame, means: pd.Series, concept: str | None, layer: str) -> tuple[float, str]:
    """(value, hover text) of one cell: the layer's rule mean (concept None), else the held-out AUROC (balanced
    accuracy for a categorical concept) with its train cross-fitted twin."""
    if concept is None:
        return float(means.get(layer, np.nan)), "mean AUROC cross-fitted on the train blocks"
    if (concept, layer) not in by.index:
        return float("nan"), "not scored"
    row = by.loc[(concept, layer)]
    metric = "auroc" if row["kind"] == "binary" else "balanced_accuracy"
    name = "AUROC" if metric == "auroc" else "balanced accuracy"
    value, cv = float(row[f"{metric}_test"]), float(row[f"{metric}_train_cv"])
    return value, f"held-out {name} (train cross-fitted {_fmt(cv)})"


def row_shades(values: np.ndarray) -> np.ndarray:
    """Colour positions in [0, 1] of one row's values: 1 at the row's best, falling by (best - value) over the
    row's span (at least MIN_SPAN); NaN stays NaN."""
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full(values.shape, np.nan)
    top, span = finite.max(), max(float(finite.max() - finite.min()), MIN_SPAN)
    return 1 - (top - values) / span


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def layer_scan_svg(table: pd.DataFrame, sae_layer: str | None) -> str:
    """Concepts (rows, table order) × layers (columns, model order); the first row is each layer's mean
    cross-fitted train AUROC (the rule's number), with the rule's layer starred and the SAE's layer outlined."""
    layers = table.drop_duplicates("layer").sort_values("layer_index")["layer"].tolist()
    concepts = list(dict.fromkeys(table["concept"]))
    by = table.set_index(["concept", "layer"])
    means = table.drop_duplicates("layer").set_index("layer")["layer_mean_auroc_train_cv"].reindex(layers)
    chosen = table.loc[table["chosen"].astype(bool), "layer"]
    chosen_layer = str(chosen.iloc[0]) if len(chosen) else None
    cell_w = max(14.0, min(MAX_CELL_W, (WIDTH - LABEL_W - 10) / max(len(layers), 1)))
    rotate = cell_w < 60
    head = 70 if rotate else 40
    top = head + 6
    height = top + (len(concepts) + 1) * ROW_H + 8 + 40
    width = max(LABEL_W + cell_w * len(layers) + 10, LABEL_W + 640)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" '
        f'height="{height}" role="img" font-family="sans-serif" font-size="10">',
        "<title>Dense linear probe per layer and concept (layer scan)</title>",
    ]
    for i, layer in enumerate(layers):
        x = LABEL_W + (i + 0.5) * cell_w
        marks = (" ★" if layer == chosen_layer else "") + (" SAE" if layer == sae_layer else "")
        text = escape(layer + marks)
        if rotate:
            out.append(f'<text transform="translate({x:.1f},{head}) rotate(-60)" text-anchor="start">{text}</text>')
        else:
            out.append(f'<text x="{x:.1f}" y="{head}" text-anchor="middle">{text}</text>')
    rows = [("mean, train cross-fitted (the layer rule)", None)] + [(c, c) for c in concepts]
    digits = 3 if cell_w >= 36 else 2
    for r, (label, concept) in enumerate(rows):
        y = top + r * ROW_H + (4 if r else 0)
        weight = ' font-weight="600"' if concept is None else ""
        out.append(f'<text x="{LABEL_W - 6}" y="{y + ROW_H - 4}" text-anchor="end"{weight}>{escape(label)}</text>')
        cells = [_cell(by, means, concept, layer) for layer in layers]
        shades = row_shades(np.array([value for value, _ in cells]))
        for i, (layer, (value, title), share) in enumerate(zip(layers, cells, shades)):
            x = LABEL_W + i * cell_w
            ink = "#ffffff" if np.isfinite(share) and share > 0.6 else "#1d2327"
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{ROW_H - 1}" fill="{_colour(share)}">'
                f"<title>{escape(f'{label} at {layer}: {title} {_fmt(value)}')}</title></rect>"
            )
            if cell_w >= 28:
                out.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + ROW_H - 4}" text-anchor="middle" fill="{ink}">'
                    f"{_fmt(value, digits)}</text>"
                )
    bottom = top + len(rows) * ROW_H + 4
    for i, layer in enumerate(layers):
        if layer == sae_layer:
            x = LABEL_W + i * cell_w
            out.append(
                f'<rect x="{x - 1:.1f}" y="{top - 2}" width="{cell_w + 1:.1f}" height="{bottom - top + 3}" '
                f'fill="none" stroke="#d95f02" stroke-width="2.5"><title>the layer the SAE reads</title></rect>'
            )
    legend_y = bottom + 18
    for k, share in enumerate(np.linspace(0, 1, 6)):
        out.append(f'<rect x="{LABEL_W + k * 24}" y="{legend_y - 10}" width="24" height="10" fill="{_colour(share)}"/>')
    out.append(
        f'<text x="{LABEL_W - 6}" y="{legend_y}" text-anchor="end" fill="#555">row\'s lowest</text>'
        f'<text x="{LABEL_W + 150}" y="{legend_y}" fill="#555">row\'s highest (a row spanning &lt; {MIN_SPAN:g} stays '
        f"dark) · ★ the rule's layer · outlined: the SAE's layer</text></svg>"
    )
    return "".join(out)


def layer_scan_sentence(table: pd.DataFrame, sae_layer: str | None) -> str:
    """One sentence: which layer the rule picks, its mean, and how the SAE's layer compares."""
    means = table.drop_duplicates("layer").sort_values("layer_index")
    means = means.set_index("layer")["layer_mean_auroc_train_cv"]
    chosen = table.loc[table["chosen"].astype(bool), "layer"]
    if not len(chosen) or means.dropna().empty:
        return "No layer could be scored (no binary concept in the scan's sample)."
    best = str(chosen.iloc[0])
    text = f"The layer rule picks {best} (mean cross-fitted train AUROC {means[best]:.3f})"
    if sae_layer == best:
        return text + "; the SAE reads this layer."
    if sae_layer in means.index and np.isfinite(means[sae_layer]):
        return text + f"; the SAE reads {sae_layer} ({means[sae_layer]:.3f})."
    return text + (f"; the SAE reads {sae_layer}, which was not scanned." if sae_layer else ".")
