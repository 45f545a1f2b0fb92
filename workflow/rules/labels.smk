# labels: prepared genome + windows -> per-nucleotide concept labels (results/<genome>/labels/), one BED6
# per concept (labels_bed/) and the concept summary (labels_summary.tsv, also inside labels/ as
# concept_summary.tsv; a file inside a directory() output cannot be another rule's input).


rule labels:
    input:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        annotation="results/{genome}/annotation.gff3",
        windows="results/{genome}/windows.bed",
        info="results/{genome}/genome.json",
    output:
        labels=directory("results/{genome}/labels"),
        bed=directory("results/{genome}/labels_bed"),
        summary="results/{genome}/labels_summary.tsv",
    params:
        settings=settings_json("concepts"),
    log:
        "logs/{genome}/labels.log",
    benchmark:
        "logs/{genome}/labels.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens labels --fasta {input.fasta:q} --annotation {input.annotation:q} --windows {input.windows:q}"
        " --genome-info {input.info:q} --settings {params.settings} --out {output.labels:q}"
        " --export-bed {output.bed:q} --summary {output.summary:q} > {log:q} 2>&1"
