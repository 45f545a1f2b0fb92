"""report.html rendered by headless Chromium (skipped when no browser is installed; `make setup`
installs Debian's chromium when run as root)."""

import dataclasses
import re
import struct

import numpy as np
import pytest

from dnalens.report.browser import find_chromium, load_page, screenshot
from dnalens.report.options import ReportSettings
from dnalens.report.stage import run_report

from . import mini_genome

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    binary = find_chromium()
    if binary is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium); report not rendered")
    return binary


def test_the_checks_catch_console_errors_and_network_requests(chromium, tmp_path):
    """Negative control: a page with a script error and a remote image is caught by both checks."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><p>x</p><img src="http://example.invalid/x.png">'
        '<script>console.error("boom"); notDefined();</script></body></html>'
    )
    page = load_page(bad, chromium)
    assert any("boom" in m for m in page.console) and any("notDefined" in m for m in page.console)
    assert page.requests == ["http://example.invalid/x.png"]


def test_report_renders_offline_in_chromium(chromium, tmp_path):
    root = tmp_path / "mini"
    root.mkdir()
    run_report(mini_genome.inputs(root), ReportSettings(), root)
    page = load_page(root / "report.html", chromium)
    assert page.console == [] and page.requests == []
    dom = page.dom
    assert 'id="f0"' in dom and 'id="f1"' in dom and "<svg" in dom and "abcA" in dom
    # the latent table's script ran: every latent drawn from the embedded JSON, with its strongest hit
    assert "4 of 4 latents match; showing 4" in dom and "<td>chr1:61-120 + abcA (ABC transporter)</td>" in dom
    png = screenshot(root / "report.html", tmp_path / "shot.png", chromium, width=1000, height=900)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1000, 900)
    assert png.stat().st_size > 20_000  # a blank page compresses to a few kB


def test_latent_table_search_filters_in_the_page(chromium, tmp_path):
    """The search box filters the embedded rows: a page saved with a query typed in shows only the
    latent whose strongest hit is on xyzB (f2), and the annotated-only box hides it again."""
    root = tmp_path / "mini"
    root.mkdir()
    run_report(mini_genome.inputs(root), ReportSettings(), root)
    text = (root / "report.html").read_text()
    typed = text.replace('id="latent-search" type="search"', 'id="latent-search" type="search" value="xyzb"')
    (root / "typed.html").write_text(typed)
    page = load_page(root / "typed.html", chromium)
    assert page.console == [] and page.requests == []
    start = page.dom.index('id="latent-rows"')
    rows = page.dom[start : page.dom.index("</tbody>", start)]
    assert "1 of 4 latents match" in page.dom and rows.count("<tr>") == 1 and "<td>f2</td>" in rows
    both = typed.replace('id="latent-annotated" type="checkbox"', 'id="latent-annotated" type="checkbox" checked')
    (root / "both.html").write_text(both)
    assert "0 of 4 latents match" in load_page(root / "both.html", chromium).dom


FIRST_SCREEN = ('id="learned"', 'id="model-context"')  # what passes, failed, untestable (the model's context last)


def first_screen_problems(dom: str) -> list[str]:
    """What a reader could misread on the first screen: a concept twice, or an AUROC without an interval or
    a "too few held-out instances" note in its place."""
    start = dom.index(FIRST_SCREEN[0])
    screen = dom[start : dom.index(FIRST_SCREEN[1], start)]
    findings = re.findall(r'data-finding="([^"]*)"', screen)
    problems = [
        f"{name} listed {findings.count(name)} times" for name in sorted(set(findings)) if findings.count(name) > 1
    ]
    problems += [f"{name} is a strand twin, not a finding" for name in findings if name.endswith("_antisense")]
    for cell in re.findall(
        r'<span class="auroc[^"]*">(.*?)</span></span>|<span class="auroc note">(.*?)</span>', screen
    ):
        number, note = cell
        if note and not note.startswith("too few held-out instances ("):
            problems.append(f"note {note!r}")
        if number and '<span class="ci">[' not in number:
            problems.append(f"AUROC without an interval: {number!r}")
    return problems


def _with_intervals(inputs):
    """The mini genome's concepts as a probe stage with intervals writes them: every AUROC with a 95 % interval,
    intron with too few held-out instances (its note instead of a number)."""
    c = inputs.concepts.copy()
    for col in ("best_auroc_test", "baseline_auroc_test", "dense_probe_auroc", "sae_probe_auroc"):
        c[f"{col}_lo"], c[f"{col}_hi"], c[f"{col}_note"] = c[col] - 0.02, c[col] + 0.01, ""
    intron = c["concept"] == "intron"
    c["n_heldout_instances"] = np.where(intron, 1, 40)
    c["too_few_heldout"] = intron
    for col in ("best_auroc_test", "baseline_auroc_test"):
        c.loc[intron, [f"{col}_lo", f"{col}_hi"]] = np.nan
        c.loc[intron, f"{col}_note"] = "too few held-out instances (1)"
    return dataclasses.replace(inputs, concepts=c)


def test_first_screen_lists_each_finding_once_with_intervals(chromium, tmp_path):
    root = tmp_path / "mini"
    root.mkdir()
    run_report(_with_intervals(mini_genome.inputs(root)), ReportSettings(), root)
    page = load_page(root / "report.html", chromium)
    assert page.console == [] and page.requests == []
    assert first_screen_problems(page.dom) == []
    dom = page.dom
    start = dom.index('id="learned"')
    order = [dom.index(f'id="{s}"', start) for s in ("passes", "failed", "untestable", "model-context")]
    assert order == sorted(order)
    rows = dict(re.findall(r'data-finding="([^"]*)" data-outcome="([^"]*)"', dom[start:]))
    assert rows == {"CDS": "passes", "gene": "fails", "intron": "untestable"}
    assert "too few held-out instances (1)" in dom[dom.index('id="untestable"') :]
    assert '<span class="ci">[0.97–1]</span>' in dom  # CDS: 0.99 [0.97–1.00]

    # negative controls: the check sees a doubled concept and an AUROC shown without its interval
    bare = mini_genome.inputs(root)
    bare.concepts["finding"] = np.where(bare.concepts["concept"] == "intron", "intron", bare.concepts["concept"])
    bare.concepts["twin"] = ""  # twins no longer folded: CDS_antisense gets its own row
    run_report(bare, ReportSettings(), root)
    problems = first_screen_problems(load_page(root / "report.html", chromium).dom)
    assert any("AUROC without an interval" in p for p in problems)
    assert "CDS_antisense is a strand twin, not a finding" in problems
