"""Headless Chromium: render report.html as a browser would (tests, docs/report_screenshot.png).

`python -m dnalens.report.browser results/<g>/report.html docs/report_screenshot.png` redraws the
screenshot. Flags keep Chromium offline and stateless: no GPU, no sandbox (root in containers), no
background network, a fresh empty profile per call.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _run(binary: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="dnalens-chromium-") as profile:
        return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=True)


def dump_dom(html: str | Path, binary: str, timeout: float = 60) -> str:
    """The DOM after Chromium parsed and laid out the page."""
    return _run(binary, ["--dump-dom", Path(html).resolve().as_uri()], timeout).stdout


def screenshot(html: str | Path, png: str | Path, binary: str, width: int = 1280, height: int = 1800,
               timeout: float = 60) -> Path:
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(binary, [f"--screenshot={png}", f"--window-size={width},{height}", Path(html).resolve().as_uri()], timeout)
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
