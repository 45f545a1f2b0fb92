"""Gene names with products for the report: a product on a CDS names its gene; predicted genes read
"unknown (pyrodigal)"; a gene with neither shows its name alone."""

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
    assert regions.gene_labels("chr1", 100, 160) == [
        "abcA (ABC transporter, ATP-binding protein)",
        "chr1_1 (unknown (pyrodigal))",
    ]
    assert regions.gene_labels("chr1", 250, 260) == ["xyzB"]
    assert regions.gene_names("chr1", 100, 160) == ["abcA", "chr1_1"]  # names alone are unchanged


def _labels_by_filtering(regions, contig, start, end):
    """The reference: `overlapping` (a plain pandas filter) per span, then the same label text."""
    genes = regions.overlapping(contig, start, end, ("gene", "pseudogene", "ncRNA_gene"))
    if genes.empty:
        genes = regions.overlapping(contig, start, end, ("CDS", "tRNA", "rRNA", "ncRNA"))
    out = []
    for n, i, p in zip(genes["name"], genes["id"], genes["product"]):
        name = n if isinstance(n, str) and n else i
        out.append(f"{name} ({p})" if isinstance(p, str) and p else name)
    return list(dict.fromkeys(out))


def test_indexed_gene_labels_match_a_filter_of_the_whole_table():
    """Random spans (some wrapping a circular contig's origin, some on a contig with RNAs only) over
    random, nested and overlapping genes: the searchsorted index finds what a full-table filter finds,
    in the same order."""
    import numpy as np
    import pandas as pd

    from dnalens.report.regions import REGION_COLUMNS, Regions

    rng = np.random.default_rng(3)
    rows = []
    for contig, types in (("c1", ("gene", "CDS", "pseudogene")), ("c2", ("tRNA", "rRNA"))):
        for j in range(120):
            start = int(rng.integers(0, 5000))
            length = int(rng.choice([30, 300, 3000]))
            rows.append(
                (
                    contig,
                    str(rng.choice(types)),
                    start,
                    start + length,
                    "+",
                    f"n{j}" if j % 5 else "",
                    f"{contig}-id{j}",
                    "" if j % 3 else f"product {j % 7}",
                )
            )
    regions = Regions(pd.DataFrame(rows, columns=list(REGION_COLUMNS)), {"c1": 6000, "c2": 6000})
    checked = 0
    for _ in range(400):
        contig = str(rng.choice(["c1", "c2"]))
        start = int(rng.integers(0, 6000))
        end = start + int(rng.integers(1, 800))
        expected = _labels_by_filtering(regions, contig, start, end)
        assert regions.gene_labels(contig, start, end) == expected, (contig, start, end)
        checked += bool(expected)
    assert checked > 300  # most spans do hit something
