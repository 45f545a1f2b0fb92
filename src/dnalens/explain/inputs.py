"""What `dnalens explain` reads: the user's sequences (a FASTA or a genome region), the dictionary, its labels.

Every problem is one InputError naming the file or region and the fix, raised before the model runs, so a
bad input never leaves a partial output. A genome directory is what the workflow wrote for a genome
(results/<genome>/): genome.fa, annotation.gff3, windows.bed, buffer/buffer.json (which dictionary encoded the
genome, the layer and the trims) and probe/features.parquet (each latent's label and whether it passed the
probe stage's strict annotation rule).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dnalens.errors import InputError

VALID_BASES = frozenset("ACGTNacgtn")
_REGION = re.compile(r"^(?P<contig>.+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


@dataclass(frozen=True)
class InputSequence:
    """One sequence to explain. `contig`/`offset`: where it lies in the genome (0-based start), None for a
    FASTA record. `context`: the stretch the model reads (the sequence with genome flanks, or the sequence
    itself), `at`: where the sequence starts in it, `phase`: where the genome run's windows start in it, mod
    the kept step (sequence_read.plan_reads)."""

    seq_id: str
    seq: str
    contig: str | None = None
    offset: int = 0
    context: str = ""
    at: int = 0
    phase: int = 0

    @property
    def read(self) -> str:
        return self.context or self.seq


@dataclass(frozen=True)
class Region:
    """A genome region, 0-based half-open inside (`contig:start-end` on the command line is 1-based closed)."""

    contig: str
    start: int
    end: int

    @property
    def name(self) -> str:
        return f"{self.contig}:{self.start + 1}-{self.end}"


@dataclass
class GenomeDir:
    """The files of a prepared genome that explain reads (paths; existence checked where each is used)."""

    root: Path
    buffer_meta: dict = field(default_factory=dict)

    @classmethod
    def open(cls, root: str | Path) -> "GenomeDir":
        root = Path(root)
        meta_path = root / "buffer" / "buffer.json"
        if not meta_path.is_file():
            raise InputError(
                "not a prepared genome directory (buffer/buffer.json missing).",
                path=root,
                fix="give results/<genome> of a finished run (snakemake results/<genome>/buffer), or use --fasta "
                "with --dictionary.",
            )
        return cls(root, json.loads(meta_path.read_text()))

    @property
    def fasta(self) -> Path:
        return self.root / "genome.fa"

    @property
    def annotation(self) -> Path:
        return self.root / "annotation.gff3"

    @property
    def probe(self) -> Path:
        return self.root / "probe" / "features.parquet"

    def dictionary(self) -> Path:
        """The dictionary buffer.json names (a path relative to the run's directory, or absolute)."""
        named = Path(self.buffer_meta.get("sae", ""))
        for candidate in (named, self.root.parent.parent / named, Path.cwd() / named):
            if str(named) and candidate.exists():
                return candidate
        raise InputError(
            f"the dictionary this genome was encoded with ({named}) is not there.",
            path=self.root / "buffer" / "buffer.json",
            fix="run explain from the run's directory, or pass --dictionary.",
        )

    def window_length(self) -> int | None:
        """The most common window length of windows.bed (the genome run's `windows.length`)."""
        bed = self.root / "windows.bed"
        if not bed.is_file():
            return None
        lengths = Counter()
        with open(bed) as handle:
            for line, _ in zip(handle, range(10000)):
                cols = line.split("\t")
                if len(cols) >= 3 and cols[1].isdigit() and cols[2].strip().isdigit():
                    lengths[int(cols[2]) - int(cols[1])] += 1
        return lengths.most_common(1)[0][0] if lengths else None

    def trims(self) -> tuple[int, int] | None:
        if "trim_start" not in self.buffer_meta:
            return None
        return int(self.buffer_meta["trim_start"]), int(self.buffer_meta.get("trim_end", 0))


def read_fasta(path: str | Path, max_length: int) -> list[InputSequence]:
    """The records of a FASTA (plain or gzip): ids = the first word of each header. Empty files, empty
    records, repeated ids and letters other than A, C, G, T, N are one InputError naming the line."""
    from dnalens.genome.textio import iter_lines

    records: list[tuple[str, int, list[str]]] = []
    total = 0
    for lineno, line in iter_lines(path, "FASTA file"):
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            name = line[1:].split()[0] if line[1:].strip() else ""
            if not name:
                raise InputError("a FASTA header without a name.", path=path, line=lineno, fix="write >name.")
            if any(name == r[0] for r in records):
                raise InputError(f"sequence id {name!r} appears twice.", path=path, line=lineno, fix="rename one.")
            records.append((name, lineno, []))
            continue
        if not records:
            raise InputError("sequence before the first '>' header.", path=path, line=lineno, fix="start with >name.")
        bad = sorted(set(line) - VALID_BASES)
        if bad:
            raise InputError(
                f"letters other than A, C, G, T, N in {records[-1][0]!r}: {''.join(bad)[:10]!r}.",
                path=path,
                line=lineno,
                fix="explain reads DNA only: replace ambiguity codes with N, remove gaps and other characters.",
            )
        records[-1][2].append(line)
        total += len(line)
        if total > max_length:
            raise InputError(
                f"more than {max_length:,} nucleotides.",
                path=path,
                line=lineno,
                fix="explain a shorter stretch (or raise explain.max_length); a whole genome belongs to the workflow.",
            )
    if not records:
        raise InputError("no sequences in the FASTA file.", path=path, fix="give at least one >name record.")
    out = []
    for name, lineno, lines in records:
        if not lines:
            raise InputError(f"sequence {name!r} is empty.", path=path, line=lineno, fix="remove it or add bases.")
        out.append(InputSequence(name, "".join(lines).upper()))
    return out


def parse_region(text: str) -> Region:
    """`contig:start-end` (1-based, closed, commas allowed) as a Region; the contig may itself contain ':'."""
    match = _REGION.match(text.strip())
    if not match:
        raise InputError(f"region {text!r} is not contig:start-end.", fix="write e.g. --region chr1:10001-20000.")
    start, end = (int(match[k].replace(",", "")) for k in ("start", "end"))
    if start < 1 or end < start:
        raise InputError(f"region {text!r}: start must be >= 1 and end >= start.", fix="write 1-based start <= end.")
    return Region(match["contig"], start - 1, end)


def region_sequence(
    genome: GenomeDir, region: Region, step: int, trim: tuple[int, int], max_length: int
) -> InputSequence:
    """The region as an InputSequence whose context is the stretch read around it: the stretch adds one window step plus the trims either side (within the contig), and its phase puts
    window starts on the genome run's grid (multiples of the step), so the region's codes are the stored ones."""
    from dnalens.genome.fasta import open_fasta

    if not genome.fasta.is_file():
        raise InputError("genome.fa missing.", path=genome.fasta, fix="give results/<genome> of a finished run.")
    fasta = open_fasta(genome.fasta)
    if region.contig not in fasta.keys():
        names = ", ".join(list(fasta.keys())[:5])
        raise InputError(
            f"region {region.name}: contig {region.contig!r} is not in the genome.",
            path=genome.fasta,
            fix=f"use one of: {names}{' ...' if len(fasta.keys()) > 5 else ''}.",
        )
    size = len(fasta[region.contig])
    if region.end > size:
        raise InputError(
            f"region {region.name} ends past the end of {region.contig} ({size:,} nt).",
            path=genome.fasta,
            fix=f"end the region at {size} or before.",
        )
    if region.end - region.start > max_length:
        raise InputError(
            f"region {region.name} is longer than explain.max_length ({max_length:,} nt).",
            fix="explain a shorter region, or raise explain.max_length.",
        )
    lo = max(0, region.start - trim[0] - step)
    hi = min(size, region.end + trim[1] + step)
    stretch = str(fasta[region.contig][lo:hi]).upper()
    seq = stretch[region.start - lo : region.end - lo]
    return InputSequence(region.name, seq, region.contig, region.start, stretch, region.start - lo, (-lo) % step)


def read_latent_labels(path: str | Path | None) -> pd.DataFrame:
    """Per feature of the dictionary's codes: `label`, `annotated` (the probe stage's strict rule), `auroc_test`,
    `margin` from a probe table (probe/features.parquet, or the directory holding it); empty without one."""
    columns = ["feature", "label", "annotated", "auroc_test", "margin"]
    if path is None:
        return pd.DataFrame(columns=columns)
    path = Path(path)
    if path.is_dir():
        path = path / "features.parquet"
    if not path.is_file():
        raise InputError("probe table not found.", path=path, fix="give results/<genome>/probe (--probe).")
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, sep="\t")
    except Exception as err:  # noqa: BLE001 - any unreadable table is the user's file
        raise InputError(f"cannot read the probe table ({err}).", path=path, fix="rerun the probe stage.") from None
    needed = {"feature", "label", "annotated"}
    if not needed <= set(table.columns):
        raise InputError(
            f"the probe table lacks {sorted(needed - set(table.columns))}.",
            path=path,
            fix="give probe/features.parquet written by `dnalens probe`.",
        )
    out = pd.DataFrame(
        {
            "feature": table["feature"].astype(int),
            "label": table["label"].fillna("").astype(str),
            "annotated": table["annotated"].fillna(False).astype(bool),
            "auroc_test": table.get("label_auroc_test", pd.Series(float("nan"), index=table.index)),
            "margin": table.get("label_margin", pd.Series(float("nan"), index=table.index)),
        }
    )
    return out.drop_duplicates("feature").reset_index(drop=True)
