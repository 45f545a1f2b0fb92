"""The atlas across genomes (`dnalens atlas` → results/summary/atlas.tsv, atlas_latents.tsv, report.html).

atlas.tsv has one row per latent × genome, read from each genome's features.tsv. With one shared
dictionary latent j is the same decoder direction in every genome, so rows match by id. With per-genome
SAEs the first genome's latents are the rows, and each other genome contributes the latent matched to it
by decoder cosine (across.py): `genome_latent` and `match_cosine` say which latent that is and how close
the match is.

atlas_latents.tsv has one row per latent, with its `pattern` over the genomes (first rule that applies):

- conserved: annotated with the same label in ≥ 2 genomes (a third genome may label it otherwise)
- divergent: annotated in ≥ 2 genomes, but no two of them give it the same label
- genome-specific: annotated in exactly one genome
- active-unlabelled: annotated nowhere, fires in ≥ 1 genome
- silent: annotated nowhere and fires nowhere

"Annotated" is the report's rule (features.tsv `annotated`: the latent's train-chosen label passes on
held-out blocks). "Fires" means activation frequency above `report.atlas_min_frequency`. A label is a
concept read from a view: with a strand-shared SAE, `CDS` seen from the opposite strand is not the same
label as `CDS` seen from the window's own strand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.report.across import matched_latents

PATTERNS = ("conserved", "divergent", "genome-specific", "active-unlabelled", "silent")
PATTERN_MEANING = {
    "conserved": "annotated with the same label in at least 2 genomes",
    "divergent": "annotated in at least 2 genomes, no two with the same label",
    "genome-specific": "annotated in exactly one genome",
    "active-unlabelled": "fires in at least one genome, annotated in none",
    "silent": "fires in no genome and is annotated in none",
}
# features.tsv column → atlas.tsv column (required: the atlas.tsv contract, docs/ARCHITECTURE.md "report", needs them)
REQUIRED = {
    "activation_frequency": "frequency",
    "label": "label",
    "annotated": "annotated",
    "auroc_test": "auroc_test",
    "baseline_auroc_test": "baseline_auroc_test",
    "margin": "margin",
    "q": "q",
}
OPTIONAL = {
    "view": "view",
    "mean_active_activation": "mean_activation",
    "max_activation": "max_activation",
    "f1_test": "f1_test",
    "n_annotated_concepts": "n_annotated_concepts",
}
ATLAS_COLUMNS = (
    "latent",
    "genome",
    "genome_latent",
    "match_cosine",
    "view",
    "frequency",
    "mean_activation",
    "max_activation",
    "fires",
    "label",
    "annotated",
    "auroc_test",
    "baseline_auroc_test",
    "margin",
    "q",
    "f1_test",
    "n_annotated_concepts",
)
LATENT_COLUMNS = (
    "latent",
    "pattern",
    "shared_label",
    "same_label",
    "n_genomes",
    "n_genomes_firing",
    "n_genomes_annotated",
    "labels",
    "max_frequency",
    "min_match_cosine",
)
NUMERIC = ("frequency", "mean_activation", "max_activation", "auroc_test", "baseline_auroc_test", "margin", "q")


def read_features(path: Path) -> pd.DataFrame:
    """One genome's features.tsv, checked: the columns the atlas needs, one row per latent, numbers."""
    if not path.exists():
        raise InputError("features table not found.", path=path, fix="run `dnalens report` for that genome.")
    table = pd.read_csv(path, sep="\t")
    missing = [c for c in ("latent", *REQUIRED) if c not in table]
    if missing:
        raise InputError(
            f"features table lacks column(s) {', '.join(missing)} (written by an older dnalens report?).",
            path=path,
            fix="rerun `dnalens report` for that genome.",
        )
    dup = table["latent"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"latent {table['latent'].iloc[row]} is listed twice.",
            path=path,
            line=row + 2,  # 1-based, after the header
            fix="features.tsv has one row per latent; rerun `dnalens report` for that genome.",
        )
    try:
        table["annotated"] = table["annotated"].astype("boolean")
        for col in ("latent", "activation_frequency", "auroc_test", "baseline_auroc_test", "margin", "q"):
            table[col] = pd.to_numeric(table[col])
    except (TypeError, ValueError) as err:
        raise InputError(f"features table has a value of the wrong type: {err}", path=path) from None
    return table


def atlas_table(
    tables: Mapping[str, pd.DataFrame],
    matches: Mapping[str, tuple[np.ndarray, np.ndarray] | None],
    names: Sequence[str],
    min_frequency: float,
) -> pd.DataFrame:
    """atlas.tsv: one row per latent of the first genome's SAE × genome (genomes in `names` order).

    `matches[g]` None = the first genome's SAE (rows by id); else `across.latent_matches`' pair. A latent
    with no counterpart in a genome gets an empty row there (genome_latent NA, not firing, not annotated)."""
    latents = np.sort(tables[names[0]]["latent"].to_numpy(np.int64))
    parts = []
    for genome in names:
        table = tables[genome].set_index("latent")
        mine, cosine = matched_latents(latents, matches.get(genome))
        rows = table.reindex(mine)  # −1: no counterpart → NaN row
        part = pd.DataFrame({"latent": latents, "genome": genome, "genome_latent": pd.array(mine, dtype="Int64")})
        part.loc[mine < 0, "genome_latent"] = pd.NA
        part["match_cosine"] = cosine
        for source, column in {**REQUIRED, **OPTIONAL}.items():
            part[column] = rows[source].to_numpy() if source in rows else np.nan
        part["view"] = np.where(mine < 0, "", part["view"].fillna("own").astype(str))
        parts.append(part)
    atlas = pd.concat(parts, ignore_index=True)
    atlas["label"] = atlas["label"].where(atlas["label"].notna(), "").astype(str)
    atlas["annotated"] = atlas["annotated"].astype("boolean").fillna(False).astype(bool)
    for col in NUMERIC:
        atlas[col] = pd.to_numeric(atlas[col])
    atlas["fires"] = (atlas["frequency"] > min_frequency).fillna(False).astype(bool)
    atlas["n_annotated_concepts"] = pd.array(atlas["n_annotated_concepts"], dtype="Int64")
    atlas = atlas.sort_values("latent", kind="stable")  # genomes stay in `names` order within a latent
    return atlas[list(ATLAS_COLUMNS)].reset_index(drop=True)


def label_key(label: str, view: str) -> str:
    """A label as compared across genomes: the concept and the strand view it was read from."""
    return f"{label} (opposite strand)" if view == "opposite" else label


def latent_patterns(atlas: pd.DataFrame) -> pd.DataFrame:
    """atlas_latents.tsv: per latent the genome counts, the shared label and its `pattern` (module doc).

    `shared_label` is the label annotated in the most genomes when that is ≥ 2 (ties: alphabetical first),
    else empty; `labels` lists every genome's annotated label in genome order."""
    by = atlas.groupby("latent", sort=True)
    out = pd.DataFrame(
        {
            "n_genomes": by["genome_latent"].count(),
            "n_genomes_firing": by["fires"].sum(),
            "n_genomes_annotated": by["annotated"].sum(),
            "max_frequency": by["frequency"].max(),
            "min_match_cosine": by["match_cosine"].min(),
        }
    )
    annotated = atlas[atlas["annotated"]]
    keys = [label_key(label, view) for label, view in zip(annotated["label"], annotated["view"])]
    texts = [f"{genome}: {key}" for genome, key in zip(annotated["genome"], keys)]
    annotated = annotated.assign(key=pd.Series(keys, index=annotated.index, dtype=object))
    annotated = annotated.assign(text=pd.Series(texts, index=annotated.index, dtype=object))
    counts = annotated.groupby(["latent", "key"]).size().rename("n").reset_index()
    top = counts.sort_values(["latent", "n", "key"], ascending=[True, False, True]).drop_duplicates("latent")
    top = top.set_index("latent")
    shared = top["key"].where(top["n"] >= 2, "")
    out["shared_label"] = shared.reindex(out.index).fillna("")
    out["same_label"] = out["shared_label"] != ""
    listed = annotated.groupby("latent")["text"].agg("; ".join)
    out["labels"] = listed.reindex(out.index).fillna("")
    n_ann, n_fire = out["n_genomes_annotated"].to_numpy(), out["n_genomes_firing"].to_numpy()
    out["pattern"] = np.select(
        [out["same_label"].to_numpy(), n_ann >= 2, n_ann == 1, n_fire >= 1],
        ["conserved", "divergent", "genome-specific", "active-unlabelled"],
        default="silent",
    )
    out = out.reset_index()
    for col in ("n_genomes", "n_genomes_firing", "n_genomes_annotated"):
        out[col] = out[col].astype(np.int64)
    rank = out["pattern"].map({p: i for i, p in enumerate(PATTERNS)})
    out = out.assign(_rank=rank).sort_values(
        ["_rank", "n_genomes_annotated", "shared_label", "latent"], ascending=[True, False, True, True], kind="stable"
    )
    return out[list(LATENT_COLUMNS)].reset_index(drop=True)
