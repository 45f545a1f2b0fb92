"""results/<genome>/effects/effects.tsv (+ .parquet): what removing a latent's write does to the model's predictions.

One row per intervention: each tested (annotated) latent (`role` annotated), each matched control latent
(`matched_control`) and, per tested latent, a random direction of the same norm written at the same positions
with the same coefficients (`random_direction`, `latent` = the tested latent). The held-out windows measured
are listed in effects/windows.bed (BED6, read strand).

Units and signs. Δ bits = next-nucleotide cross-entropy with the intervention − without, in bits (nats / ln 2)
per predicted nucleotide: positive = the model got worse. A "prediction at position p" is the one the model
makes from the nucleotides up to p, of the nucleotide after p in the strand pass the latent writes to (its
reading direction), so an ablation at p acts on it directly. Δ log P columns are log2 P(observed next
nucleotide) with − without (positive = more likely after the ablation).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.errors import InputError

EFFECTS_TSV, EFFECTS_PARQUET, EFFECTS_WINDOWS = "effects.tsv", "effects.parquet", "windows.bed"
ROLES = ("annotated", "matched_control", "random_direction")

#: column -> what it holds (the order of the table)
EFFECTS_COLUMNS: dict[str, str] = {
    "latent": "feature id in the genome's buffer codes (for random_direction: the tested latent it stands in for)",
    "role": "annotated (a tested latent), matched_control or random_direction",
    "label": "the tested latent's label (probe features `label`); empty for controls",
    "passes": "strand pass(es) the latent writes to: forward, reverse_complement or both (models.base rc_pool)",
    "n_windows": "held-out windows where the latent fires at least once (only these can change)",
    "n_positions": "predictions scored in those windows (kept positions of the passes it writes to)",
    "n_fire_positions": "of them, positions where the latent fires (> 0): where a·d is removed",
    "n_label_positions": "of them, positives of `label`",
    "bits_fire": "cross-entropy (bits) of the plain model's predictions at the firing positions",
    "delta_bits_fire": "Δ bits, mean over predictions at positions where the latent fires",
    "delta_bits_label": "Δ bits, mean over predictions at positives of `label` (fired or not)",
    "delta_bits_elsewhere": "Δ bits, mean over predictions where the latent does not fire, downstream of a firing "
    "position in the same pass (causal: nothing upstream can change)",
    "control_delta_bits_mean": "annotated rows: mean delta_bits_fire of its matched controls",
    "control_delta_bits_sd": "annotated rows: their standard deviation (ddof 1)",
    "random_delta_bits": "annotated rows: delta_bits_fire of the same-norm random direction at the same positions",
    "z_vs_controls": "(delta_bits_fire − control mean) / control sd",
    "p_vs_controls": "two-sided normal p of z_vs_controls (not empirical: n_controls is small)",
    "effect_verdict": "larger than controls (z ≥ effects.z_threshold), smaller than controls (z ≤ −threshold), "
    "no measurable effect (|z| < threshold), or not measured (no firing position in the held-out windows)",
    "controls": "annotated rows: its matched control latents, joined by +; controls: the tested latents they serve",
    "frequency": "share of the buffer's tokens where the latent fires (probe features)",
    "write_norm": "mean |a·d| where it fires: mean_active × decoder row norm (what controls are matched on)",
    "delta_logp_next_annotated": "position-specific labels (codon position, start/stop codon, splice site, "
    "exon boundary base): mean Δ log2 P of the observed next nucleotide at label positives (= −delta_bits_label)",
    "delta_logp_next_codon_pos1": "mean Δ log2 P of the next nucleotide at codon position 1 positives "
    "(CDS_codon_pos1, or CDS_codon_pos1_antisense when the label is an antisense concept)",
    "delta_logp_next_codon_pos2": "the same at codon position 2",
    "delta_logp_next_codon_pos3": "the same at codon position 3",
}
REQUIRED = ("latent", "role", "label", "n_positions", "delta_bits_fire", "delta_bits_label", "delta_bits_elsewhere")


def write_effects(table: pd.DataFrame, out_tsv: str | Path) -> None:
    """effects.tsv and effects.parquet beside it, each written atomically, columns in EFFECTS_COLUMNS order."""
    out_tsv = Path(out_tsv)
    missing = [c for c in EFFECTS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"effects table lacks column(s) {', '.join(missing)}")
    ordered = table[list(EFFECTS_COLUMNS) + [c for c in table.columns if c not in EFFECTS_COLUMNS]]
    with atomic_path(out_tsv) as tmp:
        ordered.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="")
    with atomic_path(out_tsv.with_suffix(".parquet")) as tmp:
        ordered.to_parquet(tmp, index=False)


def read_effects(path: str | Path) -> pd.DataFrame:
    """effects.tsv or .parquet; a missing file or column is one InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("effects table not found.", path=path, fix="run `dnalens effects` (rule effects) first.")
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep="\t", keep_default_na=True)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(
            f"effects table lacks column(s) {', '.join(missing)}.",
            path=path,
            fix="rerun `dnalens effects` (this dnalens version writes them).",
        )
    frame["label"] = frame["label"].fillna("").astype(str)
    return frame
