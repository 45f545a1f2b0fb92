"""VCF reading: every bad record skipped under its reason and counted, multi-allelic records split, bgzip read,
and the one error for a VCF on other contig names."""

from __future__ import annotations

import pysam
import pytest

from dnalens.errors import InputError
from dnalens.variants.vcf_input import SKIP_REASONS, read_vcf

SEQ = "ACGTACGTAC" * 10 + "NNNNN" + "ACGTACGTAC" * 5  # 155 nt, N at 100..104
GENOME = {"c1": SEQ}
LENGTHS = {"c1": len(SEQ)}
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=c1,length=155>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _vcf(tmp_path, lines, name="in.vcf", bgzip=False):
    path = tmp_path / name
    path.write_text(HEADER + "".join("\t".join(map(str, cols)) + "\t.\t.\t.\n" for cols in lines))
    if bgzip:
        out = tmp_path / (name + ".gz")
        pysam.tabix_compress(str(path), str(out), force=True)
        return out
    return path


@pytest.mark.parametrize("bgzip", [False, True])
def test_bad_records_are_counted_by_reason(tmp_path, bgzip):
    lines = [
        ("c1", 1, "ok", "A", "G,T"),  # multi-allelic: two rows
        ("c1", 2, "bad_ref", "A", "G"),  # genome has C
        ("chr9", 5, "no_contig", "A", "G"),
        ("c1", 160, "past", "A", "G"),
        ("c1", 155, "past_end_ref", "CA", "C"),  # REF runs past the end
        ("c1", 3, "missing", "G", "."),
        ("c1", 4, "sym", "T", "<DEL>,C"),  # one symbolic ALT, one fine
        ("c1", 5, "bnd", "A", "A[c1:20["),
        ("c1", 101, "n", "N", "A"),
        ("c1", 6, "iupac", "C", "R"),
        ("c1", 7, "long", "G", "G" + "A" * 40),
        ("c1", 8, "indel", "TA", "T"),
    ]
    found = read_vcf(_vcf(tmp_path, lines, bgzip=bgzip), GENOME, LENGTHS, max_allele=32)
    assert found.n_records == len(lines)
    assert [(a.id, a.pos, a.ref, a.alt, a.alt_index) for a in found.alleles] == [
        ("ok", 1, "A", "G", 0),
        ("ok", 1, "A", "T", 1),
        ("sym", 4, "T", "C", 1),
        ("indel", 8, "TA", "T", 0),
    ]
    assert dict(found.skipped) == {
        "ref_mismatch": 1,
        "contig_not_in_genome": 1,
        "position_past_end": 2,
        "missing_alt": 1,
        "symbolic_allele": 2,
        "reference_n": 1,
        "alt_not_acgt": 1,
        "indel_too_long": 1,
    }
    assert set(found.skipped) <= set(SKIP_REASONS)
    assert found.skipped_keys[(6, 0)] == "symbolic_allele" and (6, 1) not in found.skipped_keys


def test_no_matching_contig_names_the_chr_prefix(tmp_path):
    path = _vcf(tmp_path, [("chrc1", 1, "x", "A", "G"), ("chrc1", 2, "y", "C", "G")])
    with pytest.raises(InputError) as err:
        read_vcf(path, GENOME, LENGTHS, max_allele=32)
    assert "chrc1" in err.value.message and "c1" in err.value.message and "chr" in err.value.fix
    assert err.value.path == str(path)


def test_missing_and_malformed_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_vcf(tmp_path / "none.vcf", GENOME, LENGTHS, max_allele=32)
    bad = tmp_path / "bad.vcf"
    bad.write_text(HEADER + "c1\tnotanumber\t.\tA\tG\t.\t.\t.\n")
    with pytest.raises(InputError):
        read_vcf(bad, GENOME, LENGTHS, max_allele=32)
