# probe: buffer (+ label store; FASTA for sequence baselines and the exact-repeat check; the activation shards
# of the dense sample, for the dense probe when the buffer has no dense twin: only when the sample is the whole
# genome, else the probe logs why not) -> results/<genome>/probe/ tables.
# With probe.device: cuda the per-feature pass asks for a GPU (resources gpu=1; a cluster profile may override it).
PROBE_GPU = int(str(config["probe"]["device"]).startswith("cuda"))
PROBE_PARTS = int(config["probe"]["parts"])


# Scatter: the per-feature pass (AUROC, shift-null draws, domain F1, controls) in probe.parts runs of whole
# feature blocks (src/dnalens/probe/parts.py); probe_linear fits the linear probes beside them; probe gathers
# both into the directory a single job would write, byte for byte.
rule probe_part:
    input:
        buffer="results/{genome}/buffer",
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
    output:
        temp("results/{genome}/probe_parts/part-{part}.npz"),
    wildcard_constraints:
        part=r"\d+",
    params:
        settings=settings_json("probe"),
        parts=PROBE_PARTS,
    log:
        "logs/{genome}/probe_part-{part}.log",
    benchmark:
        "logs/{genome}/probe_part-{part}.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=PROBE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe --buffer {input.buffer:q} --labels {input.labels:q} --fasta {input.fasta:q}"
        " --settings {params.settings} --part {wildcards.part} --parts {params.parts} --part-out {output:q}"
        " > {log:q} 2>&1"


# The longest single job of the stage on a small genome: started first.
rule probe_linear:
    input:
        buffer="results/{genome}/buffer",
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        activations=SAE_ACTIVATIONS,
    output:
        temp(directory("results/{genome}/probe_parts/linear")),
    params:
        settings=settings_json("probe"),
        activations=sae_layer_dir,
    priority: 1
    log:
        "logs/{genome}/probe_linear.log",
    benchmark:
        "logs/{genome}/probe_linear.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=0,  # numpy L-BFGS probes
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe --buffer {input.buffer:q} --labels {input.labels:q} --fasta {input.fasta:q}"
        " --activations {params.activations:q} --settings {params.settings} --linear-out {output:q} > {log:q} 2>&1"


rule probe:
    input:
        parts=expand("results/{{genome}}/probe_parts/part-{part}.npz", part=range(PROBE_PARTS)),
        linear="results/{genome}/probe_parts/linear",
        buffer="results/{genome}/buffer",
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
    output:
        directory("results/{genome}/probe"),
    params:
        settings=settings_json("probe"),
    log:
        "logs/{genome}/probe.log",
    benchmark:
        "logs/{genome}/probe.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=60,
        gpu=0,  # pools and writes; the AUROC kernels ran in the parts
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe-merge {input.parts:q} --linear {input.linear:q} --buffer {input.buffer:q}"
        " --labels {input.labels:q} --fasta {input.fasta:q} --settings {params.settings} --out {output:q}"
        " > {log:q} 2>&1"
