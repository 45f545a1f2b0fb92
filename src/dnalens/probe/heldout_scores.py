"""Held-out scores of the concept-level claims, kept so that their AUROCs get bootstrap intervals too.

The single latents' and the k-mer baselines' held-out scores can be rebuilt from the codes and the sequence at
the gather (probe/findings.py). Three claims cannot: the linear probes (dense and SAE: fitted in the
probe_linear job), the matched-context baseline (a fitted model) and the latent group (a k-sparse probe). Their
held-out logits are kept where they are computed — `heldout_scores.npz` beside the linear job's table, the
context baseline's in the gather's own process, the k-sparse probes and the group refitted on their recorded
latents exactly as they were fitted (same rows, seed and latents: the same probes) — and handed to `findings.concept_evidence` as
`HeldOutSet`s, so each gets the same seeded draw as the concept's other AUROCs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.probe.findings import HeldOutSet
from dnalens.probe.kept_scores import Kept, keep_scores
from dnalens.probe.probes import sample_rows

HELDOUT_FILE = "heldout_scores.npz"
SEP = "|"  # npz key: "<AUROC column>|<concept>"


def write_kept(keep: Kept, directory: str | Path) -> None:
    arrays = {
        f"{column}{SEP}{concept}{SEP}{field}": value
        for column, per in keep.items()
        for concept, fields in per.items()
        for field, value in fields.items()
    }
    with atomic_path(Path(directory) / HELDOUT_FILE) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def read_kept(directory: str | Path) -> Kept:
    """What write_kept wrote; {} for a linear job of an older release (its AUROCs then get no interval)."""
    path = Path(directory) / HELDOUT_FILE
    if not path.is_file():
        return {}
    keep: Kept = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            column, concept, field = key.split(SEP)
            keep.setdefault(column, {}).setdefault(concept, {})[field] = data[key]
    return keep


def heldout_sets(keep: Kept, labels, names: list[str], test: np.ndarray) -> dict[str, dict[str, HeldOutSet]]:
    """concept -> AUROC column -> HeldOutSet, from kept scores (on `test` rows unless a control gave its own)."""
    column_of = {n: j for j, n in enumerate(names)}
    y_test = None
    out: dict[str, dict[str, HeldOutSet]] = {}
    for column, per in keep.items():
        for concept, fields in per.items():
            if "rows" in fields:
                found = HeldOutSet(fields["rows"], fields["positive"].astype(bool), fields["scores"], fields["stratum"])
            else:
                if y_test is None:
                    y_test = np.asarray(labels[test], bool)
                found = HeldOutSet(test, y_test[:, column_of[concept]], fields["scores"])
            if np.isfinite(found.scores).all():
                out.setdefault(concept, {})[column] = found
    return out


def sparse_scores(concepts: pd.DataFrame, probes: pd.DataFrame | None, codes, labels, names, train, test, s) -> Kept:
    """Held-out logits of the k-sparse probes (`k_sparse_auroc_test_k<k>`, every k listed in probes.parquet) and
    of each concept's chosen latent group (`group_auroc_test`): each probe refitted on the k-sparse probes' train
    sample (`sample_rows(train, sparse_probe_max_tokens, seed)`) and its recorded latents, as the probe stage
    fitted it (the same rows, latents and l2 give the same probe), then scored on the held-out rows."""
    import scipy.sparse as sp

    from dnalens.probe.probe_runs import rows_of
    from dnalens.probe.sparse_probing import probe_scores

    jobs = []
    if "group_latents" in concepts:
        chosen = concepts[concepts["group_latents"].fillna("").astype(str) != ""]
        jobs += [("group_auroc_test", c, ids) for c, ids in zip(chosen["concept"], chosen["group_latents"].astype(str))]
    if probes is not None and not probes.empty and "k" in probes:
        rows = probes[probes["kind"] == "k_sparse"]
        jobs += [
            (f"k_sparse_auroc_test_k{int(k)}", c, str(ids))
            for c, k, ids in zip(rows["concept"], rows["k"], rows["latents"])
        ]
    keep: Kept = {}
    if not jobs:
        return keep
    fit_rows = sample_rows(train, s.sparse_probe_max_tokens, s.seed)
    codes_fit, codes_test = sp.csc_matrix(rows_of(codes, fit_rows)), sp.csc_matrix(rows_of(codes, test))
    y_fit = np.asarray(labels[fit_rows], bool)
    at = {n: j for j, n in enumerate(names)}
    done: dict[tuple[str, str], np.ndarray] = {}  # a group is one of the k rows: fit it once
    for column, concept, latents in jobs:
        if (concept, latents) not in done:
            ids = np.array([int(i) for i in latents.split("+")], np.int64)
            y = y_fit[:, at[concept]]
            done[(concept, latents)] = probe_scores(codes_fit, y, codes_test, ids, l2=s.probe_l2)
        keep_scores(keep, column, concept, done[(concept, latents)])
    return keep
