"""Reading user text files the same way everywhere: plain or gzip (incl. bgzip), LF or CRLF.

Every parser goes through `iter_lines`, so CRLF line ends, a gzip wrapper or a missing file are
handled once, and errors name the file the user gave (not a temporary copy).
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO, Iterator

from dnalens.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def require_file(path: str | os.PathLike, what: str = "input file") -> Path:
    """`path` as a Path, or InputError when it is missing, a directory or empty."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} not found.", path=p, fix="check the path in your genome config.")
    if p.is_dir():
        raise InputError(f"{what} is a directory, not a file.", path=p, fix="give the path of the file.")
    if p.stat().st_size == 0:
        raise InputError(f"{what} is empty.", path=p, fix="give a non-empty file (was a download cut short?).")
    return p


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def is_bgzip(path: str | os.PathLike) -> bool:
    """True for BGZF (block gzip, `bgzip`): gzip with the 'BC' extra subfield."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 18 and head[:2] == GZIP_MAGIC and head[3] & 4 and head[12:14] == b"BC"


def open_text(path: str | os.PathLike) -> IO[str]:
    """Text handle with universal newlines (CRLF read as LF), transparently gunzipping."""
    p = require_file(path)
    raw: IO[bytes] = gzip.open(p, "rb") if is_gzip(p) else open(p, "rb")  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline=None)


def iter_lines(path: str | os.PathLike, what: str = "file") -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line end); decoding problems become InputError."""
    lineno = 0
    try:
        with open_text(path) as handle:
            for lineno, line in enumerate(handle, 1):
                yield lineno, line.rstrip("\n")
    except UnicodeDecodeError:
        raise InputError(
            f"{what} is not a text file (undecodable bytes near line {lineno + 1}).",
            path=path,
            fix="give a plain-text or gzip-compressed file.",
        ) from None
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise InputError(
            f"cannot read {what} ({err}).", path=path, fix="re-download or re-compress the file."
        ) from None


def nine_columns(line: str, path: str | os.PathLike, lineno: int, fmt: str) -> list[str]:
    """A GFF3 or GTF row's 9 tab-separated columns, or the one error that says so (`fmt` names the format)."""
    cols = line.split("\t")
    if len(cols) != 9:
        raise InputError(
            f"expected 9 tab-separated columns, found {len(cols)}.",
            path=path,
            line=lineno,
            fix=f"{fmt} rows have 9 columns separated by tabs (not spaces).",
        )
    return cols
