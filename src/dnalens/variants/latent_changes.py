"""Which SAE latents a variant changes: codes of the reference and alt windows near the variant, per strand.

The rows are the model read + SAE the genome's buffer used (buffer.json: layer, dictionary and its digest),
pooled as model.rc_pool pools them (scoring.read_rows), with the SAE's lookup bases (sae.base_lookup) from
the read's own sequence. Per latent and strand, Δ = (sum of its activation over the positions within ± w nt
of the variant in the alt window) − (the same sum in the reference window); positions are matched in genome
coordinates, the allele's own positions included (an indel's alt region is longer or shorter by its length).
FWD is the window read on +, RC the window read on − (the reverse complement), and the aggregate is
(ΔFWD + ΔRC) / 2, the aggregate MarinDNA's variant protocol found best. A flip is a latent active (> 0)
somewhere in the region in one allele and nowhere in it in the other.

Latent ids are those of features.tsv: for a strand-shared SAE (codes [own strand | opposite strand]) latent j
is the own-strand column j of each read (column n + j of the + read is latent j on the − read, so it is the
RC value, not a latent of its own); for any other SAE every feature is a latent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from dnalens.formats.window_table import reverse_complement
from dnalens.sae.row_bases import row_codes
from dnalens.variants.scoring import read_rows


@dataclass
class LatentChange:
    """One allele's latent changes (latent ids as in features.tsv)."""

    top: list[tuple[int, str, float, float, float]]  # (latent, label, aggregate Δ, ΔFWD, ΔRC), largest |agg| first
    flips_on: dict[str, np.ndarray] = field(default_factory=dict)  # strand 'fwd' / 'rc' -> latents switched on
    flips_off: dict[str, np.ndarray] = field(default_factory=dict)
    total_abs: float = 0.0  # sum over latents of |aggregate Δ|


class LatentReader:
    """Codes near a variant for one SAE and pooling, and the per-latent changes between two alleles."""

    def __init__(
        self,
        sae,
        pool: str,
        labels: Mapping[int, str],
        *,
        strand_shared: bool,
        trims: tuple[int, int] = (0, 0),
        top_n: int = 5,
    ) -> None:
        self.sae, self.pool, self.labels, self.trims, self.top_n = sae, pool, dict(labels), trims, top_n
        self.n_latents = sae.d_sae // 2 if strand_shared else sae.d_sae

    def codes(self, forward, reverse, seq: str, index: np.ndarray, strand: str) -> np.ndarray:
        """Codes [len(index), n_latents] of the window read on `strand` at window positions `index` (genome
        order); `forward` / `reverse`: the window's two passes' rows, `seq`: its + sequence."""
        import torch

        length = forward.shape[0]
        index = np.asarray(index, dtype=np.int64)
        wanted = index
        if self.sae.batch_dependent:  # its budget is per window: encode the read's kept rows, then pick
            start, end = self.trims if strand == "+" else self.trims[::-1]
            wanted = np.arange(start, length - end)
        rows = read_rows(forward, reverse, wanted, self.pool, strand=strand)
        bases = None
        if self.sae.lookup_context:
            read = seq if strand == "+" else reverse_complement(seq)
            lookup = row_codes(read, self.sae.lookup_context)
            at = wanted if strand == "+" else length - 1 - wanted
            bases = torch.from_numpy(np.asarray(lookup[at], dtype=np.int64))
        with torch.no_grad():
            codes = self.sae.encode(rows, bases)[:, : self.n_latents].float().numpy()
        if wanted is not index:
            keep = np.isin(wanted, index)
            codes = codes[keep]
        return codes

    def change(self, ref: dict[str, np.ndarray], alt: dict[str, np.ndarray]) -> LatentChange:
        """Changes from codes {'fwd': [r, n], 'rc': [r, n]} of the reference region to the alt region's."""
        delta = {s: _total(alt[s]) - _total(ref[s]) for s in ("fwd", "rc")}
        aggregate = (delta["fwd"] + delta["rc"]) / 2
        order = np.argsort(-np.abs(aggregate), kind="stable")[: self.top_n]
        top = [
            (int(j), self.labels.get(int(j), ""), float(aggregate[j]), float(delta["fwd"][j]), float(delta["rc"][j]))
            for j in order
            if aggregate[j] != 0 or delta["fwd"][j] != 0
        ]
        on_ref = {s: _active(ref[s]) for s in ("fwd", "rc")}
        on_alt = {s: _active(alt[s]) for s in ("fwd", "rc")}
        return LatentChange(
            top,
            {s: np.flatnonzero(on_alt[s] & ~on_ref[s]) for s in ("fwd", "rc")},
            {s: np.flatnonzero(on_ref[s] & ~on_alt[s]) for s in ("fwd", "rc")},
            float(np.abs(aggregate).sum()),
        )


def _total(codes: np.ndarray) -> np.ndarray:
    return codes.astype(np.float64).sum(axis=0)


def _active(codes: np.ndarray) -> np.ndarray:
    return (codes > 0).any(axis=0) if len(codes) else np.zeros(codes.shape[1], bool)


def region(offset: int, allele_length: int, w: int, window_length: int) -> np.ndarray:
    """Window positions within ± w nt of an allele starting at `offset` with `allele_length` bases (an
    insertion point with 0), clipped to the window."""
    return np.arange(max(0, offset - w), min(window_length, offset + allele_length + w))


def probe_labels(probe_dir) -> dict[int, str]:
    """feature -> concept label of the latents the probe stage annotated (others get no label)."""
    from pathlib import Path

    import pandas as pd

    from dnalens.errors import InputError
    from dnalens.formats.probe_dir import FEATURES, LABEL_REQUIRED, require_columns

    path = Path(probe_dir) / FEATURES
    if not path.is_file():
        raise InputError(f"{FEATURES} not found in the probe folder.", path=path, fix="run `dnalens probe` first.")
    table = pd.read_parquet(path)
    require_columns(table, (*LABEL_REQUIRED, "annotated"), path)
    keep = table["annotated"].fillna(False).astype(bool) & table["label"].notna()
    return {int(f): str(lab) for f, lab in zip(table.loc[keep, "feature"], table.loc[keep, "label"])}
