# sample: the SAE-training sample only. sample_windows picks seeded windows spread over the genome (sized by
# sae.tokens, extract.sample_coverage), sample_part captures them (nnsight) into float16 shards under
# results/<genome>/sample/<layer>/ (resumable: the shards are not declared outputs, so a killed part resumes),
# and the gather (rule sample) moves the finished layers to results/<genome>/activations/, a temp() output:
# dense activations leave the disk once train_sae(_replicate), sae_quality and probe_linear have read them. The
# whole genome is read by encode_part (sae.smk): model and SAE fused on the model's device, sparse codes only.
# The config section stays `extract:` (its keys also drive the encode pass).
import os

SAMPLE_PARTS = int(config["windows"]["shards"])
MODEL_PASS_GPU = int(MODEL_WANTS_GPU)  # GPUs of a model pass (also read by encode_part in sae.smk)
# A tiny model under results/models/ is built by rule train_model first.
_MODEL_PATH = str(config["model"]["path"] or "").rstrip("/")
TRAINED_MODEL = (
    [f"{_MODEL_PATH}/model.safetensors"]
    if config["model"]["family"] == "tiny" and _MODEL_PATH.startswith("results/models/")
    else []
)
SAMPLE_BED = "results/{genome}/sample/windows.bed"
# only the keys that size the sample: another sae.lr must not re-draw (and re-run) it
_SAMPLE_SAE = json.dumps({k: config["sae"][k] for k in ("tokens", "holdout_fraction", "strand_shared", "seed")})


localrules:
    sample_windows,


rule sample_windows:
    input:
        "results/{genome}/windows.bed",
    output:
        SAMPLE_BED,
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        sae=_SAMPLE_SAE,
    log:
        "logs/{genome}/sample_windows.log",
    benchmark:
        "logs/{genome}/sample_windows.benchmark.tsv"
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sample-windows --windows {input:q} --model {params.model} --settings {params.settings}"
        " --sae-settings {params.sae:q} --out {output:q} > {log:q} 2>&1"


rule sample_part:
    input:
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        windows=SAMPLE_BED,
        model=TRAINED_MODEL,
    output:
        temp("results/{genome}/sample/parts/part-{part}.json"),
    wildcard_constraints:
        part=r"\d+",
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        out=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
        parts=SAMPLE_PARTS,
    log:
        "logs/{genome}/sample_part-{part}.log",
    benchmark:
        "logs/{genome}/sample_part-{part}.benchmark.tsv"
    # the sample feeds train_sae, each genome's longest job: on few cores, run every genome's sample
    # before side branches or a first training, so the trainings start together (2-core demo, simulated
    # from its job times: ~1 min less; benchmarks/README.md)
    priority: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=MODEL_PASS_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sample --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --settings {params.settings} --out {params.out:q} --part {wildcards.part} --parts {params.parts}"
        " --done {output:q} > {log:q} 2>&1"


rule sample:
    input:
        parts=expand("results/{{genome}}/sample/parts/part-{part}.json", part=range(SAMPLE_PARTS)),
        fasta="results/{genome}/genome.fa",
        windows=SAMPLE_BED,
    output:
        temp(directory("results/{genome}/activations")),
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        out=lambda wildcards, input: os.path.dirname(os.path.dirname(input.parts[0])),
    log:
        "logs/{genome}/sample.log",
    benchmark:
        "logs/{genome}/sample.benchmark.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sample-merge --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --settings {params.settings} --out {params.out:q} --publish {output:q} > {log:q} 2>&1"
