"""Genome-browser tracks of an explained input: one bigWig per shown latent and one of the log-likelihood.

A genome region's tracks sit on the genome's contigs (chrom.sizes of the genome, so they load next to the
run's own tracks); a FASTA record is its own chromosome (chrom.sizes from the sequences). One value per
base, span 1 (bases with a NaN log-likelihood are left out of that track).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.formats.explain import CHROM_SIZES, LOG_LIKELIHOOD_TRACK


def chrom_sizes_of(table: pd.DataFrame, genome_sizes: Mapping[str, int] | None) -> dict[str, int]:
    """Chromosome lengths for the tracks: the genome's (a region) or each FASTA record's length."""
    if genome_sizes:
        return {c: int(n) for c, n in genome_sizes.items()}
    return {str(c): int(n) for c, n in table.groupby("chrom", sort=False)["pos"].max().items()}


def _runs(chrom_pos: np.ndarray) -> list[tuple[int, int]]:
    """(a, b) row ranges of consecutive positions (a bigWig fixed-step entry needs contiguous bases)."""
    breaks = np.flatnonzero(np.diff(chrom_pos) != 1) + 1
    bounds = [0, *breaks.tolist(), chrom_pos.size]
    return list(zip(bounds[:-1], bounds[1:]))


def write_bigwig(path: str | Path, sizes: Mapping[str, int], table: pd.DataFrame, column: str) -> None:
    """`column` of the nucleotide table as a bigWig (chromosomes in `sizes` order, positions sorted)."""
    import pyBigWig

    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader([(c, int(n)) for c, n in sizes.items()], maxZooms=4)
            for chrom in sizes:
                rows = table[table["chrom"] == chrom].sort_values("chrom_pos").drop_duplicates("chrom_pos")
                rows = rows[np.isfinite(rows[column].to_numpy(np.float64))]
                if rows.empty:
                    continue
                pos = rows["chrom_pos"].to_numpy(np.int64) - 1
                values = rows[column].to_numpy(np.float64)
                for a, b in _runs(pos):
                    bw.addEntries(chrom, int(pos[a]), values=values[a:b].tolist(), span=1, step=1)
        finally:
            bw.close()


def write_tracks(
    directory: Path, table: pd.DataFrame, columns: Sequence[str], genome_sizes: Mapping[str, int] | None
) -> list[str]:
    """chrom.sizes, `<column>.bw` per column and log_likelihood.bw under `directory`; returns the bigWig names."""
    directory.mkdir(parents=True, exist_ok=True)
    sizes = chrom_sizes_of(table, genome_sizes)
    with atomic_path(directory / CHROM_SIZES) as tmp:
        tmp.write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    names = []
    for column in [*columns, "log_likelihood"]:
        name = LOG_LIKELIHOOD_TRACK if column == "log_likelihood" else f"{column}.bw"
        write_bigwig(directory / name, sizes, table, column)
        names.append(name)
    return names
