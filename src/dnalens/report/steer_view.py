"""A steered latent's block for its report card: the steering figure and one sentence of numbers.

The report calls `steer_card(table, latent, figure)` with steer.tsv read through `dnalens.formats.steer.read_steer`
and the SVG the steer stage wrote (effects/steer_figures/f<latent>.svg), so the report imports nothing of the
steer stage; it gets None for a latent that was not steered, else an HTML snippet (inline SVG + a caption).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd


def _mean(frame: pd.DataFrame, column: str) -> float:
    values = frame[column].astype(float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def steer_sentence(table: pd.DataFrame, latent: int) -> str:
    """What the strongest positive push did: the latent's own activation, GC and genes per kb against the
    unsteered and random-direction sequences at the same strength."""
    frame = table[table["latent"] == latent]
    steered = frame[frame["control"] == "none"]
    if steered.empty:
        return ""
    top = float(steered["strength"].max())
    at, rand = steered[steered["strength"] == top], frame[(frame["control"] == "random") & (frame["strength"] == top)]
    plain = frame[frame["control"] == "unsteered"]
    parts = []
    for column, name in (("latent_activation", "its own activation"), ("gc", "GC"), ("genes_per_kb", "genes/kb")):
        parts.append(
            f"{name} {_mean(at, column):.3g} (unsteered {_mean(plain, column):.3g}, random direction "
            f"{_mean(rand, column):.3g})"
        )
    return f"Steered at strength {top:+g} × its mean activation ({len(at)} sequences): " + "; ".join(parts) + "."


def steer_card(table: pd.DataFrame | None, latent: int, figure_svg: str = "") -> str | None:
    """The card's steering block (figure + sentence), or None when the latent was not steered."""
    if table is None or not (table["latent"] == latent).any():
        return None
    return (
        '<div class="steer"><h4>Steered generation</h4>'
        f"{figure_svg}<p>{escape(steer_sentence(table, latent))}</p></div>"
    )
