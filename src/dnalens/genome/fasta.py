"""FASTA in, one clean indexed FASTA out (pyfaidx), plus chrom.sizes.

`prepare` rewrites every input FASTA (plain, gzip or bgzip; LF or CRLF) into LF, 60-column lines with
one-word headers, checking as it streams: not FASTA, empty contig, duplicate names, letters outside
the IUPAC nucleotide codes. Soft-masking (lower case) is kept; IUPAC ambiguity codes are accepted and
count as N wherever N content matters (window filtering).
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np

from dnalens.atomic import atomic_path
from dnalens.errors import InputError
from dnalens.genome.textio import is_bgzip, is_gzip, require_file

IUPAC_NUCLEOTIDES = b"ACGTRYSWKMBDHVNacgtryswkmbdhvn"
LINE_WIDTH = 60
_ACGT_LOOKUP = np.zeros(256, dtype=bool)
_ACGT_LOOKUP[list(b"ACGTacgt")] = True


class _WrappedWriter:
    """Writes one contig's sequence in LINE_WIDTH columns while it streams in."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.length = 0

    def add(self, chunk: bytes) -> None:
        self.length += len(chunk)
        self.chunks.append(chunk)
        self.buffered += len(chunk)
        if self.buffered >= LINE_WIDTH * 1000:
            data = b"".join(self.chunks)
            cut = len(data) - len(data) % LINE_WIDTH
            self._write(data[:cut])
            self.chunks = [data[cut:]]
            self.buffered = len(data) - cut

    def close(self) -> None:
        self._write(b"".join(self.chunks))
        self.chunks, self.buffered = [], 0

    def _write(self, data: bytes) -> None:
        for i in range(0, len(data), LINE_WIDTH):
            self.out.write(data[i : i + LINE_WIDTH] + b"\n")


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def _header_name(line: bytes, path: Path, lineno: int) -> str:
    words = line[1:].split()
    if not words:
        raise InputError("FASTA header without a name.", path=path, line=lineno, fix="write '>name' on header lines.")
    try:
        return words[0].decode("ascii")
    except UnicodeDecodeError:
        raise InputError("FASTA header name is not ASCII.", path=path, line=lineno) from None


def normalize_fasta(
    src: str | os.PathLike, dst: str | os.PathLike, contigs: Sequence[str] | None = None
) -> dict[str, int]:
    """Validate FASTA `src` and write it to `dst` (LF, 60 columns); return every contig's length, in file order.

    With `contigs`, only those contigs are written (all must exist); the lengths still cover the whole
    file, so annotation seqids can be checked against the full FASTA.
    """
    path = require_file(src, "FASTA file")
    wanted = set(contigs) if contigs else None
    lengths: dict[str, int] = {}
    header_line: dict[str, int] = {}
    current: str | None = None
    writer: _WrappedWriter | None = None

    def finish() -> None:
        if current is None:
            return
        if writer is not None:
            writer.close()
            lengths[current] = writer.length
        if lengths.get(current, 0) == 0 and (wanted is None or current in wanted):
            raise InputError(
                f"contig {current!r} has no sequence.",
                path=path,
                line=header_line[current],
                fix="remove the empty record or add its sequence.",
            )

    with atomic_path(dst) as tmp, open(tmp, "wb") as out:
        try:
            with _open_binary(path) as handle:
                for lineno, raw in enumerate(handle, 1):
                    line = raw.strip()
                    if not line:
                        continue
                    if line.startswith(b">"):
                        finish()
                        current = _header_name(line, path, lineno)
                        if current in header_line:
                            raise InputError(
                                f"contig name {current!r} occurs twice (first on line {header_line[current]}).",
                                path=path,
                                line=lineno,
                                fix="give every FASTA record a unique first word.",
                            )
                        header_line[current] = lineno
                        lengths[current] = 0
                        writer = None
                        if wanted is None or current in wanted:
                            out.write(b">" + current.encode() + b"\n")
                            writer = _WrappedWriter(out)
                        continue
                    if current is None:
                        raise InputError(
                            "not a FASTA file: the first non-empty line does not start with '>'.",
                            path=path,
                            line=lineno,
                            fix="give a nucleotide FASTA file (records start with '>name').",
                        )
                    bad = line.translate(None, IUPAC_NUCLEOTIDES)
                    if bad:
                        char = chr(bad[0]) if 32 < bad[0] < 127 else f"byte 0x{bad[0]:02x}"
                        raise InputError(
                            f"invalid sequence character {char!r} in contig {current!r}.",
                            path=path,
                            line=lineno,
                            fix="use IUPAC nucleotide letters only (ACGT, N, RYSWKMBDHV); is this a protein FASTA?",
                        )
                    if writer is not None:
                        writer.add(line)
                    else:
                        lengths[current] += len(line)
                finish()
        except (OSError, EOFError) as err:
            raise InputError(f"cannot read FASTA file ({err}).", path=path, fix="re-download the file.") from None
        if current is None:
            raise InputError("not a FASTA file: no '>' record found.", path=path, fix="give a nucleotide FASTA file.")
    if wanted is not None:
        missing = [c for c in contigs or () if c not in lengths]
        if missing:
            raise InputError(
                f"contig(s) {', '.join(missing)} from `contigs:` are not in the FASTA.",
                path=path,
                fix=f"use names from the FASTA headers: {', '.join(list(lengths)[:10])}.",
            )
    return lengths


def write_fasta(records: Iterable[tuple[str, str]], dst: str | os.PathLike) -> dict[str, int]:
    """Write (name, sequence) records as LF, 60-column FASTA; return lengths."""
    lengths: dict[str, int] = {}
    with atomic_path(dst) as tmp, open(tmp, "wb") as out:
        for name, seq in records:
            out.write(b">" + name.encode() + b"\n")
            writer = _WrappedWriter(out)
            writer.add(seq.encode())
            writer.close()
            lengths[name] = len(seq)
    return lengths


def index_fasta(path: str | os.PathLike) -> Path:
    """Build `<path>.fai` with pyfaidx; returns the index path."""
    import pyfaidx

    pyfaidx.Faidx(str(path)).close()
    return Path(f"{path}.fai")


_TEMP_DIRS: list[str] = []


def _cleanup_temp_dirs() -> None:
    for d in _TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def open_fasta(path: str | os.PathLike):
    """pyfaidx.Fasta for `path`; gzip input (bgzip or not) is decompressed to a private temp copy first."""
    import pyfaidx

    p = require_file(path, "FASTA file")
    if is_gzip(p) or is_bgzip(p):
        if not _TEMP_DIRS:
            atexit.register(_cleanup_temp_dirs)
        tmpdir = tempfile.mkdtemp(prefix="dnalens-fasta-")
        _TEMP_DIRS.append(tmpdir)
        plain = Path(tmpdir) / (p.name.removesuffix(".gz").removesuffix(".bgz") or "genome.fa")
        normalize_fasta(p, plain)
        p = plain
    try:
        return pyfaidx.Fasta(str(p), sequence_always_upper=False, rebuild=True, as_raw=False)
    except (pyfaidx.FastaIndexingError, ValueError) as err:
        raise InputError(
            f"cannot index FASTA ({err}).", path=path, fix="run `dnalens prepare` to normalise it."
        ) from None


def read_chrom_sizes(path: str | os.PathLike) -> dict[str, int]:
    """Contig -> length from a two-column chrom.sizes (or a .fai: extra columns are ignored)."""
    sizes: dict[str, int] = {}
    with open(require_file(path, "chrom.sizes file")) as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.rstrip("\r\n").split("\t")
            try:
                sizes[cols[0]] = int(cols[1])
            except (IndexError, ValueError):
                raise InputError(
                    "expected 'contig<TAB>length'.", path=path, line=lineno, fix="regenerate it with `dnalens prepare`."
                ) from None
    return sizes


def write_chrom_sizes(lengths: dict[str, int], path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{name}\t{length}\n" for name, length in lengths.items()))


def non_acgt_mask(seq: str | bytes) -> np.ndarray:
    """Boolean array, True where the base is not A/C/G/T (N and IUPAC ambiguity codes)."""
    data = seq.encode() if isinstance(seq, str) else seq
    return ~_ACGT_LOOKUP[np.frombuffer(data, dtype=np.uint8)]
