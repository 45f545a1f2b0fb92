"""The inline SVG plots, read back as XML and measured against their own plot area: axis titles, trimmed edges
shaded where (and only where) bases were trimmed, the activation and the annotation drawn in read direction,
the "on" level at its height, and metagene panels large enough to read with the anchor in the middle.

No pixel position is pinned: every expectation is a share of the plot area the SVG itself declares (the
light rectangle), so a layout change keeps the tests and a wrong mapping fails them."""

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from dnalens.report.plots import activation_track_svg, metagene_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
PLOT_FILL = "#fafafa"
TRIM_FILL = "#d9d9d9"
PX = 0.1  # the SVG writes coordinates to 0.1 px


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # well-formed, or this raises


def _plot_areas(root: ET.Element) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of every plot area (the light rectangles), in drawing order."""
    return [
        tuple(float(r.get(k)) for k in ("x", "y", "width", "height"))
        for r in root.iterfind("svg:rect", NS)
        if r.get("fill") == PLOT_FILL
    ]


def _texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{{{NS['svg']}}}text")]


def _points(element: ET.Element) -> np.ndarray:
    return np.array([[float(v) for v in p.split(",")] for p in element.get("points").split()])


def _track(read_span=None, strand="+", parts=None):
    profile = np.zeros(100)
    profile[10:20] = 1.0  # on at read offsets 10..19
    if parts is None:
        parts = pd.DataFrame(columns=["contig", "type", "start", "end", "strand", "name"])
    return _svg(
        activation_track_svg(
            profile,
            contig="c",
            start=0,
            end=100,
            strand=strand,
            parts=parts,
            colour="#0072B2",
            on_level=0.5,
            ymax=1.0,
            contig_length=1000,
            title="t",
            read_span=read_span,
        )
    )


def _share(x: float, area) -> float:
    """Horizontal position as a share of the plot area's width (0 = its left edge)."""
    return (x - area[0]) / area[2]


def test_window_plot_has_axis_titles_and_shades_only_trimmed_bases():
    root = _track((5, 90))
    (area,) = _plot_areas(root)
    texts = _texts(root)
    assert "activation" in texts and "position in window (nt, read direction)" in texts
    shaded = [
        r for r in root.iterfind("svg:rect", NS) if r.get("fill") == TRIM_FILL and r.find("svg:title", NS) is not None
    ]
    spans = [(_share(float(r.get("x")), area), _share(float(r.get("x")) + float(r.get("width")), area)) for r in shaded]
    tolerance = PX / area[2]
    assert spans == [pytest.approx((0.0, 0.05), abs=tolerance), pytest.approx((0.90, 1.0), abs=tolerance)]
    for r in shaded:  # the full height of the plot, nothing else
        assert (float(r.get("y")), float(r.get("height"))) == (area[1], area[3])
    assert ["".join(r.find("svg:title", NS).itertext()).split(" of")[0] for r in shaded] == [
        "bases 1-5",
        "bases 91-100",
    ]
    assert "trimmed edge (model.trim): no activation" in texts
    untrimmed = _track((0, 100))
    assert not [r for r in untrimmed.iterfind("svg:rect", NS) if r.get("fill") == TRIM_FILL]
    assert not [t for t in _texts(untrimmed) if "model.trim" in t]


@pytest.mark.parametrize("strand", ["+", "-"])
def test_activation_and_on_level_sit_where_the_read_puts_them(strand):
    root = _track(strand=strand)
    (area,) = _plot_areas(root)
    x, y, width, height = area
    line = _points(root.find("svg:polyline", NS))
    top = line[np.isclose(line[:, 1], y)]  # points at the maximum (value 1 = ymax)
    assert len(top) and all(0.10 <= _share(px, area) <= 0.20 for px in top[:, 0])  # read offsets 10..19, either strand
    assert np.isclose(line[:, 1], y + height).sum() == len(line) - len(top)  # everything else at zero
    (on,) = [e for e in root.iterfind("svg:line", NS) if e.get("stroke-dasharray") == "3,3"]
    assert float(on.get("y1")) == pytest.approx(y + height / 2, abs=PX)  # on_level 0.5 of ymax 1.0


@pytest.mark.parametrize("strand, expected", [("+", (0.80, 0.90)), ("-", (0.10, 0.20))])
def test_annotation_is_drawn_in_read_direction(strand, expected):
    """A + strand CDS at genome 80..90 of window 0..100: offsets 80..89 on a + read, 10..19 on a − read,
    its arrow pointing along the read when the strands agree and against it when they do not."""
    parts = pd.DataFrame({"contig": ["c"], "type": ["CDS"], "start": [80], "end": [90], "strand": ["+"], "name": ["g"]})
    root = _track(strand=strand, parts=parts)
    (area,) = _plot_areas(root)
    (box,) = [r for r in root.iterfind("svg:rect", NS) if r.find("svg:title", NS) is not None and "CDS" in r[0].text]
    left = _share(float(box.get("x")), area)
    right = _share(float(box.get("x")) + float(box.get("width")), area)
    assert (left, right) == pytest.approx(expected, abs=PX / area[2])
    arrow = _points([p for p in root.iterfind("svg:polygon", NS) if p.get("fill") == box.get("fill")][0])
    tip, back = arrow[0, 0], arrow[1, 0]
    assert (tip > back) == (strand == "+")


def test_metagene_panels_are_large_with_axes_and_the_anchor_in_the_middle():
    offsets = np.arange(-60, 61)
    profiles = {k: (offsets, np.exp(-(offsets**2) / 50.0), 12) for k in ("start_codon", "stop_codon")}
    root = _svg(metagene_svg(profiles, "#0072B2", "f3 metagene"))
    areas = _plot_areas(root)
    assert len(areas) == 2 and all(w >= 480 and h >= 220 for _, _, w, h in areas)  # readable at report width
    texts = _texts(root)
    assert texts.count("mean activation") == 2 and any(t.startswith("position relative to the anchor") for t in texts)
    assert "start codon (n=12)" in texts and "stop codon (n=12)" in texts
    lines = root.findall("svg:polyline", NS)
    assert len(lines) == 2
    for area, line in zip(areas, lines):
        points = _points(line)
        peak = points[np.argmin(points[:, 1])]  # the highest point: offset 0
        assert _share(peak[0], area) == pytest.approx(0.5, abs=PX / area[2])
        assert peak[1] == pytest.approx(area[1], abs=PX)  # the profile's maximum reaches the top
        assert _share(points[0, 0], area) == pytest.approx(0.0) and _share(points[-1, 0], area) == pytest.approx(1.0)
    first = areas[0]
    ticks = {}  # the first panel's x-axis labels (centred under their tick; y-axis labels are right-aligned)
    for e in root.iter(f"{{{NS['svg']}}}text"):
        if e.text in ("-60", "0", "+60") and e.get("text-anchor") == "middle":
            ticks.setdefault(e.text, float(e.get("x")))
    assert [_share(ticks[t], first) for t in ("-60", "0", "+60")] == pytest.approx([0.0, 0.5, 1.0], abs=PX / first[2])
