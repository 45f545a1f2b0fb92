"""explain.html: one self-contained page (inline CSS and SVG, no scripts, nothing from the network).

Per sequence: the shown latents' activation lanes, the log-likelihood lane and, for a genome region, the
annotation features beneath (annotation.gff3 of the genome directory); then the letters. The template
(templates/explain.html.j2) is autoescaped; only the SVG built by figure.py (which escapes its own text)
passes through as markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from dnalens.explain.figure import lanes_for, sequence_svg
from dnalens.explain.inputs import InputSequence

_ENV = Environment(
    loader=PackageLoader("dnalens.explain", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
GENE_LANE = {"gene": "genes", "pseudogene": "genes", "ncRNA_gene": "genes"}
SHOWN_TYPES = {"gene", "pseudogene", "ncRNA_gene", "CDS", "tRNA", "rRNA", "tmRNA", "ncRNA", "exon"}


def region_features(annotation: Path | None, contig: str | None, start: int, end: int) -> pd.DataFrame | None:
    """Annotation features overlapping contig:start-end (0-based half-open) with a drawing lane each;
    None for a FASTA record or a genome without annotation.gff3."""
    if contig is None or annotation is None or not Path(annotation).is_file():
        return None
    from dnalens.genome.gff3 import read_normalized_gff3

    rows = [
        {
            "type": f.type,
            "start": f.start,
            "end": f.end,
            "strand": f.strand,
            "name": f.attr("Name") or f.attr("gene") or f.id,
            "lane": GENE_LANE.get(f.type, "CDS" if f.type == "CDS" else ("exons" if f.type == "exon" else "RNA")),
        }
        for f in read_normalized_gff3(annotation).features
        if f.seqid == contig and f.type in SHOWN_TYPES and f.end > start and f.start < end
    ]
    frame = pd.DataFrame(rows, columns=["type", "start", "end", "strand", "name", "lane"])
    order = {"genes": 0, "CDS": 1, "exons": 2, "RNA": 3}
    return frame.sort_values(["lane", "start"], key=lambda c: c.map(order) if c.name == "lane" else c)


def _letters(seq: str, offset: int, width: int = 100) -> str:
    """The sequence in lines of `width` with the 1-based coordinate of each line's first base."""
    pad = len(f"{offset + len(seq):,}")
    return "\n".join(f"{offset + i + 1:>{pad},}  {seq[i : i + width]}" for i in range(0, len(seq), width))


def _text(value: float, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def render_page(
    sequences: Sequence[InputSequence],
    table: pd.DataFrame,
    latents: pd.DataFrame,
    *,
    context: dict[str, Any],
    annotation: Path | None,
    page_bases: int,
) -> str:
    """The page's HTML. `context`: title, subtitle, dictionary, layer, probe, window, trim, top, edge_bases."""
    columns = list(latents["column"])
    blocks = []
    for s in sequences:
        rows = table[table["seq_id"] == s.seq_id]
        values = rows[columns].to_numpy(np.float64) if columns else np.zeros((len(rows), 0))
        ll = rows["log_likelihood"].to_numpy(np.float64)
        features = region_features(annotation, s.contig, s.offset, s.offset + len(s.seq))
        svg = sequence_svg(s.seq_id, len(s.seq), s.offset, lanes_for(latents, values), ll, features)
        finite = ll[np.isfinite(ll)]
        blocks.append(
            {
                "seq_id": s.seq_id,
                "length": len(s.seq),
                "contig": s.contig,
                "start": s.offset + 1,
                "end": s.offset + len(s.seq),
                "mean_ll": _text(float(finite.mean()) if finite.size else float("nan"), 4),
                "svg": Markup(svg),
                "letters": _letters(s.seq, s.offset) if len(s.seq) <= page_bases else "",
            }
        )
    latent_rows = [
        {**row, "auroc_text": _text(row["auroc_test"]), "margin_text": _text(row["margin"])}
        for row in latents.to_dict("records")
    ]
    return _ENV.get_template("explain.html.j2").render(sequences=blocks, latents=latent_rows, **context)
