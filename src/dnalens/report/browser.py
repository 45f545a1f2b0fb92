"""Headless Chromium: render report.html as a browser would (tests, docs/report_screenshot.png).

`python -m dnalens.report.browser results/<g>/report.html docs/report_screenshot.png` redraws the
screenshot. Flags keep Chromium offline and stateless: no GPU, no sandbox (root in containers), no
background network, a fresh empty profile per call.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
)


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _run(binary: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="dnalens-chromium-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )


def dump_dom(html: str | Path, binary: str, timeout: float = 60) -> str:
    """The DOM after Chromium parsed and laid out the page."""
    return _run(binary, ["--dump-dom", Path(html).resolve().as_uri()], timeout).stdout


@dataclass(frozen=True)
class PageLoad:
    """What loading one page did: the final DOM, every console message (the report has no scripts, so
    any message is an error) and every network request the PAGE made (not Chromium's own)."""

    dom: str
    console: list[str]
    requests: list[str]


_CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)$")


def page_requests(netlog: dict) -> list[str]:
    """URLs requested on behalf of a page in a Chromium NetLog: Chromium's own background requests carry
    the initiator "not an origin"; a file:// page's requests carry "null" (or a real origin)."""
    urls = []
    for event in netlog.get("events", []):
        params = event.get("params") or {}
        url, initiator = params.get("url"), params.get("initiator")
        if url and initiator is not None and initiator != "not an origin" and not url.startswith(("data:", "file:")):
            urls.append(url)
    return sorted(set(urls))


def load_page(html: str | Path, binary: str, timeout: float = 60) -> PageLoad:
    """Load `html` once with console logging and a NetLog on; return the DOM, messages and requests."""
    with tempfile.TemporaryDirectory(prefix="dnalens-netlog-") as scratch:
        netlog = Path(scratch) / "net.json"
        # the virtual-time budget lets the page's own work finish first (report.html unpacks its latent
        # table asynchronously) before the DOM is dumped
        done = _run(
            binary,
            [
                "--enable-logging=stderr",
                "--v=0",
                f"--log-net-log={netlog}",
                "--dump-dom",
                "--virtual-time-budget=10000",
                Path(html).resolve().as_uri(),
            ],
            timeout,
        )
        log = json.loads(netlog.read_text()) if netlog.exists() else {}
    console = [m.group(1) for line in done.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return PageLoad(done.stdout, console, page_requests(log))


def screenshot(
    html: str | Path, png: str | Path, binary: str, width: int = 1280, height: int = 1800, timeout: float = 60
) -> Path:
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(
        binary,
        [
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=10000",
            Path(html).resolve().as_uri(),
        ],
        timeout,
    )
    return png


def main(argv: list[str]) -> int:
    binary = find_chromium()
    if binary is None:
        print("no chromium found (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    print(screenshot(argv[0], argv[1], binary, *(int(a) for a in argv[2:4])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
