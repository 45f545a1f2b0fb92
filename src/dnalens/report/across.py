"""Latents across genomes: how they are matched, and the wide results/summary/features_across_genomes.tsv
(`dnalens summarize-genomes`, also written by `dnalens atlas`; the long atlas tables are in atlas.py).

Latent 7 of one SAE and latent 7 of another, trained separately, have nothing in common: SAE training
is permutation-symmetric. So latents are matched by id only when the genomes were encoded with the
very same SAE (one shared dictionary, or sae.source: load of one path); otherwise by their decoder
directions — one-to-one, the assignment maximising the summed cosine (Hungarian algorithm) — and every
match shows its cosine.
For a strand-shared SAE the decoder rows are its per-strand dictionary, one row per latent, as in
features.tsv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from dnalens.errors import InputError

PER_GENOME = ("latent", "match_cosine", "label", "view", "annotated", "auroc_test", "margin", "activation_frequency")


def unit_rows(w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    return w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)


def match_latents(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decoder rows [n_ref, d], [n_other, d] → for each reference latent the `other` latent assigned to it
    (−1 when `other` has fewer latents) and the cosine of the pair, by the one-to-one assignment with the
    largest summed cosine (scipy's linear_sum_assignment)."""
    if reference.shape[1] != other.shape[1]:
        raise InputError(
            f"cannot match latents of SAEs over different input widths ({reference.shape[1]} vs {other.shape[1]}).",
            fix="compare genomes encoded at the same layer with the same SAE kind.",
        )
    cos = unit_rows(reference) @ unit_rows(other).T
    rows, cols = linear_sum_assignment(cos, maximize=True)
    match = np.full(len(reference), -1, dtype=np.int64)
    cosine = np.full(len(reference), np.nan)
    match[rows], cosine[rows] = cols, cos[rows, cols]
    return match, cosine


def same_sae(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def latent_matches(
    decoders: Mapping[str, np.ndarray], sae_paths: Mapping[str, str | Path], reference: str
) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
    """Per genome: None when it used the reference's SAE file (latents match by id), else
    (its latent for each reference latent, cosine) from `match_latents` on the two decoders."""
    out: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    for genome, path in sae_paths.items():
        if same_sae(path, sae_paths[reference]):
            out[genome] = None
        elif decoders.get(reference) is None or decoders.get(genome) is None:
            raise InputError(
                f"genome {genome!r} used another SAE than {reference!r}: both decoders are needed.", path=path
            )
        else:
            out[genome] = match_latents(decoders[reference], decoders[genome])
    return out


def matched_latents(latents: np.ndarray, match: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Reference latent ids → (this genome's latent for each, −1 where none; the pair's decoder cosine).
    `match` None = the same SAE: the same ids, cosine 1."""
    latents = np.asarray(latents, dtype=np.int64)
    if match is None:
        return latents.copy(), np.ones(len(latents))
    ids, cos = match  # index = reference latent (row of its decoder)
    inside = latents < len(ids)
    mine, cosine = np.full(len(latents), -1, np.int64), np.full(len(latents), np.nan)
    mine[inside], cosine[inside] = ids[latents[inside]], cos[latents[inside]]
    return mine, cosine


def features_across_genomes(
    tables: Mapping[str, pd.DataFrame], matches: Mapping[str, tuple | None], reference: str
) -> pd.DataFrame:
    """Wide table, one row per latent of the `reference` genome's SAE, one column group per genome:
    the matched latent (`<g>:latent`), `<g>:match_cosine`, label, annotated, held-out AUROC, margin,
    activation frequency. `matches[g]` None = same SAE (matched by id). `shared_label` is the label when
    every genome that annotates its matched latent agrees."""
    ref = tables[reference].set_index("latent")
    latents = ref.index.to_numpy(np.int64)
    wide = pd.DataFrame({"latent": latents})
    genomes = [reference] + sorted(g for g in tables if g != reference)
    for g in genomes:
        table = tables[g].set_index("latent")
        mine, cosine = matched_latents(latents, matches.get(g))
        rows = table.reindex(mine)  # −1: no match → NaN row
        part = pd.DataFrame({"latent": pd.array(mine, dtype="Int64"), "match_cosine": cosine})
        part.loc[mine < 0, "latent"] = pd.NA
        for col in PER_GENOME[2:]:
            part[col] = rows[col].to_numpy() if col in rows else np.nan
        wide = pd.concat([wide, part.add_prefix(f"{g}:")], axis=1)
    annotated = np.column_stack([wide[f"{g}:annotated"].astype("boolean").fillna(False).astype(bool) for g in genomes])
    labels = np.column_stack([wide[f"{g}:label"].astype(object) for g in genomes])
    shared = []
    for flags, names in zip(annotated, labels):
        chosen = {n for f, n in zip(flags, names) if f}
        shared.append(chosen.pop() if len(chosen) == 1 else "")
    wide.insert(1, "n_genomes_annotated", annotated.sum(axis=1))
    wide.insert(2, "shared_label", shared)
    others = [f"{g}:match_cosine" for g in genomes[1:]]
    wide.insert(3, "min_match_cosine", wide[others].min(axis=1) if others else 1.0)
    for g in genomes:
        wide[f"{g}:annotated"] = wide[f"{g}:annotated"].astype("boolean")
    return wide.sort_values(
        ["n_genomes_annotated", "min_match_cosine", "latent"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def decoder_rows(path: str | Path) -> np.ndarray:
    """An SAE's decoder rows, one per latent (a strand-shared SAE's per-strand dictionary), as float64."""
    from dnalens.sae.dictionary import decoder
    from dnalens.sae.io import load_sae

    return decoder(load_sae(path)).to("cpu").double().numpy()


def sae_matches(
    sae_paths: Mapping[str, str | Path], names: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
    """`latent_matches` against the first genome, reading decoders only when some genome used another
    SAE than the first one (one shared dictionary: nothing is read, latents match by id)."""
    reference = names[0]
    need = [g for g in names if not same_sae(sae_paths[g], sae_paths[reference])]
    decoders = {g: decoder_rows(sae_paths[g]) for g in ([reference] + need if need else [])}
    return latent_matches(decoders, sae_paths, reference)


def summarize(
    tables: Mapping[str, pd.DataFrame], sae_paths: Mapping[str, str | Path], names: Sequence[str]
) -> pd.DataFrame:
    """`dnalens summarize-genomes`: the wide table, latents matched by `sae_matches`."""
    return features_across_genomes(tables, sae_matches(sae_paths, names), names[0])
