# probe: buffer (+ label store; FASTA for sequence baselines and the exact-repeat check; the activation shards
# of the dense sample, for the dense probe when the buffer has no dense twin: only when the sample is the whole
# genome, else the probe logs why not) -> results/<genome>/probe/ tables.
# With probe.device: cuda the rule asks for a GPU (resources gpu=1; a cluster profile may override it).
PROBE_GPU = int(str(config["probe"]["device"]).startswith("cuda"))


rule probe:
    input:
        buffer="results/{genome}/buffer",
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        activations=SAE_ACTIVATIONS,
    output:
        directory("results/{genome}/probe"),
    params:
        settings=settings_json("probe"),
        activations=sae_layer_dir,
    log:
        "logs/{genome}/probe.log",
    benchmark:
        "logs/{genome}/probe.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=PROBE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe --buffer {input.buffer:q} --labels {input.labels:q} --fasta {input.fasta:q}"
        " --activations {params.activations:q} --settings {params.settings} --out {output:q} > {log:q} 2>&1"
