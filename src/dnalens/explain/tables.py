"""Which latents explain shows, and the per-nucleotide table (columns: formats/explain.py).

Shown: every latent the probe stage annotated (its strict rule: held-out AUROC, margin over the best
sequence-only baseline, q-value), largest margin first, then the `top` strongest others on this input
(largest activation over all its sequences; latents that never fire are not shown).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from dnalens.explain.inputs import InputSequence
from dnalens.explain.sequence_read import SequenceRead
from dnalens.formats.explain import BASE_COLUMNS, LATENT_COLUMNS, latent_column


def max_activation(reads: Sequence[SequenceRead], n_features: int) -> np.ndarray:
    """float32 [n_features]: each feature's largest activation over every nucleotide of every read."""
    out = np.zeros(n_features, dtype=np.float32)
    for r in reads:
        if r.codes.shape[0]:
            np.maximum(out, r.codes.max(axis=0).toarray().ravel(), out=out)
    return out


def shown_latents(labels: pd.DataFrame, peak: np.ndarray, top: int, strand_width: int | None) -> pd.DataFrame:
    """One row per shown latent (LATENT_COLUMNS but `bigwig`): the annotated ones, then the `top` strongest
    others with activation > 0. `strand_width`: latents per strand of a strand-shared dictionary (None: one)."""
    n = peak.size
    labels = labels[(labels["feature"] >= 0) & (labels["feature"] < n)]
    annotated = labels[labels["annotated"]].sort_values(["margin", "feature"], ascending=[False, True])
    chosen = [int(f) for f in annotated["feature"]]
    taken = set(chosen)
    others = [int(f) for f in np.argsort(-peak, kind="stable") if peak[f] > 0 and int(f) not in taken][:top]
    by_feature = labels.set_index("feature")
    rows = []
    for role, features in (("annotated", chosen), ("top", others)):
        for f in features:
            known = f in by_feature.index
            is_annotated = bool(known and by_feature.at[f, "annotated"])
            label = str(by_feature.at[f, "label"]) if is_annotated else ""
            latent, view = (
                (f, "single") if strand_width is None else (f % strand_width, ("own", "opposite")[f // strand_width])
            )
            rows.append(
                {
                    "column": latent_column(f, label),
                    "feature": f,
                    "latent": latent,
                    "view": view,
                    "label": label,
                    "annotated": is_annotated,
                    "role": role,
                    "max_activation": float(peak[f]),
                    "auroc_test": float(by_feature.at[f, "auroc_test"]) if is_annotated else float("nan"),
                    "margin": float(by_feature.at[f, "margin"]) if is_annotated else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=[c for c in LATENT_COLUMNS if c != "bigwig"])


def nucleotide_table(
    sequences: Sequence[InputSequence],
    reads: Sequence[SequenceRead],
    edges: Sequence[np.ndarray],
    latents: pd.DataFrame,
) -> pd.DataFrame:
    """explain.tsv as a frame: one row per nucleotide, BASE_COLUMNS then one column per shown latent."""
    features = latents["feature"].to_numpy(dtype=np.int64)
    parts = []
    for s, r, edge in zip(sequences, reads, edges):
        n = len(s.seq)
        frame = pd.DataFrame(
            {
                "seq_id": s.seq_id,
                "pos": np.arange(1, n + 1),
                "chrom": s.contig or s.seq_id,
                "chrom_pos": np.arange(1, n + 1) + s.offset,
                "base": list(s.seq),
                "log_likelihood": r.log_likelihood,
                "edge": edge,
            },
            columns=list(BASE_COLUMNS),
        )
        values = r.codes[:, features].toarray() if features.size else np.zeros((n, 0), np.float32)
        frame = pd.concat([frame, pd.DataFrame(values, columns=list(latents["column"]))], axis=1)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)
