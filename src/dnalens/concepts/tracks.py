"""User tracks: any BED or GFF3 file (optionally filtered by type) becomes a concept, one instance per line.

A stranded interval labels reads of its strand only; an unstranded one ('.' or no strand column)
labels both. Intervals on contigs the genome does not have are skipped (counted in the log).
"""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.concepts.settings import ConceptSettings, TrackSpec
from dnalens.errors import InputError

FAMILY = "tracks"
CONCEPTS: dict[str, str] = {}
log = logging.getLogger(__name__)


def track_name(spec: TrackSpec) -> str:
    if spec.name:
        return spec.name
    stem = Path(spec.path).name
    for suffix in (".gz", ".bed", ".gff3", ".gff"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    return "track_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)


def extra_concepts(settings: ConceptSettings, base_dir: Path) -> dict[str, str]:
    return {
        track_name(s): f"user track {s.path}" + (f" (types {', '.join(s.type)})" if s.type else "")
        for s in settings.track_specs
    }


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    out = []
    for spec in ctx.settings.track_specs:
        name = track_name(spec)
        if name not in wanted:
            continue
        path = ctx.resolve(spec.path)
        if not path.exists():
            raise InputError("track file not found.", path=path, fix="fix concepts.tracks[].path in the config.")
        b = IntervalBuilder()
        skipped = 0
        for seqid, start, end, strand, fid, label, lineno in read_track(path, spec.type):
            if seqid not in ctx.lengths:
                skipped += 1
                continue
            size = ctx.lengths[seqid]
            if end > size:
                raise InputError(
                    f"interval {seqid}:{start}-{end} runs past the contig end ({size}).",
                    path=path,
                    line=lineno,
                    fix="use coordinates of this genome's FASTA (BED is 0-based).",
                )
            b.add([(seqid, start, end, strand)], fid, label)
        if skipped:
            log.warning("%s: %d intervals on contigs not in the genome were skipped", path, skipped)
        desc = f"user track {spec.path}" + (f" (types {', '.join(spec.type)})" if spec.type else "")
        out.append(Concept(name, FAMILY, "track", desc, intervals=b.build(), stranded=False))
    return out


def read_track(path: Path, types: tuple[str, ...] = ()):
    """Yield (seqid, start, end, strand, id, name, line number), 0-based half-open, from BED or GFF3."""
    opener = gzip.open if path.suffix == ".gz" else open
    is_gff = any(s in path.name.lower() for s in (".gff", ".gtf"))
    with opener(path, "rt") as handle:
        for lineno, line in enumerate(handle, 1):
            if line.startswith("##FASTA"):
                break
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            cols = line.rstrip("\r\n").split("\t")
            try:
                if is_gff:
                    if len(cols) < 9:
                        raise ValueError("expected 9 tab-separated GFF3 columns")
                    if types and cols[2] not in types:
                        continue
                    start, end = int(cols[3]) - 1, int(cols[4])
                    attrs = dict(kv.split("=", 1) for kv in cols[8].split(";") if "=" in kv)
                    row = (
                        cols[0],
                        start,
                        end,
                        _strand(cols[6]),
                        attrs.get("ID", f"{path.name}:{lineno}"),
                        attrs.get("Name", cols[2]),
                    )
                else:
                    if len(cols) < 3:
                        raise ValueError("expected at least 3 tab-separated BED columns")
                    start, end = int(cols[1]), int(cols[2])
                    label = cols[3] if len(cols) > 3 else ""
                    row = (
                        cols[0],
                        start,
                        end,
                        _strand(cols[5] if len(cols) > 5 else "."),
                        label or f"{path.name}:{lineno}",
                        label,
                    )
            except ValueError as err:
                raise InputError(
                    f"cannot read this line ({err}).",
                    path=path,
                    line=lineno,
                    fix="give BED (0-based) or GFF3 (1-based) with tab-separated columns.",
                ) from None
            if start < 0 or end < start:
                raise InputError(
                    f"bad interval {start}-{end}.",
                    path=path,
                    line=lineno,
                    fix="start must be >= 0 and end >= start (BED: 0-based half-open).",
                )
            yield (*row, lineno)


def _strand(value: str) -> str:
    return value if value in {"+", "-"} else "."
