"""The variants section of report.html, from variants.tsv alone: Δ LL by consequence class (box plot, inline
SVG like report/plots.py), the AUROC of Δ LL for stop_gained against synonymous, the latents most often
switched off per class, and one sentence on whether Δ LL or a latent separates non-synonymous from synonymous
changes beyond a sequence-only expectation.

The expectation is the better of two model-free scores of the change (variants/baseline.py): codon usage
(log2 frequency of the new codon over the old among the genome's CDS codons) and the 5-mer context (log2
genome count of the new 5-mer over the old). A latent is judged on held-out variants: the best latent by
AUROC of its |aggregate Δ| is chosen on the variants in even 10-kb genome blocks and scored on the odd ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

from dnalens.formats.variants import CONSEQUENCES, NON_SYNONYMOUS

BLOCK = 10_000  # genome block size of the latent choice's split


@dataclass
class VariantsView:
    box_svg: str
    auroc: dict
    switched_off: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    answer: str = ""

    def html(self) -> str:
        """One <section> for report.html."""
        a = self.auroc
        auroc = (
            f"AUROC of −Δ LL, stop_gained vs synonymous: <b>{a['delta_ll']:.3f}</b> "
            f"(n = {a['n_stop_gained']} vs {a['n_synonymous']}; codon-usage baseline {a['codon_usage']:.3f})"
            if np.isfinite(a["delta_ll"])
            else f"AUROC not computed (stop_gained n = {a['n_stop_gained']}, synonymous n = {a['n_synonymous']})"
        )
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td>{escape(', '.join(_latent_text(*item) for item in v))}</td></tr>"
            for k, v in self.switched_off.items()
        )
        return (
            "<section id='variants'><h2>Variants</h2>"
            f"{self.box_svg}<p>{auroc}</p><p>{escape(self.answer)}</p>"
            "<table><tr><th>consequence</th><th>latents most often switched off (variants)</th></tr>"
            f"{rows}</table></section>"
        )


def _latent_text(latent: int, label: str, count: int) -> str:
    return f"{latent} {label} ({count})" if label else f"{latent} ({count})"


def auroc_or_nan(positive: np.ndarray, negative: np.ndarray) -> float:
    """sklearn's AUROC of scores (positives should score higher); NaN with fewer than 2 of either or NaN scores."""
    from sklearn.metrics import roc_auc_score

    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    if len(positive) < 2 or len(negative) < 2:
        return float("nan")
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(y, np.r_[positive, negative]))


def stop_vs_synonymous(table: pd.DataFrame) -> dict:
    """AUROC that stop_gained variants have a lower Δ LL (and a lower codon-usage score) than synonymous ones."""
    stop, syn = table[table["consequence"] == "stop_gained"], table[table["consequence"] == "synonymous"]
    return {
        "delta_ll": auroc_or_nan(-stop["delta_ll"], -syn["delta_ll"]),
        "codon_usage": auroc_or_nan(-stop["codon_usage_score"], -syn["codon_usage_score"]),
        "n_stop_gained": len(stop),
        "n_synonymous": len(syn),
    }


def switched_off(table: pd.DataFrame, labels: dict[int, str] | None = None, top: int = 5) -> dict:
    """Per consequence class: (latent, label, variants where it was switched off), most frequent first."""
    labels = labels or {}
    out = {}
    for klass in CONSEQUENCES:
        rows = table.loc[table["consequence"] == klass, "flips_off"].fillna("").astype(str)
        counts = pd.Series([int(j) for text in rows for j in text.split("+") if j]).value_counts()
        if len(counts):
            out[klass] = [(int(j), labels.get(int(j), ""), int(n)) for j, n in counts.head(top).items()]
    return out


def latent_abs_deltas(table: pd.DataFrame) -> pd.DataFrame:
    """[variants x latents] |aggregate Δ| from `top_latents` (0 where a latent was not among a variant's top)."""
    rows = []
    for text in table["top_latents"].fillna("").astype(str):
        entry = {}
        for item in filter(None, text.split(";")):
            latent, _, value = item.split(":")
            entry[int(latent)] = abs(float(value))
        rows.append(entry)
    return pd.DataFrame(rows, index=table.index).fillna(0.0)


def separation_answer(table: pd.DataFrame) -> tuple[str, dict]:
    """The report's sentence on non-synonymous vs synonymous, and its numbers."""
    nonsyn = table["consequence"].isin(NON_SYNONYMOUS)
    syn = table["consequence"] == "synonymous"
    sub = table[nonsyn | syn]
    y = sub["consequence"].isin(NON_SYNONYMOUS).to_numpy()
    if y.sum() < 2 or (~y).sum() < 2:
        return (f"Too few variants to compare non-synonymous ({int(y.sum())}) with synonymous ({int((~y).sum())}).", {})

    def auc(score):
        score = np.asarray(score, float)
        return auroc_or_nan(score[y], score[~y])

    numbers = {
        "delta_ll": auc(-sub["delta_ll"]),
        "codon_usage": auc(-sub["codon_usage_score"]),
        "kmer5": auc(-sub["kmer5_score"]),
        "n_nonsynonymous": int(y.sum()),
        "n_synonymous": int((~y).sum()),
    }
    baseline = np.nanmax([numbers["codon_usage"], numbers["kmer5"]])
    latent, held_out = _best_latent(sub, y)
    numbers.update({"best_latent": latent, "best_latent_auroc_heldout": held_out, "baseline": float(baseline)})
    verdict = "beats" if numbers["delta_ll"] > baseline else "does not beat"
    text = (
        f"Δ log-likelihood separates non-synonymous ({numbers['n_nonsynonymous']}) from synonymous "
        f"({numbers['n_synonymous']}) changes with AUROC {numbers['delta_ll']:.3f}; the sequence-only expectation "
        f"(the better of codon usage {numbers['codon_usage']:.3f} and 5-mer context {numbers['kmer5']:.3f}) is "
        f"{baseline:.3f}, so the model {verdict} it."
    )
    if latent is not None:
        lat_verdict = "beats" if held_out > baseline else "does not beat"
        text += (
            f" The best single latent (|Δ| of latent {latent}, chosen on even 10-kb blocks) reaches {held_out:.3f} on "
            f"the other blocks and {lat_verdict} the expectation."
        )
    return text, numbers


def _best_latent(sub: pd.DataFrame, y: np.ndarray) -> tuple[int | None, float]:
    deltas = latent_abs_deltas(sub)
    if deltas.empty:
        return None, float("nan")
    train = (sub["pos"].to_numpy() // BLOCK) % 2 == 0
    best, best_gap = None, -1.0
    for latent in deltas.columns:
        score = deltas[latent].to_numpy()
        a = auroc_or_nan(score[train & y], score[train & ~y])
        if np.isfinite(a) and abs(a - 0.5) > best_gap:
            best, best_gap = int(latent), abs(a - 0.5)
    if best is None:
        return None, float("nan")
    score = deltas[best].to_numpy()
    held = auroc_or_nan(score[~train & y], score[~train & ~y])
    train_auc = auroc_or_nan(score[train & y], score[train & ~y])
    return best, held if train_auc >= 0.5 else 1 - held  # the direction chosen on train blocks


def box_plot_svg(table: pd.DataFrame, width: int = 640, row: int = 22) -> str:
    """Horizontal box plot of Δ LL per consequence class (box: quartiles, line: median, whiskers: 1.5 IQR)."""
    classes = [k for k in CONSEQUENCES if (table["consequence"] == k).any()]
    if not classes:
        return "<p>No variant was scored.</p>"
    values = {k: table.loc[table["consequence"] == k, "delta_ll"].dropna().to_numpy(float) for k in classes}
    lo = min(v.min() for v in values.values() if len(v))
    hi = max(max(v.max() for v in values.values() if len(v)), 0.0)
    left, right = 170, width - 20
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return left + (v - lo) / span * (right - left)

    parts = []
    for i, k in enumerate(classes):
        v = values[k]
        y = 20 + i * row
        if not len(v):
            continue
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        iqr = q3 - q1
        w0, w1 = v[v >= q1 - 1.5 * iqr].min(), v[v <= q3 + 1.5 * iqr].max()
        parts.append(
            f"<text x='{left - 6}' y='{y + 5}' text-anchor='end' font-size='12'>{escape(k)} (n={len(v)})</text>"
            f"<line x1='{x(w0):.1f}' x2='{x(w1):.1f}' y1='{y}' y2='{y}' stroke='#555'/>"
            f"<rect x='{x(q1):.1f}' y='{y - 7}' width='{max(x(q3) - x(q1), 1):.1f}' height='14' fill='#9ecae1' stroke='#3182bd'>"
            f"<title>{escape(k)}: median {med:.3g}, quartiles {q1:.3g} to {q3:.3g}</title></rect>"
            f"<line x1='{x(med):.1f}' x2='{x(med):.1f}' y1='{y - 7}' y2='{y + 7}' stroke='#08306b' stroke-width='2'/>"
        )
    height = 40 + len(classes) * row
    zero = f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='8' y2='{height - 24}' stroke='#bbb' stroke-dasharray='3,3'/>"
    axis = (
        f"<text x='{left}' y='{height - 6}' font-size='11'>{lo:.3g}</text>"
        f"<text x='{right}' y='{height - 6}' font-size='11' text-anchor='end'>{hi:.3g}</text>"
        f"<text x='{(left + right) / 2:.0f}' y='{height - 6}' font-size='11' text-anchor='middle'>Δ log-likelihood alt − ref (nats)</text>"
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>{zero}{''.join(parts)}{axis}</svg>"
    )


def variants_view(table: pd.DataFrame, labels: dict[int, str] | None = None) -> VariantsView:
    """Everything the report shows about one genome's variants (`table`: variants.tsv / .parquet)."""
    answer, _ = separation_answer(table)
    return VariantsView(box_plot_svg(table), stop_vs_synonymous(table), switched_off(table, labels), answer)
