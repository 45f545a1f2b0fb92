"""Steered generation's outputs (`dnalens steer`): results/<genome>/effects/steer.tsv + steer.parquet (one row per
generated sequence), steer.fa (every generated sequence, ids = the table's `id`) and steer.json (settings, units).

Columns of steer.tsv, in order:
- `id`: the FASTA record of the generated bases (`f<latent>_<control>_s<strength>_n<n>`);
- `latent`, `label` (the latent's probe label, empty when not annotated), `annotated`;
- `mode` (add | clamp), `strength` (a multiple of the latent's mean activation where it fires, `unit`);
- `unit`: that mean activation (probe features `mean_active`), so `strength × unit` is the activation written;
- `control`: `none` (steered), `unsteered` (the plain model: strength 0, identical for every latent) or
  `random` (a seeded random direction of the decoder row's norm, added at the same strength);
- `seed` (sampling seed of the row; the same n shares prompt and seed across strengths, latents and controls),
  `prompt` (the held-out window the prompt was cut from, `contig:start-end(strand)`), `prompt_length`, `length`;
- readouts of the generated bases only: `latent_activation` (the latent re-encoded through model + SAE, mean
  over the generated positions the buffer would keep, zeros included), `gc`, `gc_frame_high` / `_mid` / `_low`
  (GC of the three codon phases, sorted) and `gc_frame_skew` (high − low), `period3_power` (normalised FFT power
  at 1/3), `genes_per_kb` and `mean_orf_length` (pyrodigal, meta mode), `kmer4_jsd` (bits, to the genome's
  4-mers on both strands), `homopolymer_fraction` (bases in runs ≥ 5 of one letter), `loglik_unsteered`
  (mean log2 P per generated base under the plain model; prompt-conditioned).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.errors import InputError

STEER_COLUMNS = (
    "id",
    "latent",
    "label",
    "annotated",
    "mode",
    "strength",
    "unit",
    "control",
    "seed",
    "prompt",
    "prompt_length",
    "length",
    "latent_activation",
    "gc",
    "gc_frame_high",
    "gc_frame_mid",
    "gc_frame_low",
    "gc_frame_skew",
    "period3_power",
    "genes_per_kb",
    "mean_orf_length",
    "kmer4_jsd",
    "homopolymer_fraction",
    "loglik_unsteered",
)
READOUT_COLUMNS = STEER_COLUMNS[STEER_COLUMNS.index("latent_activation") :]
CONTROLS = ("none", "unsteered", "random")
FASTA_WIDTH = 60


def sibling_paths(table: str | Path) -> dict[str, Path]:
    """steer.tsv -> its parquet, FASTA and JSON siblings."""
    table = Path(table)
    return {
        "tsv": table,
        "parquet": table.with_suffix(".parquet"),
        "fasta": table.with_suffix(".fa"),
        "json": table.with_suffix(".json"),
    }


def write_steer(table: pd.DataFrame, sequences: Mapping[str, str], summary: dict, out: str | Path) -> dict[str, Path]:
    """steer.tsv, .parquet, .fa and .json, each atomic; the TSV last (the rule's output marker)."""
    missing = [c for c in STEER_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"steer table lacks {missing}")
    if set(table["id"]) != set(sequences):
        raise ValueError("steer table ids and FASTA records differ")
    paths = sibling_paths(out)
    ordered = table[list(STEER_COLUMNS) + [c for c in table.columns if c not in STEER_COLUMNS]]
    with atomic_path(paths["fasta"]) as tmp, open(tmp, "w") as handle:
        for seq_id in ordered["id"]:
            seq = sequences[seq_id]
            handle.write(f">{seq_id}\n")
            for i in range(0, len(seq), FASTA_WIDTH):
                handle.write(seq[i : i + FASTA_WIDTH] + "\n")
    with atomic_path(paths["json"]) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1, default=str) + "\n")
    with atomic_path(paths["parquet"]) as tmp:
        ordered.to_parquet(tmp, index=False)
    with atomic_path(paths["tsv"]) as tmp:
        ordered.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return paths


def read_steer(path: str | Path) -> pd.DataFrame:
    """steer.tsv (or its parquet); a missing column is one InputError naming it."""
    path = Path(path)
    parquet = path.with_suffix(".parquet")
    frame = pd.read_parquet(parquet) if parquet.exists() else pd.read_csv(path, sep="\t", keep_default_na=False)
    missing = [c for c in STEER_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"steer table lacks column(s) {', '.join(missing)}.",
            path=path,
            fix="rerun the steer rule (`dnalens steer`) with this dnalens version.",
        )
    return frame
