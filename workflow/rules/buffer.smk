# buffer: sparse codes + label store (+ dense activations if buffer.dense_twin) -> results/<genome>/buffer/.


rule buffer:
    input:
        codes="results/{genome}/codes",
        labels="results/{genome}/labels",
        manifest=SAE_MANIFEST,
    output:
        directory("results/{genome}/buffer"),
    params:
        activations=lambda wildcards, input: os.path.dirname(input.manifest),
        settings=settings_json("buffer"),
    log:
        "logs/{genome}/buffer.log",
    benchmark:
        "logs/{genome}/buffer.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens buffer --codes {input.codes:q} --labels {input.labels:q} --activations {params.activations:q}"
        " --genome {wildcards.genome:q} --settings {params.settings} --out {output:q} > {log:q} 2>&1"
