"""Columns the matched-context baseline and the matched controls add to concepts.parquet (issue #30).

- `control_name` (`concept|vs_<negative set>`), `control_status` ("tested", or "untestable: <n> ..." with the
  counts), `control_n_positive_test`, `control_n_matched_test` (held-out positives and eligible matched negatives
  before sampling): a tested control's row reports its best latent and every baseline on positives vs those
  negatives; an untestable one's row stays on its fallback (all tokens, or the frame-matched control) and must
  not be read as a finding.
- `group_margin`, `dense_probe_margin`, `sae_probe_margin`: each concept-level claim's held-out AUROC minus the
  strongest baseline's (`strongest_baseline_auroc_test`: chosen on train among the k-mer, GC, edge and
  matched-context baselines), as `best_margin_strongest` is the best single latent's. (`best_margin`, the strict
  rule's, is over the local sequence baselines only: probe/annotate.py GATE_SKIPS.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTROL_COLUMNS = ("control_name", "control_status", "control_n_positive_test", "control_n_matched_test")


def with_control_columns(table: pd.DataFrame, controls: list, untestable: list) -> pd.DataFrame:
    """concepts.parquet + the matched controls (`controls.Control`, applied and untestable) under their names
    (`concept|vs_<negative set>`): tested (the row's best_* and baseline_* are on positives vs those negatives)
    or untestable (with n; the row stays on its fallback, the frame-matched control where one was applied)."""
    out = table.copy()
    out["control_name"], out["control_status"] = "", ""
    out["control_n_positive_test"], out["control_n_matched_test"] = np.nan, np.nan
    at = {name: i for i, name in enumerate(out["concept"].astype(str))}
    for c in list(controls) + list(untestable):
        i = at[c.name]
        if out.at[i, "control_status"]:  # an untestable motif control beside the applied fallback
            out.at[i, "control_status"] = f"{out.at[i, 'control_status']}; {c.label} {c.status}"
            continue
        n_pos, n_neg = c.counts("test")
        matched = (c.n_matched or {}).get("test", int(n_neg.sum()))
        out.loc[i, list(CONTROL_COLUMNS)] = [c.label, c.status, int(n_pos.sum()), int(matched)]
    return out


def with_claim_margins(table: pd.DataFrame) -> pd.DataFrame:
    """Margins of the concept-level claims (latent group, dense and SAE probes) over the strongest baseline's
    held-out AUROC (the best single latent's is best_margin)."""
    out = table.copy()
    claims = (("group", "group_auroc_test"), ("dense_probe", "dense_probe_auroc"), ("sae_probe", "sae_probe_auroc"))
    for claim, auroc in claims:
        if auroc in out:
            out[f"{claim}_margin"] = pd.to_numeric(out[auroc], errors="coerce") - out["strongest_baseline_auroc_test"]
    return out
