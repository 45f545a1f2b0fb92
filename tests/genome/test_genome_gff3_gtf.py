"""GFF3 (NCBI, Ensembl) and GTF -> one model: hand-written snippets with hand-worked expectations."""

from __future__ import annotations

import gzip

import pytest

from dnalens.genome.annotation import load_annotation, sniff_format, write_normalized_gff3
from dnalens.genome.genbank import read_genbank
from dnalens.genome.gtf import parse_gtf


def _tsv(text: str) -> str:
    """Snippets are written with ' | ' between columns for readability; GFF/GTF want tabs."""
    return (
        "\n".join(
            " | ".join(c.strip() for c in line.split("|")).replace(" | ", "\t") if "|" in line else line
            for line in text.strip().splitlines()
        )
        + "\n"
    )


NCBI = _tsv("""
##gff-version 3
##sequence-region chrT.1 1 2000
chrT.1 | RefSeq | region | 1 | 2000 | . | + | . | ID=chrT.1:1..2000;Dbxref=taxon:1;Is_circular=true
chrT.1 | RefSeq | gene | 101 | 400 | . | + | . | ID=gene-T1;Name=abcA;gene=abcA;locus_tag=T1
chrT.1 | Protein Homology | CDS | 101 | 400 | . | + | 0 | ID=cds-WP_1.1;Parent=gene-T1;Dbxref=GenBank:WP_1.1,GeneID:7;product=ABC transporter%2C permease
chrT.1 | RefSeq | gene | 501 | 572 | . | - | . | ID=gene-T2;Name=trnA;locus_tag=T2
chrT.1 | tRNAscan-SE | tRNA | 501 | 572 | . | - | . | ID=rna-T2;Parent=gene-T2;product=tRNA-Ala
chrT.1 | tRNAscan-SE | exon | 501 | 572 | . | - | . | ID=exon-T2-1;Parent=rna-T2;product=tRNA-Ala
chrT.1 | RefSeq | gene | 601 | 1200 | . | - | . | ID=gene-T3;Name=xyz;locus_tag=T3
chrT.1 | Gnomon | mRNA | 601 | 1200 | . | - | . | ID=rna-XM_3.1;Parent=gene-T3;Name=XM_3.1
chrT.1 | Gnomon | exon | 601 | 700 | . | - | . | ID=exon-XM_3.1-3;Parent=rna-XM_3.1
chrT.1 | Gnomon | exon | 801 | 900 | . | - | . | ID=exon-XM_3.1-2;Parent=rna-XM_3.1
chrT.1 | Gnomon | exon | 1001 | 1200 | . | - | . | ID=exon-XM_3.1-1;Parent=rna-XM_3.1
chrT.1 | Gnomon | CDS | 651 | 700 | . | - | 2 | ID=cds-XP_3.1;Parent=rna-XM_3.1
chrT.1 | Gnomon | CDS | 801 | 900 | . | - | 0 | ID=cds-XP_3.1;Parent=rna-XM_3.1
chrT.1 | Gnomon | CDS | 1001 | 1150 | . | - | 0 | ID=cds-XP_3.1;Parent=rna-XM_3.1
chrT.1 | RefSeq | pseudogene | 1301 | 1400 | . | + | . | ID=gene-T4;Name=psd;pseudo=true
chrT.1 | RefSeq | exon | 1301 | 1400 | . | + | . | ID=id-T4;Parent=gene-T4
chrT.1 | RefSeq | gene | 1901 | 2100 | . | + | . | ID=gene-T5;locus_tag=T5
chrT.1 | Prodigal | CDS | 1901 | 2100 | . | + | 0 | ID=cds-T5;Parent=gene-T5
""")

ENSEMBL = _tsv("""
##gff-version 3
##sequence-region   1 1 5000
1 | GRCh38 | chromosome | 1 | 5000 | . | . | . | ID=chromosome:1;Alias=CM000663.2
1 | ensembl_havana | gene | 1000 | 3000 | . | + | . | ID=gene:ENSG1;Name=GENE1;biotype=protein_coding;gene_id=ENSG1
1 | ensembl_havana | mRNA | 1000 | 3000 | . | + | . | ID=transcript:ENST1;Parent=gene:ENSG1;Name=GENE1-201;biotype=protein_coding
1 | ensembl_havana | exon | 1000 | 1200 | . | + | . | Parent=transcript:ENST1;Name=ENSE1;exon_id=ENSE1;rank=1
1 | ensembl_havana | five_prime_UTR | 1000 | 1099 | . | + | . | Parent=transcript:ENST1
1 | ensembl_havana | CDS | 1100 | 1200 | . | + | 0 | ID=CDS:ENSP1;Parent=transcript:ENST1;protein_id=ENSP1
1 | ensembl_havana | exon | 2000 | 2300 | . | + | . | Parent=transcript:ENST1;Name=ENSE2;exon_id=ENSE2;rank=2
1 | ensembl_havana | CDS | 2000 | 2300 | . | + | 1 | ID=CDS:ENSP1;Parent=transcript:ENST1;protein_id=ENSP1
1 | ensembl_havana | exon | 2800 | 3000 | . | + | . | Parent=transcript:ENST1;Name=ENSE3;exon_id=ENSE3;rank=3
1 | ensembl_havana | CDS | 2800 | 2900 | . | + | 0 | ID=CDS:ENSP1;Parent=transcript:ENST1;protein_id=ENSP1
1 | ensembl_havana | three_prime_UTR | 2901 | 3000 | . | + | . | Parent=transcript:ENST1
1 | havana | ncRNA_gene | 4000 | 4500 | . | - | . | ID=gene:ENSG2;Name=LNC1;biotype=lncRNA
1 | havana | lnc_RNA | 4000 | 4500 | . | - | . | ID=transcript:ENST2;Parent=gene:ENSG2;biotype=lncRNA
1 | havana | exon | 4000 | 4100 | . | - | . | Parent=transcript:ENST2;Name=ENSE4;rank=2
1 | havana | exon | 4400 | 4500 | . | - | . | Parent=transcript:ENST2;Name=ENSE5;rank=1
""")

# The Ensembl snippet as GTF: no gene/transcript lines, CDS without the stop codon (GTF convention).
A1 = 'gene_id "ENSG1"; transcript_id "ENST1"; gene_name "GENE1"; transcript_biotype "protein_coding";'
A2 = 'gene_id "ENSG2"; transcript_id "ENST2"; gene_name "LNC1"; transcript_biotype "lncRNA";'
GTF = _tsv(f"""
#!genome-build GRCh38
1 | ensembl_havana | exon | 1000 | 1200 | . | + | . | {A1} exon_number "1";
1 | ensembl_havana | five_prime_utr | 1000 | 1099 | . | + | . | {A1}
1 | ensembl_havana | CDS | 1100 | 1200 | . | + | 0 | {A1} exon_number "1";
1 | ensembl_havana | start_codon | 1100 | 1102 | . | + | 0 | {A1}
1 | ensembl_havana | exon | 2000 | 2300 | . | + | . | {A1} exon_number "2";
1 | ensembl_havana | CDS | 2000 | 2300 | . | + | 1 | {A1}
1 | ensembl_havana | exon | 2800 | 3000 | . | + | . | {A1} exon_number "3";
1 | ensembl_havana | CDS | 2800 | 2897 | . | + | 0 | {A1}
1 | ensembl_havana | stop_codon | 2898 | 2900 | . | + | 0 | {A1}
1 | ensembl_havana | three_prime_utr | 2901 | 3000 | . | + | . | {A1}
1 | havana | exon | 4400 | 4500 | . | - | . | {A2} exon_number "1";
1 | havana | exon | 4000 | 4100 | . | - | . | {A2} exon_number "2";
""")


def _parts(parts):
    return [(p.start, p.end, p.strand, p.phase) for p in parts]


def _write(tmp_path, name, text, newline="\n"):
    path = tmp_path / name
    path.write_text(text.replace("\n", newline), newline="")
    return path


def test_ncbi_gff3(tmp_path):
    a = load_annotation(_write(tmp_path, "ncbi.gff3", NCBI), contig_lengths={"chrT.1": 2000})
    tx = {t.gene_id: t for t in a.transcripts()}
    assert tx["gene-T1"].type == "mRNA"  # bacterial NCBI: CDS directly under the gene gets an mRNA
    assert _parts(tx["gene-T1"].exons) == [(100, 400, "+", None)]
    assert _parts(tx["gene-T1"].cds) == [(100, 400, "+", 0)]
    assert dict(a.rows("cds-WP_1.1")[0].attributes)["product"] == "ABC transporter, permease"
    assert tx["gene-T2"].type == "tRNA" and _parts(tx["gene-T2"].exons) == [(500, 572, "-", None)]
    # Minus-strand spliced mRNA: rows listed ascending in the file, read back 5'->3'.
    assert [(p.start, p.end) for p in tx["gene-T3"].exons] == [(1000, 1200), (800, 900), (600, 700)]
    assert _parts(tx["gene-T3"].cds) == [(1000, 1150, "-", 0), (800, 900, "-", 0), (650, 700, "-", 2)]
    assert tx["gene-T4"].type == "pseudogenic_transcript" and _parts(tx["gene-T4"].exons) == [(1300, 1400, "+", None)]
    # Origin-spanning (end 2100 > 2000 on an Is_circular contig): split at the origin, phase carried over.
    assert _parts(tx["gene-T5"].cds) == [(1900, 2000, "+", 0), (0, 100, "+", 2)]
    assert [(r.start, r.end) for r in a.rows("gene-T5")] == [(1900, 2000), (0, 100)]
    assert a.circular_seqids == {"chrT.1"}
    assert a.validate_structure() == []


def test_parts_directly_under_a_gene_get_one_transcript(tmp_path):
    text = _tsv("""
##gff-version 3
c | x | gene | 101 | 500 | . | - | . | ID=g
c | x | exon | 101 | 200 | . | - | . | Parent=g
c | x | three_prime_UTR | 101 | 150 | . | - | . | Parent=g
c | x | exon | 301 | 500 | . | - | . | Parent=g
""")
    a = load_annotation(_write(tmp_path, "g.gff3", text), contig_lengths={"c": 1000})
    (t,) = list(a.transcripts())
    assert t.type == "transcript" and t.gene_id == "g"
    assert [(r.start, r.end) for r in a.rows(t.id)] == [(100, 500)]  # overlapping UTR: still one row
    assert [(e.start, e.end) for e in t.exons] == [(300, 500), (100, 200)]
    assert a.validate_structure() == []


def test_ensembl_gff3_and_equivalent_gtf(tmp_path):
    gff = load_annotation(_write(tmp_path, "ens.gff3", ENSEMBL), contig_lengths={"1": 5000})
    gtf = load_annotation(_write(tmp_path, "ens.gtf", GTF), contig_lengths={"1": 5000})
    assert sniff_format(tmp_path / "ens.gtf") == "gtf" and sniff_format(tmp_path / "ens.gff3") == "gff3"
    g = {t.id.removeprefix("transcript:"): t for t in gff.transcripts()}
    t = {t.id: t for t in gtf.transcripts()}
    assert set(g) == set(t) == {"ENST1", "ENST2"}
    assert g["ENST1"].type == t["ENST1"].type == "mRNA"
    assert g["ENST2"].type == t["ENST2"].type == "lnc_RNA"
    expected_cds = [(1099, 1200, "+", 0), (1999, 2300, "+", 1), (2799, 2900, "+", 0)]
    assert _parts(g["ENST1"].cds) == _parts(t["ENST1"].cds) == expected_cds  # GTF stop codon added back
    for tid in g:
        assert _parts(g[tid].exons) == _parts(t[tid].exons)
    assert [(p.start, p.end) for p in g["ENST2"].exons] == [(4399, 4500), (3999, 4100)]
    # UTRs survive in both; GTF start/stop codons are kept as features.
    for ann in (gff, gtf):
        assert {f.type for f in ann.features} >= {"five_prime_UTR", "three_prime_UTR"}
    assert [(f.start, f.end) for f in gtf.by_type("stop_codon")] == [(2897, 2900)]
    assert [(r.start, r.end) for r in gtf.by_type("gene") if r.id == "ENSG1"] == [(999, 3000)]
    assert gff.validate_structure() == gtf.validate_structure() == []


def test_gtf_from_chloroplast_matches_genbank(tmp_path, genomes_dir):
    """Write part of the chloroplast as GTF (CDS minus stop codon) by hand; it must read back the same."""
    gb = read_genbank(genomes_dir / "NC_000932.gb").annotation
    chosen = [t for t in gb.transcripts() if not t.trans_spliced and t.exons[0].start < 60_000]
    lines = []
    for t in chosen:
        attrs = f'gene_id "{t.gene_id}"; transcript_id "{t.id}"; transcript_biotype "{t.type}";'
        for e in t.exons:
            lines.append(f"{e.seqid}\tGenBank\texon\t{e.start + 1}\t{e.end}\t.\t{e.strand}\t.\t{attrs}")
        cds = [list((p.start, p.end)) for p in t.cds]
        stop = []
        left = 3  # trim the stop codon from the 3' end, possibly across an intron
        for part, p in zip(reversed(cds), reversed(t.cds)):
            take = min(left, part[1] - part[0])
            if p.strand == "+":
                stop.append((part[1] - take, part[1]))
                part[1] -= take
            else:
                stop.append((part[0], part[0] + take))
                part[0] += take
            left -= take
            if not left:
                break
        for (s, e), p in zip(cds, t.cds):
            if e > s:
                lines.append(f"{p.seqid}\tGenBank\tCDS\t{s + 1}\t{e}\t.\t{p.strand}\t{p.phase}\t{attrs}")
        for s, e in stop:
            lines.append(f"{t.cds[0].seqid}\tGenBank\tstop_codon\t{s + 1}\t{e}\t.\t{t.cds[0].strand}\t0\t{attrs}")
    path = _write(tmp_path, "cp.gtf", "\n".join(lines) + "\n")
    got = {t.id: t for t in parse_gtf(path, contig_lengths={"NC_000932.1": 154478}).transcripts()}
    assert len(got) == len(chosen) > 30
    assert any(len(t.cds) > 1 for t in chosen)  # spliced CDS are part of the check
    for t in chosen:
        assert got[t.id].type == t.type
        assert _parts(got[t.id].exons) == _parts(t.exons), t.name
        assert _parts(got[t.id].cds) == _parts(t.cds), t.name


def test_crlf_and_gzip_read_the_same(tmp_path):
    lengths = {"chrT.1": 2000}
    lf = load_annotation(_write(tmp_path, "lf.gff3", NCBI), contig_lengths=lengths)
    crlf = load_annotation(_write(tmp_path, "crlf.gff3", NCBI, "\r\n"), contig_lengths=lengths)
    gz = tmp_path / "ncbi.gff3.gz"
    gz.write_bytes(gzip.compress(NCBI.encode()))
    assert crlf.features == lf.features == load_annotation(gz, contig_lengths=lengths).features
    gtf_crlf = load_annotation(_write(tmp_path, "crlf.gtf", GTF, "\r\n"), contig_lengths={"1": 5000})
    assert gtf_crlf.features == load_annotation(_write(tmp_path, "x.gtf", GTF), contig_lengths={"1": 5000}).features


@pytest.mark.parametrize("text", [NCBI, ENSEMBL])
def test_normalized_output_is_stable(tmp_path, text):
    lengths = {"chrT.1": 2000} if "chrT" in text else {"1": 5000}
    first = load_annotation(_write(tmp_path, "in.gff3", text), contig_lengths=lengths)
    write_normalized_gff3(first, tmp_path / "a.gff3", lengths)
    again = load_annotation(tmp_path / "a.gff3", contig_lengths=lengths)
    assert again.features == first.features
