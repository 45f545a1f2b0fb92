# labels: prepared genome + windows -> per-nucleotide concept labels (results/<genome>/labels/), one BED6
# per concept (labels_bed/) and the concept summary (labels_summary.tsv, also inside labels/ as
# concept_summary.tsv; a file inside a directory() output cannot be another rule's input).
# Scattered like extraction: windows.shards parts (contiguous blocks of windows.bed rows), each a label
# store of its own (concepts are computed genome-wide in every part, so instance ids agree), gathered
# by `dnalens labels-merge` into one store, byte-identical to an unscattered run.

WINDOW_PARTS = int(config["windows"]["shards"])


rule labels_part:
    input:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        annotation="results/{genome}/annotation.gff3",
        windows="results/{genome}/windows.bed",
        info="results/{genome}/genome.json",
    output:
        temp(directory("results/{genome}/labels_parts/part-{part}")),
    wildcard_constraints:
        part=r"\d+",
    params:
        settings=settings_json("concepts"),
        parts=WINDOW_PARTS,
    log:
        "logs/{genome}/labels_part-{part}.log",
    benchmark:
        "logs/{genome}/labels_part-{part}.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens labels --fasta {input.fasta:q} --annotation {input.annotation:q} --windows {input.windows:q}"
        " --genome-info {input.info:q} --settings {params.settings} --shard {wildcards.part}/{params.parts}"
        " --out {output:q} > {log:q} 2>&1"


rule labels:
    input:
        parts=expand("results/{{genome}}/labels_parts/part-{part}", part=range(WINDOW_PARTS)),
    output:
        labels=directory("results/{genome}/labels"),
        bed=directory("results/{genome}/labels_bed"),
        summary="results/{genome}/labels_summary.tsv",
    log:
        "logs/{genome}/labels.log",
    benchmark:
        "logs/{genome}/labels.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens labels-merge {input.parts:q} --out {output.labels:q} --export-bed {output.bed:q}"
        " --summary {output.summary:q} > {log:q} 2>&1"
