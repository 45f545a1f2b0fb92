"""The atlas job (`dnalens atlas`, rule `atlas`): read and check every genome's features.tsv, build the tables
(report/atlas.py) and the page (report/atlas_page.py), then write them all; nothing is written when an input
is bad."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from dnalens.atomic import write_text
from dnalens.report.across import features_across_genomes, sae_matches
from dnalens.report.atlas import PATTERNS, atlas_table, latent_patterns, read_features
from dnalens.report.atlas_page import render_atlas
from dnalens.report.tables import write_table


def report_links(features: Sequence[Path], out_dir: Path) -> list[str]:
    """Each genome's report.html (next to its features.tsv) relative to the atlas page: ../<genome>/report.html
    in the workflow's layout."""
    return [quote(Path(os.path.relpath(Path(f).parent / "report.html", out_dir)).as_posix()) for f in features]


def run_atlas(
    features: Sequence[Path],
    names: Sequence[str],
    sae_paths: Sequence[Path],
    out_dir: Path,
    min_frequency: float,
) -> dict[str, int]:
    """The whole `dnalens atlas` job: read and check every input, build every table and the page, then
    write them (nothing is written when an input is bad). Returns the count of latents per pattern."""
    tables = {name: read_features(Path(path)) for name, path in zip(names, features)}
    saes = dict(zip(names, sae_paths))
    matches = sae_matches(saes, names)
    wide = features_across_genomes(tables, matches, names[0])
    atlas = atlas_table(tables, matches, names, min_frequency)
    latents = latent_patterns(atlas)
    by_cosine = any(m is not None for m in matches.values())
    html = render_atlas(
        atlas,
        latents,
        names,
        report_links(features, out_dir),
        dictionary=f"per-genome SAEs, matched to {names[0]}'s" if by_cosine else str(sae_paths[0]),
        matched_by_cosine=by_cosine,
        min_frequency=min_frequency,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_table(atlas, out_dir / "atlas.tsv")
    write_table(atlas, out_dir / "atlas.parquet")
    write_table(latents, out_dir / "atlas_latents.tsv")
    write_table(latents, out_dir / "atlas_latents.parquet")
    write_table(wide, out_dir / "features_across_genomes.tsv")
    write_text(out_dir / "report.html", html)
    counts = latents["pattern"].value_counts()
    return {p: int(counts.get(p, 0)) for p in PATTERNS}
