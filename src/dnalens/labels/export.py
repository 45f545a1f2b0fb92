"""Tables next to the store: instance table, concept summary, and one BED6 per concept.

instance_table.tsv has one row per instance part (0-based half-open genome coordinates):
instance_id, concept, feature_id, name, contig, start, end, strand. An antisense twin shares the
instance ids of its concept. The BED export is this table cut per concept: BEDDIR/<concept>.bed,
name = instance id, strand = the annotated feature's strand.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnalens.atomic import atomic_dir, atomic_path
from dnalens.concepts.registry import ConceptSet

TABLE_COLUMNS = ["instance_id", "concept", "feature_id", "name", "contig", "start", "end", "strand"]
SUMMARY_COLUMNS = [
    "concept",
    "family",
    "kind",
    "orientation",
    "instances",
    "genome_nt",
    "genome_coverage",
    "tokens",
    "token_coverage",
]


def instance_frame(concepts: ConceptSet) -> pd.DataFrame:
    frames = []
    for concept in concepts.concepts:
        iv = concept.intervals
        if iv is None or iv.n_parts == 0:
            continue
        offset = concepts.id_offsets[concept.name]
        fid = np.asarray(iv.feature_id, dtype=object)[iv.instance]
        name = np.asarray(iv.name, dtype=object)[iv.instance]
        frames.append(
            pd.DataFrame(
                {
                    "instance_id": iv.instance + offset,
                    "concept": concept.name,
                    "feature_id": fid,
                    "name": name,
                    "contig": iv.contig,
                    "start": iv.start,
                    "end": iv.end,
                    "strand": iv.strand,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: [] for c in TABLE_COLUMNS})
    frame = pd.concat(frames, ignore_index=True)
    for col in ("feature_id", "name"):
        frame[col] = frame[col].astype(str).str.replace(r"[\t\r\n]", " ", regex=True)
    return frame


def write_instance_table(frame: pd.DataFrame, path: Path) -> None:
    _write_tsv(frame, path, TABLE_COLUMNS, header=True)


def _write_tsv(frame: pd.DataFrame, path: Path, columns: list[str], header: bool) -> None:
    """Tab-separated, unquoted (names were cleaned of tabs/newlines), via pyarrow's C++ writer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(frame[columns], preserve_index=False)
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=header, delimiter="\t", quoting_style="none"))


def write_summary(meta: dict[str, Any], path: Path) -> None:
    """concept_summary.tsv: per column its instances, genome nucleotides (both read strands) and tokens."""
    genome_total = 2 * sum(meta["contigs"].values())
    rows = []
    for c in meta["concepts"]:
        rows.append(
            {
                "concept": c["name"],
                "family": c["family"],
                "kind": c["kind"],
                "orientation": c["orientation"],
                "instances": "" if c["instances"] is None else c["instances"],
                "genome_nt": c["genome_nt"],
                "genome_coverage": round(c["genome_nt"] / max(genome_total, 1), 6),
                "tokens": c["tokens"],
                "token_coverage": round(c["tokens"] / max(meta["n_tokens"], 1), 6),
            }
        )
    pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(path, sep="\t", index=False)


def export_bed(frame: pd.DataFrame, meta: dict[str, Any], out_dir: str | Path) -> list[str]:
    """Write BEDDIR/<concept>.bed for every column defined by intervals; returns the concepts written.

    Columns defined per nucleotide (base_*, CDS_codon_pos*) have no intervals and no BED file; an
    antisense twin gets the same lines as its concept (the strand column says which strand is annotated).
    """
    order = {c: i for i, c in enumerate(meta["contigs"])}
    written: list[str] = []
    with atomic_dir(out_dir) as tmp:
        by_concept = dict(tuple(frame.groupby("concept", sort=False))) if len(frame) else {}
        for c in meta["concepts"]:
            if c["instances"] is None:
                continue
            target = tmp / f"{c['name']}.bed"
            sense = tmp / f"{c['sense_concept']}.bed"
            if c["name"] != c["sense_concept"] and sense.exists():
                shutil.copyfile(sense, target)
            else:
                part = by_concept.get(c["sense_concept"])
                _write_bed(part, order, target)
            written.append(c["name"])
    return written


def _write_bed(part: pd.DataFrame | None, order: dict[str, int], path: Path) -> None:
    if part is None or len(part) == 0:
        path.write_text("")
        return
    rank = part["contig"].map(order)
    part = part.assign(_rank=rank, score=0).sort_values(["_rank", "start", "end", "instance_id"], kind="stable")
    _write_tsv(part, path, ["contig", "start", "end", "instance_id", "score", "strand"], header=False)


def write_summary_file(meta: dict[str, Any], path: str | Path) -> None:
    with atomic_path(path) as tmp:
        write_summary(meta, tmp)
