"""The annotated VCF: the input's records with dnalens INFO fields, bgzipped and tabix-indexed (pysam).

Every input record is kept (a skipped allele says why in DNALENS_SKIP), sorted by the genome's contig order
and position so tabix can index it; the fields are Number=A, one value per ALT, '.' where an ALT was not
scored. Contigs the header lacks are declared from the genome (with their lengths) so pysam can write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from dnalens.variants.vcf_input import open_vcf

INFO_FIELDS = {
    "DNALENS_DLL": (
        "Float",
        "dnalens: Δ log-likelihood alt − ref (nats), mean of the forward and reverse-complement windows",
    ),
    "DNALENS_CSQ": ("String", "dnalens: consequence class from the genome annotation (variants.tsv `consequence`)"),
    "DNALENS_TOP": (
        "String",
        "dnalens: latents changed most within ± variants.latent_window nt, latent:label:(ΔFWD+ΔRC)/2 joined by '|'",
    ),
    "DNALENS_SKIP": ("String", "dnalens: why this ALT was not scored (variants/summary.json `skip_reasons`)"),
}
_UNSAFE = str.maketrans({c: "_" for c in " ;=,\t"})


def info_text(value: str) -> str:
    """A value safe inside a VCF INFO field (no space, ';', '=', ',')."""
    return value.translate(_UNSAFE)


def write_annotated_vcf(
    source: str | Path,
    out: str | Path,
    scored: Mapping[tuple[int, int], tuple[float, str, str]],
    skipped: Mapping[tuple[int, int], str],
    contig_order: Sequence[str],
    lengths: Mapping[str, int],
) -> None:
    """Write `out` (.vcf.gz, bgzip) from `source` with the INFO fields above, then its .tbi beside it.

    `scored`: (record index, alt index) -> (Δ LL, consequence, top latents); `skipped`: the same key -> reason.
    pysam parses the input (VCF, VCF.gz or BCF) and prints each record; the dnalens fields are appended to the
    printed INFO column (re-encoding a record under another header makes htslib exit on an undeclared contig),
    the data lines are sorted (genome contig order, position; stable) and bgzipped. The caller makes the write
    atomic (it writes into a temporary directory)."""
    import pysam

    out = Path(out)
    with open_vcf(source) as vcf:
        header = vcf.header.copy()
        for key, (kind, text) in INFO_FIELDS.items():
            if key not in header.info:
                header.info.add(key, "A", kind, text)
        for contig in contig_order:
            if contig not in header.contigs:
                header.contigs.add(contig, length=lengths.get(contig))
        body = [_annotated_line(str(rec), index, len(rec.alts or ()), scored, skipped) for index, rec in enumerate(vcf)]
    rank = {c: i for i, c in enumerate(contig_order)}
    body.sort(key=lambda line: _sort_key(line, rank))  # stable: records at one position keep file order
    plain = out.with_name(out.name + ".plain.vcf")
    plain.write_text(str(header) + "".join(body))
    pysam.tabix_compress(str(plain), str(out), force=True)
    plain.unlink()
    pysam.tabix_index(str(out), preset="vcf", force=True)


def _sort_key(line: str, rank: Mapping[str, int]) -> tuple[int, str, int]:
    contig, pos = line.split("\t", 2)[:2]
    return rank.get(contig, len(rank)), contig, int(pos)


def _annotated_line(line: str, index: int, n_alts: int, scored, skipped) -> str:
    """One printed record with the dnalens INFO fields (Number=A: one value per ALT, '.' where not scored)."""
    fields = info_fields(index, n_alts, scored, skipped)
    if not fields:
        return line if line.endswith("\n") else line + "\n"
    cols = line.rstrip("\n").split("\t")
    cols[7] = fields if cols[7] == "." else f"{cols[7]};{fields}"
    return "\t".join(cols) + "\n"


def info_fields(index: int, n_alts: int, scored, skipped) -> str:
    """`DNALENS_DLL=...;DNALENS_CSQ=...;...` for one record, or '' when none of its ALTs has a value."""
    values = [scored.get((index, a)) for a in range(n_alts)]
    parts = []
    if any(v is not None for v in values):
        parts.append("DNALENS_DLL=" + ",".join("." if v is None else f"{float(v[0]):.4g}" for v in values))
        parts.append("DNALENS_CSQ=" + ",".join("." if v is None else info_text(v[1]) for v in values))
        parts.append("DNALENS_TOP=" + ",".join("." if v is None else (info_text(v[2]) or ".") for v in values))
    reasons = [skipped.get((index, a)) for a in range(max(n_alts, 1))]
    if any(reasons):
        parts.append("DNALENS_SKIP=" + ",".join(r or "." for r in reasons))
    return ";".join(parts)
