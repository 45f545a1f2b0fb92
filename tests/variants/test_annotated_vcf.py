"""The annotated VCF reads back with pysam, is sorted and indexed, and carries the dnalens INFO fields."""

from __future__ import annotations

import pysam

from dnalens.variants.annotated_vcf import INFO_FIELDS, write_annotated_vcf

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=b,length=500>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def test_info_fields_read_back(tmp_path):
    source = tmp_path / "in.vcf"
    source.write_text(
        HEADER
        + "b\t300\tr0\tA\tG,T\t.\t.\tDP=3\n"  # multi-allelic, both scored; an INFO value already there
        + "a\t10\tr1\tC\tT\t.\t.\t.\n"  # contig `a` comes first in the genome: sorted to the top
        + "b\t20\tr2\tG\t<DEL>\t.\t.\t.\n"  # skipped
        + "zz\t5\tr3\tA\tG\t.\t.\t.\n"  # contig not in the genome, not declared in the header
    )
    scored = {
        (0, 0): (-1.25, "missense", "3:CDS:-0.5|7::0.2"),
        (0, 1): (0.5, "synonymous", ""),
        (1, 0): (-7.0, "stop_gained", "1::2"),
    }
    skipped = {(2, 0): "symbolic_allele", (3, 0): "contig_not_in_genome"}
    out = tmp_path / "variants.vcf.gz"
    write_annotated_vcf(source, out, scored, skipped, ["a", "b"], {"a": 100, "b": 500})
    assert (tmp_path / "variants.vcf.gz.tbi").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf", "variants.vcf.gz", "variants.vcf.gz.tbi"]
    with pysam.VariantFile(str(out)) as vcf:
        assert set(INFO_FIELDS) <= set(vcf.header.info)
        records = list(vcf)
        assert [(r.contig, r.pos, r.id) for r in records] == [
            ("a", 10, "r1"),
            ("b", 20, "r2"),
            ("b", 300, "r0"),
            ("zz", 5, "r3"),
        ]
        first, skip, multi = records[0], records[1], records[2]
        assert first.info["DNALENS_DLL"] == (-7.0,) and first.info["DNALENS_CSQ"] == ("stop_gained",)
        assert multi.info["DNALENS_DLL"] == (-1.25, 0.5)
        assert multi.info["DNALENS_CSQ"] == ("missense", "synonymous")
        assert multi.info["DNALENS_TOP"] == ("3:CDS:-0.5|7::0.2", ".")
        assert str(multi.info["DP"]) == "3"  # the input's own (undeclared) INFO survives
        assert skip.info["DNALENS_SKIP"] == ("symbolic_allele",) and "DNALENS_DLL" not in skip.info
        assert [r.id for r in vcf.fetch("b", 250, 350)] == ["r0"]  # the tabix index works
