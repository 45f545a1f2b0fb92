"""report.html: one self-contained page (inline CSS and SVG, no scripts or fonts from the network).

The stage builds plain dicts (run summary, concept rows, feature cards with ready SVG); this module
only escapes and lays them out with the Jinja2 template next to it (autoescape on; SVG made by
`plots.py` escapes its own text and is the only markup passed through).
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

_ENV = Environment(
    loader=PackageLoader("dnalens.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _number(value: Any, digits: int = 3) -> str:
    """Table cell text: floats to `digits` significant figures, NaN/None as an en dash."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) or (
        isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) >= 1000
    ):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}"
    return str(value)


_ENV.filters["num"] = _number


def sequence_html(bases: str, values: np.ndarray, on_level: float, colour: str) -> Markup:
    """Read-order bases; runs where the feature is on are highlighted in its colour (hover: activation)."""
    on = np.asarray(values[: len(bases)]) > on_level
    out, i = [], 0
    while i < len(bases):
        j = i
        while j < len(bases) and on[j] == on[i]:
            j += 1
        chunk = escape(bases[i:j])
        if on[i]:
            top = float(np.max(values[i:j]))
            out.append(
                f'<mark style="background:{colour}40;border-bottom:2px solid {colour}" '
                f'title="max activation {top:.3g}">{chunk.upper()}</mark>'
            )
        else:
            out.append(chunk.lower())
        i = j
    return Markup("".join(out))


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """One of the report package's templates (templates/<name>), with the report's filters."""
    return _ENV.get_template(name).render(**context)


def render_report(context: Mapping[str, Any]) -> str:
    """Fill the template. Keys: title, summary (list of (label, value)), sae_quality (dict),
    concepts (list of dicts), features (list of dicts), cards (list of dicts with Markup svg),
    files (list of (relative path, what)), settings (dict), notes (list of str)."""
    return _ENV.get_template("report.html.j2").render(**context)
