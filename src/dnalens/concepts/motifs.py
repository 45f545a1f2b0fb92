"""Motif matches scanned with Bio.motifs: the built-in TATA box (eukaryotes only), plus PWM files.

The TATA box (TATAWAWR, Bucher 1990, J Mol Biol 212:563) is a eukaryotic core-promoter element: it is
scanned only when the genome's kingdom is `eukaryote` (genome.json). The Shine–Dalgarno site and the
sigma70 boxes are not genome-wide scans: they live in the regulatory family, next to start codons and
operon starts (concepts/prokaryotic.py).

A match is stranded (a motif on the − strand is a match for − reads), so every motif also has an
antisense twin. Scores are relative: (score − min) / (max − min) of the log-odds PSSM, uniform
background; a built-in motif at the default threshold 0.9 matches its IUPAC consensus exactly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from Bio import motifs

from dnalens.concepts.context import ConceptContext
from dnalens.concepts.model import Concept, IntervalBuilder
from dnalens.concepts.settings import ConceptSettings, MotifSpec
from dnalens.errors import InputError

FAMILY = "motifs"
BUILTIN = {"TATA_box": "TATAWAWR"}
EUKARYOTIC = frozenset({"TATA_box"})  # built only when the kingdom is eukaryote
CONCEPTS = {
    "TATA_box": "TATA box consensus TATAWAWR (Bucher 1990), genome-wide Bio.motifs scan; kingdom eukaryote only",
}
IUPAC = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}
_EXT_FORMATS = {
    ".jaspar": ["jaspar"],
    ".meme": ["minimal", "meme"],
    ".pfm": ["pfm"],
    ".transfac": ["transfac"],
    ".dat": ["transfac"],
}


def extra_concepts(settings: ConceptSettings, base_dir: Path) -> dict[str, str]:
    """Concept names of the PWM files in the config (read now, so include/exclude can name them)."""
    return {
        name: f"PWM {m.name or ''} from {spec.path}"
        for spec in settings.motif_specs
        for name, m in _file_motifs(spec, base_dir)
    }


def build(ctx: ConceptContext, wanted: set[str]) -> list[Concept]:
    s = ctx.settings
    scans: list[tuple[str, object, float, str]] = []
    eukaryote = (ctx.genome.kingdom or "").lower() == "eukaryote"
    for name, consensus in BUILTIN.items():
        if name in EUKARYOTIC and not eukaryote:
            continue
        if name in wanted:
            scans.append((name, consensus_pssm(consensus), s.builtin_motif_threshold, CONCEPTS[name]))
    for spec in s.motif_specs:
        for name, m in _file_motifs(spec, ctx.base_dir):
            if name in wanted:
                pssm = m.counts.normalize(pseudocounts=0.5).log_odds()
                threshold = s.motif_threshold if spec.threshold is None else spec.threshold
                scans.append((name, pssm, threshold, f"PWM {m.name or name} from {spec.path}"))
    out = []
    for name, pssm, threshold, desc in scans:
        b = IntervalBuilder()
        for contig in ctx.genome.contigs:
            _scan(b, contig, ctx.genome.text(contig), pssm, threshold, ctx.genome.is_circular(contig), name)
        out.append(Concept(name, FAMILY, "sequence", desc, intervals=b.build()))
    return out


def consensus_pssm(consensus: str, mismatch: float = 0.06):
    """Log-odds PSSM for an IUPAC consensus: allowed bases share 1 − mismatch, the others `mismatch`."""
    counts = {b: [] for b in "ACGT"}
    for letter in consensus.upper():
        allowed = IUPAC[letter]
        for b in "ACGT":
            if b in allowed:
                counts[b].append((1 - mismatch) / len(allowed) if len(allowed) < 4 else 0.25)
            else:
                counts[b].append(mismatch / (4 - len(allowed)))
    return motifs.Motif(alphabet="ACGT", counts=counts).counts.normalize().log_odds()


def relative_scores(pssm, text: str) -> np.ndarray:
    scores = np.asarray(pssm.calculate(text), dtype=np.float64)
    return (scores - pssm.min) / (pssm.max - pssm.min)


def _scan(b: IntervalBuilder, contig: str, text: str, pssm, threshold: float, circular: bool, name: str) -> None:
    width, n = pssm.length, len(text)
    if n < width and not circular:
        return
    scan_text = text + text[: width - 1] if circular else text
    for strand, matrix in (("+", pssm), ("-", pssm.reverse_complement())):
        with np.errstate(invalid="ignore"):
            hits = np.flatnonzero(relative_scores(matrix, scan_text) >= threshold - 1e-9)
        hits = hits[hits < n]
        inside = hits + width <= n
        b.add_runs(contig, hits[inside], hits[inside] + width, strand, name)
        for h in hits[~inside].tolist():
            b.add([(contig, h, n, strand), (contig, 0, h + width - n, strand)], "", name)


def _file_motifs(spec: MotifSpec, base_dir: Path) -> list[tuple[str, object]]:
    path = Path(spec.path) if Path(spec.path).is_absolute() else base_dir / spec.path
    if not path.exists():
        raise InputError("motif file not found.", path=path, fix="fix concepts.motifs[].path in the config.")
    formats = (
        [spec.format]
        if spec.format != "auto"
        else _EXT_FORMATS.get(path.suffix.lower(), ["jaspar", "minimal", "meme", "transfac"])
    )
    found = None
    for fmt in formats:
        try:
            with open(path) as handle:
                found = list(motifs.parse(handle, fmt))
        except Exception:  # noqa: BLE001 - try the next format, report once below
            found = None
        if found:
            break
    if not found:
        where = _first_bad_matrix_row(path) if set(formats) <= {"jaspar", "pfm"} else None
        reason = f": {where[1]}" if where else ""
        raise InputError(
            f"no motif could be read (tried formats {', '.join(formats)}){reason}.",
            path=path,
            line=where[0] if where else None,
            fix="set concepts.motifs[].format to jaspar, meme, minimal, pfm or transfac.",
        )
    out: list[tuple[str, object]] = []
    used: set[str] = set()
    for i, m in enumerate(found):
        label = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(m.name or getattr(m, "matrix_id", None) or f"{path.stem}_{i + 1}"))
        name = f"motif_{label}"
        k = 2
        while name in used:
            name, k = f"motif_{label}_{k}", k + 1
        used.add(name)
        out.append((name, m))
    return out


def _first_bad_matrix_row(path: Path) -> tuple[int, str] | None:
    """Count-matrix files (JASPAR, PFM): the first row that is not numbers or is narrower/wider than
    its motif's first row, so the error can name a line (Bio.motifs does not)."""
    width = None
    with open(path, errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.startswith(">"):
                width = None
                continue
            cells = text.replace("[", " ").replace("]", " ").split()
            if cells and cells[0].upper() in {"A", "C", "G", "T"}:
                cells = cells[1:]
            try:
                [float(c) for c in cells]
            except ValueError:
                return number, "this line is not a row of counts"
            if width is not None and len(cells) != width:
                return number, f"this row has {len(cells)} columns, the motif's first row {width}"
            width = width or len(cells)
    return None
