"""Yield of a shared dictionary against per-genome SAEs on the same tokens: annotated latents and concepts per
genome, from two finished runs of the same config (one with sae.scope shared, the default, one with
sae.scope genome).

  .venv/bin/python benchmarks/shared_yield.py RESULTS_SHARED RESULTS_PER_GENOME

Each argument is a `results/` directory. A latent counts once however many strand views pass; a concept is a
label of an annotated latent (`own_label`/`opposite_label` with a strand-shared SAE, else `label`), with
`_antisense` twins folded into their concept (the same concept read from the other strand).
"""

from __future__ import annotations

import sys
from pathlib import Path


def annotated_counts(features: Path) -> tuple[int, int, list[str]]:
    """(annotated latents, distinct concepts they carry (antisense twins folded), those concepts) of one
    features.tsv."""
    import pandas as pd

    if not features.is_file():
        return 0, 0, []
    table = pd.read_csv(features, sep="\t")
    labels: set[str] = set()
    annotated = table["annotated"].astype(str).str.lower().eq("true")
    for prefix in ("own_", "opposite_", ""):
        flag, label = f"{prefix}annotated", f"{prefix}label"
        if flag in table and label in table:
            hit = table[flag].astype(str).str.lower().eq("true")
            labels |= set(table.loc[hit, label].dropna().astype(str))
    folded = sorted({label.removesuffix("_antisense") for label in labels})
    return int(annotated.sum()), len(folded), folded


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    shared, separate = (Path(a) for a in argv)
    genomes = sorted(p.name for p in shared.iterdir() if (p / "features.tsv").is_file())
    print(f"{'genome':18s} {'shared latents':>15s} {'concepts':>9s} {'per-genome latents':>19s} {'concepts':>9s}")
    for genome in genomes:
        a = annotated_counts(shared / genome / "features.tsv")
        b = annotated_counts(separate / genome / "features.tsv")
        print(f"{genome:18s} {a[0]:15d} {a[1]:9d} {b[0]:19d} {b[1]:9d}   shared: {a[2]}  per-genome: {b[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
