"""Intron-split tRNA genes from the ARAGORN program's own intron search (`aragorn -i`).

pyaragorn 0.3 runs the same ARAGORN C code but does not expose its intron search, so tRNAs split by an
anticodon-loop intron (plastid trnK, trnG, trnL, trnV, trnI, trnA; archaeal and eukaryotic nuclear tRNAs)
are invisible to it. When the `aragorn` executable (Debian/Ubuntu `aragorn`, bioconda `aragorn`) is on the
PATH, this module runs it with `-i` (introns of 0-3,000 nt in the anticodon loop) and keeps only the
intron-split calls; every other tRNA still comes from pyaragorn. Without the executable a warning says which
genes are missed and how to install it.

Two filters, both about calls no real tRNA makes: an intron call overlapping a pyaragorn tRNA on the same
strand is the same gene read twice (pyaragorn's call is kept), and an intron call whose span overlaps a
predicted rRNA gene is dropped (no known tRNA intron hosts an rRNA; on the Arabidopsis chloroplast the only
such call is a 2.6-kb "tRNA-Arg" spanning the 23S gene in each inverted repeat). Where ARAGORN places the
intron one or two bases off, its anticodon, and so the product name, can be wrong (it calls the plastid
trnI-GAU "tRNA-Glu(ttc)"); names are ARAGORN's, coordinates are what the recall test checks.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from dnalens.errors import InputError

log = logging.getLogger(__name__)
MAX_INTRON = 3000  # ARAGORN's default for -i
# "2   tRNA-Lys   c[1716,4347]	33  	(ttt)i(38,2559)": index, type-aa, [c]omplement, 1-based span, anticodon
# position, anticodon and (intron start within the tRNA, intron length)
_LINE = re.compile(
    r"^\s*\d+\s+tRNA-(?P<aa>\S+)\s+(?P<comp>c?)\[(?P<begin>-?\d+),(?P<end>\d+)\]\s+\d+\s+"
    r"\((?P<anticodon>[a-z]+)\)i\((?P<ipos>\d+),(?P<ilen>\d+)\)"
)


def aragorn_executable() -> str | None:
    return shutil.which("aragorn")


def aragorn_version(exe: str) -> str:
    out = subprocess.run([exe, "-h"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"ARAGORN v(\S+)", out)
    return found.group(1) if found else "unknown"


def parse_intron_calls(text: str, length: int) -> list[dict]:
    """Intron-split tRNAs of one contig's `aragorn -w` output, with 0-based half-open exons in genome order.

    ARAGORN reports the intron from the tRNA's 5' end (`i(pos,len)`: the intron starts at tRNA position
    `pos`), so on the minus strand the first exon is the right-hand one. Spans across the origin of a
    circular contig end past `length`."""
    calls = []
    for line in text.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        start, end = int(found["begin"]) - 1, int(found["end"])
        if end <= start:
            end += length
        ipos, ilen = int(found["ipos"]), int(found["ilen"])
        strand = "-" if found["comp"] else "+"
        five = ipos - 1  # bases of the tRNA before the intron
        if strand == "+":
            exons = [(start, start + five), (start + five + ilen, end)]
        else:
            exons = [(start, end - five - ilen), (end - five, end)]
        if any(e <= s for s, e in exons):
            continue
        calls.append(
            {
                "start": start,
                "end": end,
                "strand": strand,
                "exons": exons,
                "amino_acid": found["aa"],
                "anticodon": found["anticodon"],
            }
        )
    return calls


def run_aragorn_introns(exe: str, seqid: str, seq: str, genetic_code: int, circular: bool) -> list[dict]:
    """`aragorn -i -t` on one contig (its topology set per contig), parsed by `parse_intron_calls`."""
    with tempfile.TemporaryDirectory(prefix="dnalens-aragorn-") as tmp:
        fasta = Path(tmp) / "contig.fa"
        fasta.write_text(f">{seqid}\n{seq}\n")
        cmd = [exe, "-t", f"-i{MAX_INTRON}", f"-gc{genetic_code}", "-c" if circular else "-l", "-w", str(fasta)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError(
            f"aragorn failed on contig {seqid} (exit {done.returncode}): {done.stderr.strip()[:300]}",
            fix="check the aragorn installation (aragorn -h), or remove it from the PATH to skip the intron search.",
        )
    return parse_intron_calls(done.stdout, len(seq))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def keep_new_intron_calls(
    calls: list[dict], trnas: Collection[tuple[int, int, str]], rrnas: Collection[tuple[int, int]]
) -> list[dict]:
    """Intron calls that are neither a pyaragorn tRNA seen again (same strand) nor spread over an rRNA gene."""
    kept = []
    for c in calls:
        span = (c["start"], c["end"])
        if any(strand == c["strand"] and _overlaps(span, (s, e)) for s, e, strand in trnas):
            continue
        if any(_overlaps(span, r) for r in rrnas):
            continue
        kept.append(c)
    return kept


def intron_trna_calls(
    sequences: Mapping[str, str],
    genetic_code: int,
    circular: Collection[str],
    trnas: Mapping[str, list[tuple[int, int, str]]],
    rrnas: Mapping[str, list[tuple[int, int]]],
) -> tuple[dict[str, list[dict]], str | None]:
    """Per contig, the intron-split tRNAs pyaragorn could not find; ({} , None) without the executable."""
    exe = aragorn_executable()
    if exe is None:
        log.warning(
            "the aragorn executable is not on the PATH: tRNAs split by an intron (plastid trnK, trnG, trnL, "
            "trnV, trnI, trnA) are not predicted. Install it with `apt-get install aragorn` or "
            "`conda install -c bioconda aragorn`."
        )
        return {}, None
    version = aragorn_version(exe)
    out = {}
    for seqid, seq in sequences.items():
        if not seq:
            continue
        calls = run_aragorn_introns(exe, seqid, seq, genetic_code, seqid in set(circular))
        out[seqid] = keep_new_intron_calls(calls, trnas.get(seqid, []), rrnas.get(seqid, []))
    log.info("aragorn %s -i: %d intron-split tRNA gene(s)", version, sum(map(len, out.values())))
    return out, version
