"""Where a genome's input files come from: a local path, or an http(s) URL fetched into downloads/.

The same `local_sources` mapping is used by the workflow (to declare inputs and the fetch rule's
outputs) and by `dnalens prepare` (to find the files), so the two can never disagree.
"""

from __future__ import annotations

import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from dnalens import __version__
from dnalens.atomic import atomic_path
from dnalens.errors import InputError

log = logging.getLogger(__name__)
SOURCE_ROLES = ("fasta", "annotation", "genbank")
PREDICT = "predict"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def check_source(value: str, role: str) -> None:
    """Only local paths and http(s) URLs are accepted."""
    if _SCHEME.match(value) and not is_url(value):
        raise InputError(
            f"{role}: {value!r} uses an unsupported URL scheme.",
            fix="use a local path or an http:// / https:// URL (download ftp:// files first).",
        )


def url_filename(url: str) -> str:
    """A safe local file name for `url` (its last path component; 'download' when it has none)."""
    name = unquote(PurePosixPath(urlparse(url).path).name)
    return _SAFE_NAME.sub("_", name).strip("._") or "download"


def local_sources(spec: Mapping, downloads_dir: str | os.PathLike) -> dict[str, str]:
    """role -> local path of each input file of a genome spec (URLs map into `downloads_dir/<role>/`)."""
    out: dict[str, str] = {}
    for role in SOURCE_ROLES:
        value = spec.get(role)
        if not value or (role == "annotation" and value == PREDICT):
            continue
        check_source(value, role)
        out[role] = str(Path(downloads_dir) / role / url_filename(value)) if is_url(value) else value
    return out


def fetch_url(url: str, out: str | os.PathLike, *, timeout: float = 60.0, attempts: int = 3) -> Path:
    """Download `url` to `out` atomically; HTTP errors and truncated downloads become InputError."""
    check_source(url, "url")
    if not is_url(url):
        raise InputError(f"{url!r} is not an http(s) URL.", fix="give an http:// or https:// URL.")
    request = urllib.request.Request(url, headers={"User-Agent": f"dnalens/{__version__}"})
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response, atomic_path(out) as tmp:
                expected = response.headers.get("Content-Length")
                size = 0
                with open(tmp, "wb") as handle:
                    while chunk := response.read(1 << 20):
                        handle.write(chunk)
                        size += len(chunk)
                if expected is not None and int(expected) != size:
                    raise InputError(
                        f"download of {url} was cut short ({size} of {expected} bytes).", fix="run the workflow again."
                    )
                if size == 0:
                    raise InputError(f"download of {url} is empty.", fix="check the URL.")
            return Path(out)
        except urllib.error.HTTPError as err:
            if err.code < 500 or attempt == attempts:
                raise InputError(
                    f"download of {url} failed: HTTP {err.code} {err.reason}.",
                    fix="check the URL in the genome config.",
                ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            if attempt == attempts:
                reason = getattr(err, "reason", err)
                raise InputError(
                    f"download of {url} failed: {reason}.",
                    fix="check the URL and the network (compute nodes often have none: "
                    "fetch on the login node with `snakemake --until fetch`).",
                ) from None
        log.warning("download of %s failed (attempt %d of %d); retrying", url, attempt, attempts)
        time.sleep(min(2**attempt, 10))
    raise AssertionError("unreachable")
