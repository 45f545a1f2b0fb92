"""Genome-browser files: per-strand bigWig, BED9 and GFF3 hits, chrom.sizes, an IGV session.

Hits are sorted, bgzip-compressed and tabix-indexed (`hits.bed.gz`, `hits.gff3.gz` + `.tbi`): a browser
then reads only the region on screen instead of parsing the whole file first.

bigWig has no strand, so each feature gets two files, `<f>.plus.bw` and `<f>.minus.bw`: the value at
a base is the feature's strongest activation over windows READ on that strand covering it (windows
overlap; taking the max keeps a peak visible). Bases no window covers have no data (not zero).
BED and bigWig are 0-based; GFF3 is 1-based inclusive; a hit across a circular origin is written as
two BED lines / two GFF3 lines sharing one ID.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping
from urllib.parse import quote
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyBigWig
import pysam

from dnalens.atomic import atomic_path
from dnalens.report.tokens import TokenMap

PALETTE = (  # Okabe–Ito, then Tol muted: distinguishable, colour-blind safe
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#332288",
    "#117733",
)
_GFF3_UNSAFE = ";=&,\t\n\r%"
CHUNK_ROWS = 100_000  # hits turned into text at a time (~100 MB of Python strings)


def feature_colour(rank: int) -> str:
    return PALETTE[rank % len(PALETTE)]


def rgb_triplet(colour: str) -> str:
    return ",".join(str(int(colour[i : i + 2], 16)) for i in (1, 3, 5))


def strand_maxima(
    rows: np.ndarray, values: np.ndarray, tokens: TokenMap, minus: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per contig: sorted genome positions with activation > 0 on one read strand, and the max there."""
    keep = (tokens.minus[rows] == minus) & (values > 0)
    rows, values = rows[keep], values[keep]
    contigs = tokens.contig_of(rows)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for contig in pd.unique(contigs):
        mine = contigs == contig
        pos, val = tokens.position[rows[mine]], values[mine].astype(np.float64)
        order = np.lexsort((-val, pos))  # by position, strongest first within a position
        pos, val = pos[order], val[order]
        first = np.concatenate(([True], pos[1:] != pos[:-1]))
        out[str(contig)] = (pos[first], val[first])
    return out


def write_bigwig(
    path: str | Path, chrom_sizes: Mapping[str, int], tracks: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """One value per covered base (span 1); contigs in chrom.sizes order, as bigWig requires."""
    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader([(c, int(n)) for c, n in chrom_sizes.items()], maxZooms=4)
            for contig in chrom_sizes:
                if contig in tracks and len(tracks[contig][0]):
                    pos, val = tracks[contig]
                    bw.addEntries(contig, [int(p) for p in pos], values=[float(v) for v in val], span=1, step=1)
        finally:
            bw.close()


def write_chrom_sizes(path: str | Path, chrom_sizes: Mapping[str, int]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{c}\t{int(n)}\n" for c, n in chrom_sizes.items()))


def hit_pieces(hits: pd.DataFrame, chrom_sizes: Mapping[str, int]) -> pd.DataFrame:
    """Hits split at circular origins (`piece_start`, `piece_end`: 0-based half-open, in range),
    sorted by contig (chrom.sizes order), start, end, feature."""
    length = hits["contig"].map(dict(chrom_sizes)).to_numpy(np.int64)
    start, end = hits["start"].to_numpy(np.int64), hits["end"].to_numpy(np.int64)
    wraps = end > length
    first = hits.assign(piece_start=start, piece_end=np.minimum(end, length))
    second = hits[wraps].assign(piece_start=0, piece_end=(end - length)[wraps])
    pieces = pd.concat([first, second], ignore_index=True)
    order = {c: i for i, c in enumerate(chrom_sizes)}
    pieces["_c"] = pieces["contig"].map(order)
    pieces = pieces.sort_values(["_c", "piece_start", "piece_end", "feature"], kind="stable")
    return pieces.drop(columns="_c").reset_index(drop=True)


def _text(values: np.ndarray, fmt: str) -> pd.Series:
    """Fast number → text column (np.char.mod is several times slower on 10⁶ rows)."""
    if fmt == "%d":
        return pd.Series(np.asarray(values, dtype=np.int64)).astype(str)
    return pd.Series([format(x, fmt.lstrip("%")) for x in np.asarray(values, dtype=float).tolist()], dtype=object)


def _slices(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    for i in range(0, len(frame), rows):
        yield frame.iloc[i : i + rows]


def bed9_chunks(
    hits: pd.DataFrame,
    chrom_sizes: Mapping[str, int],
    colours: Mapping[int, str],
    concepts: Mapping[int, str],
    *,
    rows: int = CHUNK_ROWS,
) -> Iterator[list[str]]:
    """BED9 lines sorted by contig (chrom.sizes order) and start, `rows` at a time (text for millions of
    hits is built a slice at a time); thick part = the peak base."""
    if hits.empty:
        return
    pieces = hit_pieces(hits, chrom_sizes)
    features = np.unique(pieces["feature"].to_numpy()).tolist()
    names = {f: f"f{f}" + (f":{concepts[f]}" if concepts.get(f) else "") for f in features}
    rgb = {f: rgb_triplet(colours.get(f, PALETTE[0])) for f in names}
    for p in _slices(pieces, rows):
        peak, a, b = p["peak"].to_numpy(), p["piece_start"].to_numpy(), p["piece_end"].to_numpy()
        inside = (a <= peak) & (peak < b)
        thick_start = np.where(inside, peak, a)
        thick_end = np.where(inside, peak + 1, a)
        columns = [
            p["contig"].astype(str).reset_index(drop=True),
            _text(a, "%d"),
            _text(b, "%d"),
            p["feature"].map(names),
            _text(p["score"].to_numpy(), "%d"),
            p["strand"],
            _text(thick_start, "%d"),
            _text(thick_end, "%d"),
            p["feature"].map(rgb),
        ]
        yield columns[0].str.cat([c.reset_index(drop=True) for c in columns[1:]], sep="\t").tolist()


def bed9_lines(
    hits: pd.DataFrame, chrom_sizes: Mapping[str, int], colours: Mapping[int, str], concepts: Mapping[int, str]
) -> list[str]:
    """All of `bed9_chunks` as one list."""
    return [line for chunk in bed9_chunks(hits, chrom_sizes, colours, concepts) for line in chunk]


BED_TRACK_LINE = 'track name="dnalens_hits" description="dnalens feature hits" itemRgb="On"'


def write_tabix(path: str | Path, chunks: Iterable[str], kind: str) -> list[Path]:
    """Sorted text (`chunks`, already sorted by contig and start) → `path` (bgzip) and `path`.tbi.

    kind "bed": a BED file whose first line is the track line (skipped by the index, read by IGV);
    kind "gff": GFF3 (pysam's gff preset: `#` lines are the header). Both files are built in a
    temporary sibling folder and then moved into place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        plain, packed = build / "plain", build / path.name
        with open(plain, "w") as out:
            for text in chunks:
                out.write(text)
        pysam.tabix_compress(str(plain), str(packed), force=True)
        if kind == "bed":
            pysam.tabix_index(
                str(packed),
                seq_col=0,
                start_col=1,
                end_col=2,
                zerobased=True,
                line_skip=1,
                force=True,
                keep_original=True,
            )
        else:
            pysam.tabix_index(str(packed), preset="gff", force=True, keep_original=True)
        index = Path(f"{path}.tbi")
        os.replace(packed, path)
        os.replace(Path(f"{packed}.tbi"), index)
        return [path, index]
    finally:
        shutil.rmtree(build, ignore_errors=True)


def bed9_text(
    hits: pd.DataFrame, chrom_sizes: Mapping[str, int], colours: Mapping[int, str], concepts: Mapping[int, str]
) -> Iterator[str]:
    """The whole BED file as text pieces: track line, then `bed9_chunks`."""
    yield BED_TRACK_LINE + "\n"
    for chunk in bed9_chunks(hits, chrom_sizes, colours, concepts):
        yield "".join(line + "\n" for line in chunk)


def gff3_escape(value: object) -> str:
    return quote(str(value), safe=" " + "".join(chr(c) for c in range(33, 127) if chr(c) not in _GFF3_UNSAFE))


def gff3_chunks(
    hits: pd.DataFrame,
    chrom_sizes: Mapping[str, int],
    info: Mapping[int, Mapping[str, object]],
    colours: Mapping[int, str],
    *,
    rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """GFF3 text, header first, then `rows` records at a time: one `sequence_feature` per hit (two lines
    sharing an ID across a circular origin).

    `info[feature]` supplies extra lowercase attributes (best_concept, layer, sae, heldout_f1, ...).
    """
    head = ["##gff-version 3"] + [f"##sequence-region {gff3_escape(c)} 1 {int(n)}" for c, n in chrom_sizes.items()]
    yield "\n".join(head) + "\n"
    if hits.empty:
        return
    pieces = hit_pieces(hits, chrom_sizes)
    features = np.unique(pieces["feature"].to_numpy()).tolist()

    def fixed(f: int) -> str:  # the attributes shared by all hits of one feature
        extra = {k: v for k, v in info.get(f, {}).items() if v is not None and v == v and v != ""}
        attrs = {"Name": f"f{f}", "feature_id": f, **extra}
        return ";".join(f"{k}={gff3_escape(v)}" for k, v in attrs.items())

    per_feature = {f: fixed(f) for f in features}
    colour = {f: gff3_escape(colours.get(f, PALETTE[0])) for f in features}
    seqid_of = {c: gff3_escape(c) for c in chrom_sizes}
    for p in _slices(pieces, rows):
        activation = _text(p["activation"].to_numpy(), "%.4g")
        column9 = (
            "ID=f"
            + _text(p["feature"].to_numpy(), "%d")
            + ".hit"
            + _text(p["hit"].to_numpy(), "%d")
            + ";"
            + p["feature"].map(per_feature).reset_index(drop=True)
            + ";activation="
            + activation
            + ";peak="
            + _text(p["peak"].to_numpy() + 1, "%d")
            + ";color="
            + p["feature"].map(colour).reset_index(drop=True)
        )
        seqids = p["contig"].map(seqid_of).reset_index(drop=True)
        lines = seqids.str.cat(
            [
                pd.Series("dnalens\tsequence_feature", index=seqids.index),
                _text(p["piece_start"].to_numpy() + 1, "%d"),
                _text(p["piece_end"].to_numpy(), "%d"),
                activation,
                p["strand"].reset_index(drop=True),
                pd.Series(".", index=seqids.index),
                column9,
            ],
            sep="\t",
        )
        yield "\n".join(lines.tolist()) + "\n"


def gff3_text(
    hits: pd.DataFrame,
    chrom_sizes: Mapping[str, int],
    info: Mapping[int, Mapping[str, object]],
    colours: Mapping[int, str],
) -> str:
    """All of `gff3_chunks` as one string."""
    return "".join(gff3_chunks(hits, chrom_sizes, info, colours))


def igv_session_xml(
    session_path: str | Path, genome_fasta: str | Path, locus: str, resources: list[tuple[str | Path, str, str | None]]
) -> str:
    """IGV session with paths relative to the session file (the results folder can move as a whole).

    `resources`: (path, track name, colour or None); IGV infers the format from the file suffix.
    """
    here = Path(session_path).parent

    def rel(path: str | Path) -> str:
        return Path(os.path.relpath(Path(path), here)).as_posix()

    session = ET.Element(
        "Session", genome=rel(genome_fasta), hasGeneTrack="false", hasSequence="true", locus=locus, version="8"
    )
    res = ET.SubElement(session, "Resources")
    panel = ET.Element("Panel", name="DataPanel")
    for path, name, colour in resources:
        ET.SubElement(res, "Resource", name=name, path=rel(path))
        attrs = {"id": rel(path), "name": name, "visible": "true", "autoScale": "true", "fontSize": "10"}
        if colour:
            attrs["color"] = rgb_triplet(colour)
        ET.SubElement(panel, "Track", **attrs)
    session.append(panel)
    ET.indent(session)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(session, encoding="unicode") + "\n"
