"""Gene names with products for the report: a product on a CDS names its gene; predicted genes read
"hypothetical protein"; a gene with neither shows its name alone."""


PRODUCTS = """##gff-version 3
##sequence-region chr1 1 300
chr1\tRefSeq\tgene\t41\t130\t.\t+\t.\tID=gene-abcA;Name=abcA
chr1\tRefSeq\tCDS\t61\t120\t.\t+\t0\tID=cds-abcA;Parent=gene-abcA;product=ABC transporter%2C ATP-binding protein
chr1\tpyrodigal\tgene\t151\t210\t.\t+\t.\tID=gene-p1;Name=chr1_1;prediction=pyrodigal-single
chr1\tpyrodigal\tCDS\t151\t210\t.\t+\t0\tID=cds-p1;Parent=gene-p1;Name=chr1_1
chr1\tRefSeq\tgene\t221\t280\t.\t-\t.\tID=gene-xyzB;Name=xyzB
"""


def test_gene_labels_carry_products(tmp_path):
    from dnalens.genome import gff3
    from dnalens.report.regions import regions_from_annotation

    (tmp_path / "a.gff3").write_text(PRODUCTS)
    regions = regions_from_annotation(gff3.parse_gff3(tmp_path / "a.gff3"), {"chr1": 300})
    assert regions.gene_labels("chr1", 100, 160) == ["abcA (ABC transporter, ATP-binding protein)",
                                                     "chr1_1 (hypothetical protein)"]
    assert regions.gene_labels("chr1", 250, 260) == ["xyzB"]
    assert regions.gene_names("chr1", 100, 160) == ["abcA", "chr1_1"]  # names alone are unchanged
