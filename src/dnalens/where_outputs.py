"""Print where a finished run put its tables, tracks and report (the last lines of `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

OUTPUTS = (
    ("report.html", "report (open in a browser; works offline)"),
    ("features.tsv", "one row per latent: label (train-chosen), held-out AUROC, margin over baseline, strongest hit"),
    ("feature_concepts.tsv", "feature x concept pairs that pass the thresholds"),
    ("concept_summary.tsv", "per concept: best latent (train-chosen), held-out AUROC vs best baseline, margin, q"),
    ("top_windows.tsv", "strongest windows per feature with genes and sequence"),
    ("hits.gff3.gz", "hits of the annotated latents (GFF3, bgzip + tabix index)"),
    ("candidates.gff3", "discovery: strong runs of gene-like latents outside the annotation, with the nearest gene"),
    ("tracks/hits.bed.gz", "hits of the annotated latents (BED9, bgzip + tabix index)"),
    (
        "tracks/igv_session.xml",
        "IGV session: File > Open Session (genome, annotation, hits, bigWigs of annotated latents)",
    ),
    ("windows.bed", "the windows the model read"),
)
SUMMARY = Path("results") / "summary" / "features_across_genomes.tsv"


def main(configfile: str) -> int:
    config = yaml.safe_load(Path(configfile).read_text())
    for genome in sorted(config.get("genomes", {})):
        root = Path("results") / genome
        print(f"{genome}:")
        for name, what in OUTPUTS:
            if (root / name).exists():
                print(f"  {root / name}  - {what}")
    if SUMMARY.exists():
        print(f"all genomes:\n  {SUMMARY}  - features x genomes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "config/config.yaml"))
