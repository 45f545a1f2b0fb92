"""report.html rendered by headless Chromium (skipped when no browser is installed; `make setup`
installs Debian's chromium when run as root)."""

import struct

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
