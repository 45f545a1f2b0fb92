# buffer: sparse codes + label store (+ dense activations if buffer.dense_twin: the sample must then be the whole
# genome) -> results/<genome>/buffer/, the one kept copy of the codes (row-major; the feature-major view is
# built where it is read).


rule buffer:
    input:
        codes="results/{genome}/codes",
        labels="results/{genome}/labels",
        activations=SAE_ACTIVATIONS if config["buffer"]["dense_twin"] else [],
    output:
        directory("results/{genome}/buffer"),
    params:
        activations=f"{SAE_ACTIVATIONS}/{SAE_LAYER}",  # read only with buffer.dense_twin
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
