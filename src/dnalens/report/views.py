"""Strand views of a strand-shared SAE: one row per latent instead of two mirrored features.

With `sae.strand_shared` a token's codes are [own strand | opposite strand]: feature j and feature
j + d/2 are the same latent j, read from the window's own strand and from the other one. On a genome
read on both strands the two columns are the same numbers on the other strand's reads (same
statistics, hits and tracks), so the report lists each latent once: its activation, hits, tracks,
top windows and card come from the own-strand column j; both views' probing results are kept
(`own_*`, `opposite_*`), and `view` says which of them carries the latent's annotation. For any
other SAE latent = feature and view = "own".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.report.tables import VIEW_COLUMNS

VIEWS = ("own", "opposite")


@dataclass(frozen=True)
class Layout:
    """How SAE feature ids map to latents and views."""

    n_features: int
    strand_shared: bool = False

    def __post_init__(self) -> None:
        if self.strand_shared and self.n_features % 2:
            raise InputError(
                f"the SAE is marked strand_shared but its codes have an odd width ({self.n_features}).",
                fix="check sae_quality.json `strand_shared` against the buffer's SAE.",
            )

    @property
    def n_latents(self) -> int:
        return self.n_features // 2 if self.strand_shared else self.n_features

    def latent_of(self, feature: int) -> tuple[int, str]:
        if self.strand_shared and feature >= self.n_latents:
            return int(feature) - self.n_latents, "opposite"
        return int(feature), "own"

    def latents(self, features) -> tuple[np.ndarray, np.ndarray]:
        """(latent, view) arrays for an array of feature ids."""
        f = np.asarray(features, dtype=np.int64)
        opposite = (f >= self.n_latents) if self.strand_shared else np.zeros(len(f), bool)
        return np.where(opposite, f - self.n_latents, f), np.where(opposite, "opposite", "own")


def per_latent(probe: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """Feature-indexed label metrics (VIEW_COLUMNS) → latent-indexed: `view` and the chosen view's
    VIEW_COLUMNS, plus `own_*` / `opposite_*` copies when strand-shared.

    The chosen view is the one whose label pair is annotated (both: larger held-out margin); when
    neither is, the one with the larger margin; ties and missing values go to own."""
    probe = probe.reindex(index=pd.RangeIndex(layout.n_features), columns=list(VIEW_COLUMNS))
    latents = pd.RangeIndex(layout.n_latents, name="latent")
    if not layout.strand_shared:
        return probe.set_axis(latents).assign(view="own")
    own = probe.iloc[: layout.n_latents].set_axis(latents)
    opp = probe.iloc[layout.n_latents :].set_axis(latents)
    own_ann = own["annotated"].fillna(False).astype(bool).to_numpy()
    opp_ann = opp["annotated"].fillna(False).astype(bool).to_numpy()
    own_m = own["margin"].to_numpy(float)
    opp_m = opp["margin"].to_numpy(float)
    better_margin = np.nan_to_num(opp_m, nan=-np.inf) > np.nan_to_num(own_m, nan=-np.inf)
    use_opp = (opp_ann & ~own_ann) | ((opp_ann == own_ann) & better_margin)
    chosen = own.where(np.broadcast_to(~use_opp[:, None], own.shape), opp).assign(
        view=np.where(use_opp, "opposite", "own")
    )
    chosen["annotated"] = chosen["annotated"].fillna(False).astype(bool)
    return pd.concat([chosen, own.add_prefix("own_"), opp.add_prefix("opposite_")], axis=1)


def with_latents(pairs: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """A table keyed by raw `feature` → keyed by `latent` and `view` (first two columns)."""
    latent, view = layout.latents(pairs["feature"].to_numpy())
    rest = pairs.drop(columns="feature")
    return pd.concat([pd.DataFrame({"latent": latent, "view": view}, index=pairs.index), rest], axis=1)
