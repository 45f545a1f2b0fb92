"""pyrodigal prediction, judged against the curated plasmid annotation."""

from __future__ import annotations

from genome_helpers import cds_sequence, translate

from dnalens.genome.genbank import read_genbank
from dnalens.genome.predict import predict_genes


def test_plasmid_prediction_finds_the_curated_genes(genomes_dir):
    records = read_genbank(genomes_dir / "NC_005816.gb")
    genome = dict(records.sequences)
    predicted = predict_genes(genome, 11, circular=records.circular)  # 9.6 kb -> metagenomic mode
    tx = list(predicted.transcripts())
    assert tx and all(t.type == "mRNA" and t.gene_id and len(t.exons) == 1 for t in tx)
    assert {f.attr("prediction") for f in predicted.by_type("gene")} == {"pyrodigal-meta"}

    # Same stop codon (3' end) and strand as the curated CDS for most genes.
    def three_prime(parts):
        last = parts[-1]
        return (last.end if last.strand == "+" else last.start, last.strand)

    curated = {three_prime(t.cds) for t in records.annotation.transcripts() if t.cds}
    found = {three_prime(t.cds) for t in tx}
    assert len(curated) == 10
    assert len(curated & found) >= 8
    # Complete predicted genes translate without internal stops and end in one.
    for t in tx:
        if t.cds[0].phase == 0 and predicted.rows(t.gene_id)[0].attr("partial") == "00":
            protein = translate(cds_sequence(genome, t.cds))
            assert protein.endswith("*") and "*" not in protein[:-1]
    assert predicted.genetic_code == 11
    assert predicted.validate_structure() == []


def test_predicted_cds_claims_no_product(genomes_dir):
    """No homology search runs, so no predicted gene may read "hypothetical protein" (or any other product)."""
    records = read_genbank(genomes_dir / "NC_005816.gb")
    predicted = predict_genes(dict(records.sequences), 11, circular=records.circular, rna=False)
    coding = predicted.by_type("CDS") + predicted.by_type("gene")
    assert coding and {f.attr("product") for f in coding} == {"unknown (pyrodigal)"}
