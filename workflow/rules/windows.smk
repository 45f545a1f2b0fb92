# windows: prepared genome -> results/<genome>/windows.bed (BED6, one line per window and strand).


rule windows:
    input:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        annotation="results/{genome}/annotation.gff3",
        info="results/{genome}/genome.json",
    output:
        "results/{genome}/windows.bed",
    params:
        settings=settings_json("windows"),
    log:
        "logs/{genome}/windows.log",
    benchmark:
        "logs/{genome}/windows.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens windows --fasta {input.fasta:q} --genome-info {input.info:q}"
        " --annotation {input.annotation:q} --settings {params.settings} --out {output:q} > {log:q} 2>&1"
