# prepare: one genome config entry -> indexed FASTA, normalised GFF3, chrom.sizes, genome.json.
# Inputs are the genome's local files, or their downloads (fetch.smk) when given as URLs.
from dnalens.workflow_api import local_sources


rule prepare:
    input:
        unpack(
            lambda wildcards: local_sources(
                genome_spec(wildcards), f"results/{wildcards.genome}/downloads"
            )
        ),
    output:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        annotation="results/{genome}/annotation.gff3",
        sizes="results/{genome}/chrom.sizes",
        info="results/{genome}/genome.json",
    params:
        spec=genome_settings,
        outdir=lambda wildcards: f"results/{wildcards.genome}",
        downloads=lambda wildcards: f"results/{wildcards.genome}/downloads",
    log:
        "logs/{genome}/prepare.log",
    benchmark:
        "logs/{genome}/prepare.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens prepare --name {wildcards.genome:q} --genome-settings {params.spec}"
        " --outdir {params.outdir:q} --downloads {params.downloads:q} > {log:q} 2>&1"
