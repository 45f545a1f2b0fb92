"""One row per finding in concept_summary.tsv and on the report's first screen; a latent's label only where it passes.

The probe stage decides what belongs together where the labels are (probe/findings.py: `twin`, `finding`,
`members`, `concept_kind` and the intervals in concepts.parquet); here the rows are folded and each gets its
outcome, so no concept is counted twice and a failed or untestable concept never reads as a finding:
- `outcome`: passes / fails / untestable, `outcome_reason` in words. Untestable: fewer instances than
  probe.min_instances (not evaluated), fewer held-out instances than probe.min_heldout_instances
  (`too_few_heldout`), or a reason the probe stage gave (`untestable_reason`, e.g. a matched control too small).
- folding: rows of one `finding` (a concept, its `_antisense` twin, concepts identical on this genome) become
  one row, the representative chosen by outcome (passes first), then the sense reading, then member order.
  `strand` says which reading the numbers are from, `twin` names the other reading and `twin_outcome` its
  outcome, `members` the merged concepts, `folded` every concept row behind it.
Probe directories written before these columns existed fold by name (twins only; controls by the labels
stage's `family`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ANTISENSE = "_antisense"
CONTROL_FAMILIES = ("sequence",)  # the probe stage's rule (probe/findings.py), for older probe directories
OUTCOMES = ("passes", "fails", "untestable")
FINDING_COLUMNS = ("twin", "finding", "members", "concept_kind", "n_heldout_instances", "too_few_heldout")


def _sense(name: str) -> str:
    return name[: -len(ANTISENSE)] if name.endswith(ANTISENSE) else name


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA


def with_finding_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Fill the probe stage's finding columns where an older probe directory lacks them (by name)."""
    out = table.copy()
    names = set(out["concept"].astype(str))
    if "finding" not in out:
        out["finding"] = [_sense(n) for n in out["concept"].astype(str)]
    if "members" not in out:
        out["members"] = out["finding"]
    if "twin" not in out:
        out["twin"] = [
            (_sense(n) if n.endswith(ANTISENSE) else n + ANTISENSE)
            if (_sense(n) if n.endswith(ANTISENSE) else n + ANTISENSE) in names
            else ""
            for n in out["concept"].astype(str)
        ]
    if "concept_kind" not in out:
        family = out["family"] if "family" in out else pd.Series("", index=out.index)
        out["concept_kind"] = np.where(family.isin(CONTROL_FAMILIES), "control", "biological")
    if "too_few_heldout" not in out:
        out["too_few_heldout"] = False
    out["too_few_heldout"] = out["too_few_heldout"].astype("boolean").fillna(False).astype(bool)
    for col in ("finding", "members", "twin"):
        out[col] = out[col].where(out[col].notna(), "").astype(str)
    out["finding"] = np.where(out["finding"] == "", out["concept"].astype(str), out["finding"])
    out["concept_kind"] = out["concept_kind"].where(out["concept_kind"].notna(), "biological")
    return out


def outcome(row: pd.Series, margin_cut: float) -> tuple[str, str]:
    """(outcome, reason in words) of one concept row (module doc)."""
    reason = row.get("untestable_reason")
    if not bool(row.get("evaluated", False)):
        n = row.get("instances")
        return "untestable", "too few instances to test" + ("" if _missing(n) else f" ({int(n)})")
    if bool(row.get("too_few_heldout", False)):
        return "untestable", f"too few held-out instances ({int(row['n_heldout_instances'])})"
    if isinstance(reason, str) and reason:
        return "untestable", reason
    if bool(row.get("passes", False)):
        return "passes", ""
    margin, baseline = row.get("best_margin"), row.get("baseline") or "best"
    if _missing(margin) or margin < margin_cut:
        shown = "" if _missing(margin) else f" (margin {margin:+.3f})"
        return "fails", f"no latent beats the {baseline} baseline by {margin_cut:g}{shown}"
    return "fails", (
        f"beats the {baseline} baseline but fails the rest of the annotation rule "
        f"(held-out AUROC {row.get('best_auroc_test', np.nan):.3f}, q {row.get('best_q', np.nan):.2g})"
    )


def fold_findings(table: pd.DataFrame, margin_cut: float) -> pd.DataFrame:
    """One row per finding (module doc), passing findings first, then failing, then untestable."""
    table = with_finding_columns(table)
    judged = [outcome(r, margin_cut) for _, r in table.iterrows()]
    table["outcome"] = [o for o, _ in judged]
    table["outcome_reason"] = [r for _, r in judged]
    by_concept = table.set_index("concept")["outcome"].to_dict()
    member_rank = [
        (m.split(", ").index(_sense(c)) if _sense(c) in m.split(", ") else 0)
        for c, m in zip(table["concept"].astype(str), table["members"])
    ]
    table = table.assign(
        _outcome=table["outcome"].map({o: i for i, o in enumerate(OUTCOMES)}),
        _antisense=table["concept"].astype(str).str.endswith(ANTISENSE),
        _member=member_rank,
    )
    table = table.sort_values(["finding", "_outcome", "_antisense", "_member", "concept"], kind="stable")
    folded = table.groupby("finding", sort=False)["concept"].agg(lambda c: ", ".join(map(str, c)))
    rows = table.drop_duplicates("finding").copy()
    rows["folded"] = rows["finding"].map(folded)
    rows["n_folded"] = rows["folded"].str.count(", ") + 1
    rows["strand"] = np.where(rows["_antisense"], "antisense", np.where(rows["twin"] != "", "sense", "unstranded"))
    rows["twin_outcome"] = [by_concept.get(t, "") if t else "" for t in rows["twin"]]
    rows = rows.drop(columns=["_antisense", "_member"])
    rows = rows.sort_values(
        ["_outcome", "concept_kind", "best_margin", "concept"],
        ascending=[True, True, False, True],
        kind="stable",
        na_position="last",
    )
    return rows.drop(columns="_outcome").reset_index(drop=True)


def finding_labels(table: pd.DataFrame) -> pd.DataFrame:
    """features.tsv: `label` only where the latent's label pair passes; elsewhere empty, with the train-chosen
    concept in `best_candidate` and why it is no finding in `best_candidate_status` ("fails: ...")."""
    out = table.copy()
    passing = out["annotated"].astype("boolean").fillna(False).astype(bool)
    has = out["label"].notna() & (out["label"].astype(str) != "")
    candidate = out["label"].where(has & ~passing)
    margin = out["margin"] if "margin" in out else pd.Series(np.nan, index=out.index)
    status = np.where(
        passing,
        "passes",
        np.where(
            has,
            [
                f"fails: held-out AUROC {a:.3f}, margin {m:+.3f} over its baseline"
                for a, m in zip(out["auroc_test"], margin)
            ],
            "",
        ),
    )
    at = int(out.columns.get_loc("label")) + 1
    out["label"] = out["label"].where(passing)
    out.insert(at, "best_candidate", candidate)
    out.insert(at + 1, "best_candidate_status", status)
    return out
