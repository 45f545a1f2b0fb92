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
SUMMARY = Path("results") / "summary"
ACROSS = (
    ("report.html", "the atlas across genomes: what the genomes share and what not (open in a browser)"),
    ("atlas.tsv", "one row per latent x genome: frequency, label, held-out AUROC, baseline, margin, q, annotated"),
    ("atlas_latents.tsv", "one row per latent: genomes where it fires / is annotated, pattern"),
    ("sae_quality.json", "the shared dictionary's quality pooled over the genomes"),
    ("features_across_genomes.tsv", "features x genomes (wide)"),
)
DICTIONARIES = Path("results") / "dictionaries"


def main(configfile: str) -> int:
    from dnalens.genome.sheet import collect_genomes

    config = yaml.safe_load(Path(configfile).read_text()) or {}
    for genome in sorted(collect_genomes([configfile], config)):
        root = Path("results") / genome
        print(f"{genome}:")
        for name, what in OUTPUTS:
            if (root / name).exists():
                print(f"  {root / name}  - {what}")
    across = [(SUMMARY / name, what) for name, what in ACROSS if (SUMMARY / name).exists()]
    if across:
        print("all genomes:")
        for path, what in across:
            print(f"  {path}  - {what}")
    for dictionary in sorted(p for p in DICTIONARIES.glob("*") if (p / "cfg.json").is_file()):
        if dictionary.name.endswith("-replicate"):
            print(f"  {dictionary}  - its seed + 1 replicate (seed agreement)")
        else:
            print(f"the shared dictionary (SAELens layout; sae.source: load + sae.path reuses it):\n  {dictionary}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "config/config.yaml"))
