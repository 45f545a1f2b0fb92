"""What a concept row is as a finding, and how sure its held-out AUROCs are (concepts.parquet columns).

One row per finding, decided here where the labels are (the report folds the rows by these columns):
- `twin`: a concept and its `_antisense` twin are one concept read from the other strand; `orientation`
  says which strand a row reads (sense / antisense / unstranded), `twin` names the other row.
- `finding` / `members`: concepts whose labels are the same on this genome are one finding. Rule: two
  concepts are merged when their label vectors over every buffer token have Jaccard ≥ `IDENTICAL_JACCARD`
  (0.99; identical vectors are 1.0), joined transitively; twins are compared through their sense names.
  CDS, exon and gene on a bacterium (no introns, few RNA genes) merge; on the chloroplast they do not.
  `finding` is the first member in column order, `members` every member joined by ", ".
- `concept_kind`: "control" for the families that describe the sequence itself (`CONTROL_FAMILIES`:
  bases, GC-rich/poor, CpG, homopolymers), whose baselines answer them by construction; else "biological".
- intervals (`intervals.py`): per AUROC column X, `X_lo` / `X_hi` (95 % percentile bootstrap over held-out
  instances and segments, `probe.bootstrap_n` replicates, `probe.bootstrap_seed`) and `X_note`; where the
  held-out blocks hold fewer than `probe.min_heldout_instances` instances the interval stays empty,
  `too_few_heldout` is true and `X_note` says "too few held-out instances (n)". `best_margin_lo/hi` is the
  paired interval of the best latent's margin over the chosen baseline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.concepts.registry import CONCEPT_FAMILIES
from dnalens.probe.baselines import fit_table
from dnalens.probe.intervals import (
    Replicates,
    bootstrap_auroc,
    cluster_keys,
    concept_clusters,
    heldout_instances,
    percentile_interval,
    too_few_note,
)

log = logging.getLogger(__name__)
ANTISENSE = "_antisense"
IDENTICAL_JACCARD = 0.99
CONTROL_FAMILIES = ("sequence",)
NO_SCORES = "no interval: held-out scores not kept"
CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class HeldOutSet:
    """The held-out rows one AUROC was measured on, which of them are positives, and the scores there
    (`stratum`: matched-control strata, only same-stratum pairs count)."""

    rows: np.ndarray
    positive: np.ndarray
    scores: np.ndarray
    stratum: np.ndarray | None = None


def sense_name(name: str) -> str:
    return name[: -len(ANTISENSE)] if name.endswith(ANTISENSE) else name


def twins(names: list[str]) -> dict[str, str]:
    """concept → its twin, for every concept whose twin is among `names`."""
    present = set(names)
    out = {}
    for n in names:
        other = sense_name(n) if n.endswith(ANTISENSE) else n + ANTISENSE
        if other in present:
            out[n] = other
    return out


def concept_kind(name: str) -> str:
    """ "control" for concepts of the sequence-describing families, else "biological"."""
    base = sense_name(name)
    for family in CONTROL_FAMILIES:
        module = CONCEPT_FAMILIES[family]
        if base in module.CONCEPTS or base in getattr(module, "CATEGORICAL", {}):
            return "control"
    return "biological"


def jaccard_matrix(labels, n_rows: int | None = None) -> np.ndarray:
    """[L, L] Jaccard of the label columns over every token (row chunks; bool array or PackedLabels)."""
    n = int(labels.shape[0]) if n_rows is None else n_rows
    n_l = int(labels.shape[1])
    inter = np.zeros((n_l, n_l))
    for a in range(0, n, CHUNK_ROWS):
        rows = slice(a, min(a + CHUNK_ROWS, n))
        block = labels.rows(rows) if hasattr(labels, "rows") else np.asarray(labels[rows], bool)
        x = np.asarray(block, np.float32)
        inter += (x.T @ x).astype(np.float64)
    size = np.diag(inter)
    union = size[:, None] + size[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def identical_groups(names: list[str], jaccard: np.ndarray, cut: float = IDENTICAL_JACCARD) -> dict[str, list[str]]:
    """sense name → the sense names merged with it (module doc), in column order; a concept alone maps to
    itself. Only sense (and unstranded) columns are compared."""
    sense = [i for i, n in enumerate(names) if not n.endswith(ANTISENSE)]
    parent = {i: i for i in sense}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a_pos, a in enumerate(sense):
        for b in sense[a_pos + 1 :]:
            if jaccard[a, b] >= cut:
                parent[max(root(a), root(b))] = min(root(a), root(b))
    groups: dict[int, list[str]] = {}
    for i in sense:
        groups.setdefault(root(i), []).append(names[i])
    return {names[i]: groups[root(i)] for i in sense}


def finding_columns(names: list[str], jaccard: np.ndarray, cut: float = IDENTICAL_JACCARD) -> pd.DataFrame:
    """Per concept: orientation, twin, finding, members, concept_kind (module doc)."""
    twin = twins(names)
    groups = identical_groups(names, jaccard, cut)
    rows = []
    for n in names:
        base = sense_name(n)
        members = groups.get(base, [base])
        orientation = "antisense" if n.endswith(ANTISENSE) else ("sense" if n in twin else "unstranded")
        rows.append(
            {
                "concept": n,
                "orientation": orientation,
                "twin": twin.get(n, ""),
                "finding": members[0],
                "members": ", ".join(members),
                "concept_kind": concept_kind(n),
            }
        )
    return pd.DataFrame(rows)


def _column(x, j: int, rows: np.ndarray) -> np.ndarray:
    if hasattr(x, "column"):
        return np.asarray(x.column(j, rows))
    return np.asarray(x[rows, j])


def latent_scores(codes, feature_columns, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """[len(rows), len(features)] dense codes of a few features at `rows` (buffer layouts as ProbeInputs)."""
    features = np.asarray(features, np.int64)
    if feature_columns is not None:
        block = feature_columns.columns(features)
        return np.asarray(block[rows].todense(), np.float64)
    if sp.issparse(codes):
        return np.asarray(sp.csc_matrix(codes)[:, features][rows].todense(), np.float64)
    if hasattr(codes, "take"):
        return np.asarray(codes.take(rows)[:, features].todense(), np.float64)
    return np.asarray(np.asarray(codes)[rows][:, features], np.float64)


def baseline_sets(
    ctx_codes: dict[str, np.ndarray],
    n_codes: dict[str, int],
    labels,
    train: np.ndarray,
    test: np.ndarray,
    columns: list[int],
) -> dict[int, dict[str, HeldOutSet]]:
    """Held-out scores of every sequence-only baseline (P(concept | code) from the train tokens, as
    `baselines.baseline_scores`) for the given label columns, scored on every held-out token."""
    out: dict[int, dict[str, HeldOutSet]] = {j: {} for j in columns}
    sides = {name: (code[train], code[test]) for name, code in ctx_codes.items()}  # once, not per concept
    totals = {name: np.bincount(tr, minlength=n_codes[name]).astype(np.float64) for name, (tr, _) in sides.items()}
    for j in columns:
        y_train = _column(labels, j, train)
        y_test = _column(labels, j, test)
        for name, (code_train, code_test) in sides.items():
            pos = np.bincount(code_train[y_train], minlength=n_codes[name]).astype(np.float64)
            table = fit_table(pos, totals[name])[:, 0]
            out[j][f"baseline_{name}_auroc_test"] = HeldOutSet(test, y_test, table[code_test])
    return out


def control_baseline_sets(control, ctx_codes: dict[str, np.ndarray], n_codes: dict[str, int]) -> dict[str, HeldOutSet]:
    """The same on a matched control's held-out rows (table fitted on its train rows, all strata together, as
    `controls.control_baselines`)."""
    out = {}
    rows, positive, stratum = control_rows(control)
    for name, code in ctx_codes.items():
        k = n_codes[name]
        pos = sum(np.bincount(code[p], minlength=k).astype(np.float64) for p, _ in control.rows["train"])
        neg = sum(np.bincount(code[n], minlength=k).astype(np.float64) for _, n in control.rows["train"])
        table = fit_table(np.asarray(pos, np.float64), np.asarray(pos + neg, np.float64))[:, 0]
        out[f"baseline_{name}_auroc_test"] = HeldOutSet(rows, positive, table[code[rows]], stratum)
    return out


def control_rows(control) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, positive, stratum) of a matched control's held-out side."""
    parts = control.rows["test"]
    rows = np.concatenate([np.concatenate([p, n]) for p, n in parts]) if parts else np.zeros(0, np.int64)
    positive = np.concatenate([np.r_[np.ones(p.size, bool), np.zeros(n.size, bool)] for p, n in parts] or [[]])
    stratum = np.concatenate([np.full(p.size + n.size, k) for k, (p, n) in enumerate(parts)] or [[]])
    return rows, positive.astype(bool), stratum.astype(np.int64)


def interval_columns(
    concepts: pd.DataFrame,
    sets: dict[str, dict[str, HeldOutSet]],
    labels,
    instances,
    test: np.ndarray,
    token_contig: np.ndarray,
    token_position: np.ndarray,
    token_minus: np.ndarray | None = None,
    *,
    n_boot: int,
    seed: int,
    segment: int,
    min_heldout: int,
    auroc_columns: list[str],
) -> pd.DataFrame:
    """`concepts` with X_lo, X_hi, X_note for every X in `auroc_columns`, n_heldout_instances,
    too_few_heldout and best_margin_lo/hi (module doc). `sets[concept][X]`: the held-out scores behind X;
    an X without them gets the NO_SCORES note where it has a value."""
    out = concepts.copy()
    names = list(out["concept"])
    new: dict[str, list] = {f"{c}_{s}": [] for c in auroc_columns for s in ("lo", "hi", "note")}
    new |= {"n_heldout_instances": [], "too_few_heldout": [], "best_margin_lo": [], "best_margin_hi": []}
    for j, name in enumerate(names):
        positive_test = _column(labels, j, test)
        inst = None if instances is None else _column(instances, j, test)
        n_inst = heldout_instances(
            positive_test,
            inst,
            token_contig[test],
            None if token_minus is None else token_minus[test],
            token_position[test],
        )
        too_few = n_inst < min_heldout
        new["n_heldout_instances"].append(n_inst)
        new["too_few_heldout"].append(bool(too_few))
        mine = sets.get(name, {})
        reps = None
        if not too_few and mine:  # one draw per concept: every AUROC of it is paired
            all_keys = cluster_keys(positive_test, inst, token_contig[test], token_position[test], segment)
            reps = Replicates.draw(concept_clusters(all_keys, positive_test), n_boot, seed, j)
        drawn: dict[str, np.ndarray] = {}
        for col in auroc_columns:
            value = out.at[j, col] if col in out else np.nan
            has_value = value is not None and value == value
            lo = hi = np.nan
            note = ""
            if not has_value:
                pass
            elif too_few:
                note = too_few_note(n_inst)
            elif col not in mine or reps is None:
                note = NO_SCORES
            else:
                s = mine[col]
                keys = cluster_keys(
                    s.positive,
                    _rows_instances(instances, j, s.rows),
                    token_contig[s.rows],
                    token_position[s.rows],
                    segment,
                )
                drawn[col] = bootstrap_auroc(s.scores, s.positive, keys, reps, s.stratum)
                lo, hi = percentile_interval(drawn[col])
            new[f"{col}_lo"].append(lo)
            new[f"{col}_hi"].append(hi)
            new[f"{col}_note"].append(note)
        base = f"baseline_{out.at[j, 'baseline']}_auroc_test" if "baseline" in out else ""
        if "best_auroc_test" in drawn and base in drawn:
            new["best_margin_lo"].append(percentile_interval(drawn["best_auroc_test"] - drawn[base])[0])
            new["best_margin_hi"].append(percentile_interval(drawn["best_auroc_test"] - drawn[base])[1])
        else:
            new["best_margin_lo"].append(np.nan)
            new["best_margin_hi"].append(np.nan)
    for key, values in new.items():
        out[key] = values
    return out


def _rows_instances(instances, j: int, rows: np.ndarray) -> np.ndarray | None:
    return None if instances is None else _column(instances, j, rows)


def heldout_sets(
    concepts: pd.DataFrame,
    inputs,
    train: np.ndarray,
    test: np.ndarray,
    *,
    ctx_codes: dict[str, np.ndarray] | None = None,
    n_codes: dict[str, int] | None = None,
    controls=(),
) -> dict[str, dict[str, HeldOutSet]]:
    """concept → AUROC column → the held-out scores behind it, for what the tables alone determine: the
    train-chosen best latent (its codes) and every sequence-only baseline in `ctx_codes`, on the matched
    controls' rows (with their strata) where a concept has them; `baseline_auroc_test` is the chosen one's."""
    names = list(inputs.label_names)
    by_column = {c.column: c for c in controls}
    best = concepts.set_index("concept").loc[names, "best_feature_auroc"].to_numpy(np.int64)
    chosen_baseline = concepts.set_index("concept").loc[names, "baseline"].astype(str).to_numpy()
    uncontrolled = [j for j in range(len(names)) if j not in by_column]
    latent = latent_scores(inputs.codes, inputs.feature_columns, best, test) if names else None
    sets: dict[str, dict[str, HeldOutSet]] = {n: {} for n in names}
    if ctx_codes:
        for j, per in baseline_sets(ctx_codes, n_codes, inputs.labels, train, test, uncontrolled).items():
            sets[names[j]].update(per)
    for j, name in enumerate(names):
        if j in by_column:
            rows, positive, stratum = control_rows(by_column[j])
            scores = latent_scores(inputs.codes, inputs.feature_columns, best[j : j + 1], rows)[:, 0]
            sets[name]["best_auroc_test"] = HeldOutSet(rows, positive, scores, stratum)
            if ctx_codes:
                sets[name].update(control_baseline_sets(by_column[j], ctx_codes, n_codes))
        else:
            sets[name]["best_auroc_test"] = HeldOutSet(test, _column(inputs.labels, j, test), latent[:, j])
        chosen = f"baseline_{chosen_baseline[j]}_auroc_test"
        if chosen in sets[name]:
            sets[name]["baseline_auroc_test"] = sets[name][chosen]
        elif chosen_baseline[j] == "none":  # no baseline: chance, one constant score (interval 0.5-0.5)
            s = sets[name]["best_auroc_test"]
            sets[name]["baseline_auroc_test"] = HeldOutSet(s.rows, s.positive, np.zeros(s.rows.size), s.stratum)
    return sets


def concept_evidence(
    concepts: pd.DataFrame,
    inputs,
    train: np.ndarray,
    test: np.ndarray,
    settings,
    *,
    ctx_codes: dict[str, np.ndarray] | None = None,
    n_codes: dict[str, int] | None = None,
    controls=(),
    extra: dict[str, dict[str, HeldOutSet]] | None = None,
) -> pd.DataFrame:
    """concepts.parquet with the finding columns and the intervals (module doc). `extra` adds held-out
    scores the tables do not determine (concept → AUROC column → HeldOutSet: the dense probe, the latent
    group, further baselines); an AUROC column without any gets the NO_SCORES note."""
    t0 = time.perf_counter()
    names = list(inputs.label_names)
    out = concepts.merge(finding_columns(names, jaccard_matrix(inputs.labels)), on="concept", how="left")
    sets = heldout_sets(out, inputs, train, test, ctx_codes=ctx_codes, n_codes=n_codes, controls=controls)
    for name, per in (extra or {}).items():
        sets.setdefault(name, {}).update(per)
    for name, chosen in zip(out["concept"], out["baseline"].astype(str)):  # the chosen one may come from `extra`
        per = sets.get(name, {})
        if "baseline_auroc_test" not in per and f"baseline_{chosen}_auroc_test" in per:
            per["baseline_auroc_test"] = per[f"baseline_{chosen}_auroc_test"]
    columns = auroc_columns(out)
    out = interval_columns(
        out,
        sets,
        inputs.labels,
        inputs.instances,
        test,
        np.asarray(inputs.token_contig),
        np.asarray(inputs.token_position),
        np.asarray(inputs.token_minus),
        n_boot=settings.bootstrap_n,
        seed=settings.bootstrap_seed,
        segment=settings.bootstrap_segment,
        min_heldout=settings.min_heldout_instances,
        auroc_columns=columns,
    )
    log.info("findings and %d bootstrap intervals per concept: %.1f s", len(columns), time.perf_counter() - t0)
    return out


def auroc_columns(concepts: pd.DataFrame) -> list[str]:
    """Every held-out AUROC column of a concepts table (what gets an interval)."""
    fixed = ["best_auroc_test", "baseline_auroc_test", "group_auroc_test", "dense_probe_auroc", "sae_probe_auroc"]
    more = [
        c
        for c in concepts.columns
        if (c.startswith("baseline_") and c.endswith("_auroc_test") and c != "baseline_auroc_test")
        or c.startswith("k_sparse_auroc_test_")
    ]
    return [c for c in fixed if c in concepts.columns] + more
