"""Reading a VCF into scorable alleles: one row per record x ALT, every unusable one counted by reason.

Why pysam: one maintained library (htslib) reads plain VCF, bgzipped VCF and BCF, and writes bgzip + tabix,
so the input and the annotated output go through the same parser that samtools/bcftools use; a hand-rolled
parser would have to relearn bgzip blocks, BCF encoding and header quirks.

Nothing is silently wrong and nothing crashes on one bad record: a record or allele that cannot be scored is
skipped and counted under one reason (SKIP_REASONS; the counts are of alleles, a record with ALT '.' counts
once) and each reason gets one log line naming its first case. Only a VCF whose contigs match none of the
genome's stops, with one InputError naming a few contigs of each and the likely fix (a `chr` prefix).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dnalens.errors import InputError
from dnalens.formats.window_table import span_sequence

log = logging.getLogger(__name__)

SKIP_REASONS = {
    "contig_not_in_genome": "CHROM is not a contig of the genome",
    "position_past_end": "POS (or the end of REF) lies past the end of the contig",
    "missing_alt": "ALT is '.' (no alternative allele)",
    "symbolic_allele": "symbolic or structural ALT (<DEL>, <INS>, breakends, '*')",
    "alt_not_acgt": "ALT holds letters other than A, C, G, T",
    "reference_n": "the genome has N (or another non-ACGT letter) under REF",
    "ref_mismatch": "REF differs from the genome FASTA at POS",
    "indel_too_long": "REF or ALT longer than variants.window / 4",
}
_ACGT = frozenset("ACGT")


@dataclass(frozen=True)
class Allele:
    """One ALT of one VCF record, checked against the genome."""

    record: int  # 0-based index of the record in the file
    alt_index: int  # 0-based index of this ALT in the record
    contig: str
    pos: int  # 1-based VCF POS
    id: str
    ref: str
    alt: str

    @property
    def start(self) -> int:
        """0-based position of the first REF base."""
        return self.pos - 1


@dataclass
class VcfAlleles:
    """What `read_vcf` found: the alleles to score, skipped alleles per reason, and counts."""

    alleles: list[Allele]
    skipped: Counter = field(default_factory=Counter)
    n_records: int = 0
    first_skip: dict[str, str] = field(default_factory=dict)
    skipped_keys: dict[tuple[int, int], str] = field(default_factory=dict)  # (record, alt index) -> reason

    def skip(self, reason: str, record: int, alt_indices, where: str) -> None:
        for alt_index in alt_indices:
            self.skipped[reason] += 1
            self.skipped_keys[(record, alt_index)] = reason
        self.first_skip.setdefault(reason, where)


def open_vcf(path: str | Path):
    """pysam.VariantFile for a VCF, VCF.gz or BCF; a missing or unreadable file is one InputError."""
    import pysam

    path = Path(path)
    if not path.is_file():
        raise InputError("VCF file not found.", path=path, fix="check `variants:` in the genome's config.")
    try:
        return pysam.VariantFile(str(path))
    except (ValueError, OSError) as err:
        raise InputError(
            f"cannot read this as VCF/BCF ({err}).",
            path=path,
            fix="give a VCF (plain or bgzip) or BCF file with a ##fileformat header line.",
        ) from None


def is_symbolic(alt: str) -> bool:
    return (
        alt.startswith("<")
        or "[" in alt
        or "]" in alt
        or alt in ("*", "<*>")
        or alt.startswith(".")
        or alt.endswith(".")
    )


def read_vcf(path: str | Path, fasta, lengths: Mapping[str, int], *, max_allele: int) -> VcfAlleles:
    """Every record x ALT of `path` as an Allele, or counted under a skip reason (module docstring).
    `fasta`: the genome (pyfaidx); `lengths`: contig -> length; `max_allele`: longest REF/ALT scored."""
    found = VcfAlleles([])
    seen_contigs: Counter = Counter()
    with open_vcf(path) as vcf:
        index = -1
        try:
            for index, rec in enumerate(vcf):
                seen_contigs[rec.contig] += 1
                _check_record(found, index, rec, fasta, lengths, max_allele)
        except (ValueError, OSError) as err:
            raise InputError(
                f"cannot read record {index + 2} (counting data lines after the header) ({err}).",
                path=path,
                fix="check that line against the VCF 4.x specification (tab-separated, 8+ columns).",
            ) from None
        found.n_records = index + 1
    if found.n_records and not any(c in lengths for c in seen_contigs):
        raise no_matching_contigs(path, list(seen_contigs), list(lengths))
    for reason, count in found.skipped.items():
        log.warning("skipped %d allele(s): %s (first: %s)", count, SKIP_REASONS[reason], found.first_skip[reason])
    return found


def _check_record(found: VcfAlleles, index: int, rec, fasta, lengths: Mapping[str, int], max_allele: int) -> None:
    alts = list(rec.alts or ())
    where = f"{rec.contig}:{rec.pos}"
    every = range(max(1, len(alts)))
    if rec.contig not in lengths:
        return found.skip("contig_not_in_genome", index, every, where)
    ref = (rec.ref or "").upper()
    if rec.pos < 1 or rec.pos - 1 + len(ref) > lengths[rec.contig]:
        return found.skip("position_past_end", index, every, where)
    if not alts:
        return found.skip("missing_alt", index, every, where)
    genome_ref = span_sequence(fasta, rec.contig, rec.pos - 1, rec.pos - 1 + len(ref), "+")
    if not set(genome_ref) <= _ACGT:
        return found.skip("reference_n", index, every, where)
    if ref != genome_ref:
        return found.skip("ref_mismatch", index, every, f"{where} REF {ref} vs genome {genome_ref}")
    for alt_index, alt in enumerate(alts):
        alt = alt.upper()
        if is_symbolic(alt):
            found.skip("symbolic_allele", index, [alt_index], f"{where} {alt}")
        elif not set(alt) <= _ACGT:
            found.skip("alt_not_acgt", index, [alt_index], f"{where} {alt}")
        elif max(len(ref), len(alt)) > max_allele:
            found.skip("indel_too_long", index, [alt_index], f"{where} {len(ref)} -> {len(alt)} nt")
        else:
            found.alleles.append(Allele(index, alt_index, rec.contig, int(rec.pos), rec.id or ".", ref, alt))


def no_matching_contigs(path, vcf_contigs: list[str], genome_contigs: list[str]) -> InputError:
    """The one error for a VCF written against other contig names, with the fix spelled out when it is a prefix."""
    genome = set(genome_contigs)
    if any(c.removeprefix("chr") in genome for c in vcf_contigs):
        fix = "drop the `chr` prefix from CHROM (e.g. bcftools annotate --rename-chrs)."
    elif any(f"chr{c}" in genome for c in vcf_contigs):
        fix = "add the `chr` prefix to CHROM (e.g. bcftools annotate --rename-chrs)."
    else:
        fix = "rename the VCF's CHROM values to the genome's contig names (bcftools annotate --rename-chrs)."
    return InputError(
        f"no record of the VCF is on a contig of the genome (VCF: {', '.join(vcf_contigs[:4])}; "
        f"genome: {', '.join(genome_contigs[:4])}).",
        path=path,
        fix=fix,
    )
