"""The layer scan's table (results/<genome>/layer_scan.tsv + .parquet + layer_scan.json): what `dnalens
layer-scan` writes and the report reads.

One row per (layer, concept): a dense linear probe on that layer's activations, fitted on a sample's
train-block tokens. `auroc_train_cv` is cross-fitted over the train blocks (each half of the blocks scored
by a probe fitted on the other half) and is what the layer rule reads; `auroc_test` is on held-out blocks
and only reports. Categorical concepts (codon position) have balanced accuracy instead of AUROC.
`layer_mean_auroc_train_cv` repeats each layer's mean over the binary concepts and `chosen` marks the
layer the rule picks, so the table alone tells the whole story. The JSON holds the sample's size and the
rule in words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_path, write_text
from dnalens.errors import InputError

TSV, PARQUET, SUMMARY = "layer_scan.tsv", "layer_scan.parquet", "layer_scan.json"
LAYER_SCAN_COLUMNS = (
    "layer",
    "layer_index",  # position in the model's layer list (blocks.10 after blocks.9)
    "concept",
    "kind",  # binary / categorical
    "n_classes",
    "auroc_train_cv",
    "auroc_test",
    "balanced_accuracy_train_cv",
    "balanced_accuracy_test",
    "chance",  # AUROC 0.5 for binary concepts; 1 / classes for categorical ones (balanced accuracy)
    "n_train",
    "n_test",
    "n_positive_train",
    "n_positive_test",
    "layer_mean_auroc_train_cv",
    "chosen",
)
REQUIRED = ("layer", "layer_index", "concept", "kind", "auroc_train_cv", "auroc_test", "chance", "chosen")


def summary_path(tsv: str | Path) -> Path:
    return Path(tsv).with_name(SUMMARY)


def write_layer_scan(table: pd.DataFrame, summary: dict[str, Any], tsv: str | Path) -> list[Path]:
    """TSV (NA for missing, 6 significant digits), parquet and JSON next to `tsv`, each written atomically;
    returns the paths."""
    tsv = Path(tsv)
    table = table.reindex(columns=list(LAYER_SCAN_COLUMNS))
    parquet, meta = tsv.with_suffix(".parquet"), summary_path(tsv)
    with atomic_path(tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    write_text(meta, json.dumps(summary, indent=2, sort_keys=True, default=_plain) + "\n")
    return [tsv, parquet, meta]


def read_layer_scan(path: str | Path) -> pd.DataFrame:
    """A layer_scan.tsv or .parquet; a missing column is one InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("layer scan table not found.", path=path, fix="run `dnalens layer-scan` (rule layer_scan).")
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        table = pd.read_csv(path, sep="\t", na_values=["NA"], keep_default_na=False)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(
            f"the layer scan table has no {', '.join(missing)} column(s).",
            path=path,
            fix="rerun `dnalens layer-scan` (rule layer_scan) with this dnalens version.",
        )
    table = table.astype({"layer": str, "concept": str, "kind": str, "layer_index": np.int64})
    table["chosen"] = table["chosen"].astype(str).str.lower().isin(("true", "1"))
    return table


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON: {type(value)}")
