# rehearsal: a seeded random SAE in Goodfire's Evo 2 .pt shape, written at run time (never committed, 512 MB
# at Evo 2 7B width). Only a config whose sae.path points under results/standin_sae/ uses it
# (config/genomes/evo2_rehearsal.yaml); d_in is the model's width at sae.layer, d_sae and k come from the name.


rule standin_sae:
    output:
        "results/standin_sae/{name}.pt",
    params:
        model=settings_json("model"),
        layer=SAE_LAYER,
        seed=config["sae"]["seed"],
    log:
        "logs/standin_sae/{name}.log",
    benchmark:
        "logs/standin_sae/{name}.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens standin-sae --model {params.model} --layer {params.layer:q} --seed {params.seed:q}"
        " --out {output:q} > {log:q} 2>&1"
