"""The report's table of every latent as compact JSON, searched and sorted in the page (latent_index.js).

Why: an Evo 2 dictionary has 32,768 latents; as HTML rows that is ~10 MB, as compact JSON (one array
per latent, repeated strings by index, AUROC-like numbers in thousandths) ~2.7 MB, gzip-compressed
and base64-encoded ~1 MB. The page stays one self-contained file: the data sits in a non-executed
`<script>` block; an inline script unpacks it with the browser's own DecompressionStream and draws
the matching rows a page at a time (templates/latent_index.js.j2; no network, works offline).
"""

from __future__ import annotations

import base64
import gzip
import json

import numpy as np
import pandas as pd
from markupsafe import Markup

# one array per latent, in this order (the script reads them by position)
FIELDS = (
    "latent",
    "label",
    "view",
    "annotated",
    "auroc_test",
    "baseline_auroc_test",
    "margin",
    "q",
    "f1_test",
    "activation_frequency",
    "max_activation",
    "top_locus",
    "top_strand",
    "top_genes",
    "n_hits",
    "card",
)
_MILLI = ("auroc_test", "baseline_auroc_test", "margin", "f1_test")  # in [-1, 1]: thousandths as integers
_SIG = ("q", "activation_frequency", "max_activation")  # 3 significant figures
_STRINGS = ("label", "top_genes")  # few distinct values  # an index into a list of distinct strings


def _milli(values: pd.Series) -> list:
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return [None if not np.isfinite(v) else int(v) for v in np.rint(x * 1000)]


def _sig(values: pd.Series) -> list:
    x = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return [None if not np.isfinite(v) else float(f"{v:.3g}") for v in x]


def _indexed(values: pd.Series, strings: dict[str, int]) -> list:
    out = []
    for v in values:
        if isinstance(v, str) and v:
            out.append(strings.setdefault(v, len(strings)))
        else:
            out.append(None)
    return out


def latent_rows(table: pd.DataFrame, card_ids: set[int]) -> dict:
    """{"fields", "strings", "rows"}: every row of features.tsv (its order), compacted as above."""
    strings: dict[str, int] = {}
    columns = {
        "latent": table["latent"].astype(int).tolist(),
        "view": (table["view"] == "opposite").astype(int).tolist() if "view" in table else [0] * len(table),
        "annotated": table["annotated"].astype(bool).astype(int).tolist(),
        "top_strand": [s if isinstance(s, str) else None for s in table["top_strand"]],
        "top_locus": [s if isinstance(s, str) else None for s in table["top_locus"]],
        "n_hits": table["n_hits"].fillna(0).astype(int).tolist(),
        "card": table["latent"].isin(list(card_ids)).astype(int).tolist(),
    }
    columns.update({c: _milli(table[c]) for c in _MILLI})
    columns.update({c: _sig(table[c]) for c in _SIG})
    columns.update({c: _indexed(table[c], strings) for c in _STRINGS})
    rows = list(zip(*(columns[f] for f in FIELDS)))
    return {"fields": list(FIELDS), "strings": list(strings), "rows": rows}


def latent_json(table: pd.DataFrame, card_ids: set[int]) -> str:
    """`latent_rows` as compact JSON."""
    return json.dumps(latent_rows(table, card_ids), separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def latent_data(table: pd.DataFrame, card_ids: set[int]) -> Markup:
    """`latent_json`, gzip (mtime 0: the same bytes on every run) then base64: safe inside <script>."""
    packed = gzip.compress(latent_json(table, card_ids).encode(), compresslevel=9, mtime=0)
    return Markup(base64.b64encode(packed).decode("ascii"))
