# extract: windows -> model (nnsight capture) -> float16 activation shards, scattered over windows.shards
# parts and gathered into one manifest.json per layer (results/<genome>/activations/<layer>/).
# Downstream rules should depend on the manifest: the shards themselves are not declared outputs, so a
# killed part resumes (Snakemake would delete a declared directory() output before rerunning).
import os

EXTRACT_LAYERS = config["extract"]["layers"]
EXTRACT_PARTS = int(config["windows"]["shards"])
EXTRACT_GPU = int(MODEL_WANTS_GPU)
# A tiny model under results/models/ is built by rule train_model first.
_MODEL_PATH = str(config["model"]["path"] or "").rstrip("/")
TRAINED_MODEL = (
    [f"{_MODEL_PATH}/model.safetensors"]
    if config["model"]["family"] == "tiny" and _MODEL_PATH.startswith("results/models/")
    else []
)


rule extract_part:
    input:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        windows="results/{genome}/windows.bed",
        model=TRAINED_MODEL,
    output:
        "results/{genome}/activations/parts/part-{part}.json",
    wildcard_constraints:
        part=r"\d+",
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        out=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
        parts=EXTRACT_PARTS,
    log:
        "logs/{genome}/extract_part-{part}.log",
    benchmark:
        "logs/{genome}/extract_part-{part}.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=EXTRACT_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens extract --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --settings {params.settings} --out {params.out:q} --part {wildcards.part} --parts {params.parts}"
        " --done {output:q} > {log:q} 2>&1"


rule extract:
    input:
        parts=expand("results/{{genome}}/activations/parts/part-{part}.json", part=range(EXTRACT_PARTS)),
        fasta="results/{genome}/genome.fa",
        windows="results/{genome}/windows.bed",
    output:
        expand("results/{{genome}}/activations/{layer}/manifest.json", layer=EXTRACT_LAYERS),
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        out=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
    log:
        "logs/{genome}/extract.log",
    benchmark:
        "logs/{genome}/extract.benchmark.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens extract --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --settings {params.settings} --out {params.out:q} --finalize-only > {log:q} 2>&1"
