# Inputs given as http(s) URLs are downloaded once into results/<genome>/downloads/<role>/<file>.
# Local paths never go through this rule. On clusters without internet on compute nodes, run
# `snakemake --until fetch` on the login node first (the rule is localrule).
from dnalens.workflow_api import SOURCE_ROLES


localrules:
    fetch,


rule fetch:
    wildcard_constraints:
        role="|".join(SOURCE_ROLES),
        filename="[^/]+",
    output:
        "results/{genome}/downloads/{role}/{filename}",
    params:
        url=lambda wildcards: genome_spec(wildcards)[wildcards.role],
    log:
        "logs/{genome}/fetch_{role}_{filename}.log",
    benchmark:
        "logs/{genome}/fetch_{role}_{filename}.benchmark.tsv"
    resources:
        mem_mb=500,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens fetch --url {params.url:q} --out {output:q} > {log:q} 2>&1"
