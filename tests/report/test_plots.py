"""The inline SVG plots: axis titles, shaded trimmed edges where (and only where) bases were trimmed,
metagene panels large enough to read."""

import re

import numpy as np
import pandas as pd

from dnalens.report.plots import activation_track_svg, metagene_svg

NO_PARTS = pd.DataFrame(columns=["contig", "type", "start", "end", "strand", "name"])


def _track(read_span):
    profile = np.zeros(100)
    profile[10:20] = 1.0
    return activation_track_svg(
        profile,
        contig="c",
        start=0,
        end=100,
        strand="+",
        parts=NO_PARTS,
        colour="#0072B2",
        on_level=0.5,
        ymax=1.0,
        contig_length=1000,
        title="t",
        read_span=read_span,
    )


def test_window_plot_has_axis_titles_and_shades_only_trimmed_bases():
    svg = _track((5, 90))
    assert "position in window (nt" in svg and ">activation</text>" in svg
    shaded = re.findall(r'<rect x="([\d.]+)" y="18" width="([\d.]+)" height="90" fill="#d9d9d9"', svg)
    px = (960 - 68) / 100  # plot width / bases
    assert [(float(x), float(w)) for x, w in shaded] == [
        (58.0, round(5 * px, 1)),
        (round(58 + 90 * px, 1), round(10 * px, 1)),
    ]
    assert "trimmed edge (model.trim)" in svg
    untrimmed = _track((0, 100))
    assert 'fill="#d9d9d9"' not in untrimmed and "model.trim" not in untrimmed


def test_metagene_panels_are_large_with_axes():
    offsets = np.arange(-60, 61)
    profiles = {k: (offsets, np.exp(-(offsets**2) / 50.0), 12) for k in ("start_codon", "stop_codon")}
    svg = metagene_svg(profiles, "#0072B2", "f3 metagene")
    plots = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="(\d+)" height="(\d+)" fill="#fafafa"', svg)
    assert len(plots) == 2 and all(int(w) >= 480 and int(h) >= 220 for w, h in plots)
    assert svg.count(">mean activation</text>") == 2 and "position relative to the anchor" in svg
    assert "start codon (n=12)" in svg and ">-60<" in svg and ">+60<" in svg and ">0<" in svg
