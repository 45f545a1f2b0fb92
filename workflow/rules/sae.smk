# sae: activations of one layer -> SAE (trained here, or loaded from sae.path) -> sparse codes + quality.
# One SAE per genome by default (see config/README.md, "sae"); sae.source: load skips train_sae.
# train_sae also trains a replicate from seed + 1 (sae.replicate, twice the time) and keeps its decoder and
# the initial one in sae/dnalens_dictionary.safetensors: sae_quality.json's seed agreement and init cosine.
# Encoding is scattered over the extract stage's parts (windows.shards blocks of activation shards)
# and gathered into results/<genome>/codes/ (hard links), which buffer reads.
import os


# The layer the SAE reads (sae.layer, else the first extracted layer; its manifest.json marks a finished
# extraction), the SAE for sae.source: load, and whether SAE jobs ask the cluster for a GPU.
SAE_LAYER = config["sae"]["layer"] or config["extract"]["layers"][0]
SAE_MANIFEST = f"results/{{genome}}/activations/{SAE_LAYER}/manifest.json"
SAE_LOADED = config["sae"]["path"] if config["sae"]["source"] == "load" else None
SAE_DIR = SAE_LOADED or "results/{genome}/sae"
_SAE_DEVICE = str(config["sae"]["device"])
SAE_GPU = int(_SAE_DEVICE.startswith("cuda") or (_SAE_DEVICE == "auto" and MODEL_WANTS_GPU))


rule train_sae:
    input:
        manifest=SAE_MANIFEST,
        windows="results/{genome}/windows.bed",
        fasta="results/{genome}/genome.fa",
    output:
        directory("results/{genome}/sae"),
    params:
        activations=lambda wildcards, input: os.path.dirname(input.manifest),
        settings=settings_json("sae"),
    log:
        "logs/{genome}/train_sae.log",
    benchmark:
        "logs/{genome}/train_sae.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=480,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-sae --activations {params.activations:q} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --settings {params.settings} --out {output:q} > {log:q} 2>&1"


rule encode_part:
    input:
        sae=SAE_DIR,
        manifest=SAE_MANIFEST,
        windows="results/{genome}/windows.bed",
        fasta="results/{genome}/genome.fa",
    output:
        temp(directory("results/{genome}/codes_parts/part-{part}")),
    wildcard_constraints:
        part=r"\d+",
    params:
        activations=lambda wildcards, input: os.path.dirname(input.manifest),
        settings=settings_json("sae"),
        parts=WINDOW_PARTS,
    log:
        "logs/{genome}/encode_part-{part}.log",
    benchmark:
        "logs/{genome}/encode_part-{part}.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=240,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens encode --sae {input.sae:q} --activations {params.activations:q} --settings {params.settings}"
        " --windows {input.windows:q} --fasta {input.fasta:q}"
        " --part {wildcards.part} --parts {params.parts} --out {output:q} > {log:q} 2>&1"


# Gathers the parts by hard links (no second copy of the codes): cheap enough for the submit host.
localrules:
    encode,


rule encode:
    input:
        parts=expand("results/{{genome}}/codes_parts/part-{part}", part=range(WINDOW_PARTS)),
        manifest=SAE_MANIFEST,
    output:
        directory("results/{genome}/codes"),
    params:
        activations=lambda wildcards, input: os.path.dirname(input.manifest),
    log:
        "logs/{genome}/encode.log",
    benchmark:
        "logs/{genome}/encode.benchmark.tsv"
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens encode-merge {input.parts:q} --activations {params.activations:q} --out {output:q} > {log:q} 2>&1"


rule sae_quality:
    input:
        sae=SAE_DIR,
        manifest=SAE_MANIFEST,
        windows="results/{genome}/windows.bed",
        fasta="results/{genome}/genome.fa",
    output:
        "results/{genome}/sae_quality.json",
    params:
        activations=lambda wildcards, input: os.path.dirname(input.manifest),
        settings=settings_json("sae"),
        model=settings_json("model"),
    log:
        "logs/{genome}/sae_quality.log",
    benchmark:
        "logs/{genome}/sae_quality.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sae-quality --sae {input.sae:q} --activations {params.activations:q}"
        " --windows {input.windows:q} --fasta {input.fasta:q} --model {params.model}"
        " --settings {params.settings} --out {output:q} > {log:q} 2>&1"
