# sae: the dense sample of one layer -> SAE (trained here, or loaded from sae.path) -> quality; then the fused
# pass over the whole genome -> sparse codes. One SAE per genome by default (see config/README.md, "sae");
# sae.source: load skips train_sae. With sae.replicate, train_sae_replicate trains the twin from seed + 1 on
# the same rows in a job of its own, beside train_sae (nothing downstream but sae_quality waits for it);
# sae_quality compares the two decoders (seed agreement) and the initial one kept in
# sae/dnalens_dictionary.safetensors (init cosine). encode_part reads every window through the model with the SAE on the model's
# device (`dnalens encode --model`, windows.shards parts; a shard the dense sample already holds is encoded
# from it rather than recomputed) and writes only sparse codes; they are gathered into
# results/<genome>/codes/ (hard links), a temp() output like the parts: the buffer holds the one kept copy.
import os


# The layer the SAE reads (sae.layer, else the first extracted layer), the sample's activations (a temp()
# directory, one sub-directory per layer), the SAE for sae.source: load, and whether SAE jobs ask for a GPU.
SAE_LAYER = config["sae"]["layer"] or config["extract"]["layers"][0]
SAE_ACTIVATIONS = "results/{genome}/activations"
SAE_LOADED = config["sae"]["path"] if config["sae"]["source"] == "load" else None
SAE_DIR = SAE_LOADED or "results/{genome}/sae"
_SAE_DEVICE = str(config["sae"]["device"])
SAE_GPU = int(_SAE_DEVICE.startswith("cuda") or (_SAE_DEVICE == "auto" and MODEL_WANTS_GPU))
SAE_REPLICATE = "results/{genome}/sae_replicate" if config["sae"]["replicate"] and not SAE_LOADED else None


rule train_sae:
    input:
        activations=SAE_ACTIVATIONS,
        windows=SAMPLE_BED,
        fasta="results/{genome}/genome.fa",
    output:
        directory("results/{genome}/sae"),
    # before the replicates and the other genome's jobs: encoding, probing and the report wait on it
    priority: 1
    params:
        activations=sae_layer_dir,
        settings=settings_json("sae"),
        replicate=shlex.quote("--skip-replicate") if SAE_REPLICATE else "",
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
        " --fasta {input.fasta:q} --settings {params.settings} {params.replicate} --out {output:q} > {log:q} 2>&1"


rule train_sae_replicate:
    input:
        activations=SAE_ACTIVATIONS,
        windows=SAMPLE_BED,
        fasta="results/{genome}/genome.fa",
    output:
        directory("results/{genome}/sae_replicate"),
    params:
        activations=sae_layer_dir,
        settings=settings_json("sae"),
    log:
        "logs/{genome}/train_sae_replicate.log",
    benchmark:
        "logs/{genome}/train_sae_replicate.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=480,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-sae --activations {params.activations:q} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --settings {params.settings} --as-replicate --out {output:q} > {log:q} 2>&1"


rule encode_part:
    input:
        sae=SAE_DIR,
        activations=SAE_ACTIVATIONS,
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        windows="results/{genome}/windows.bed",
        model=TRAINED_MODEL,
    output:
        temp(directory("results/{genome}/codes_parts/part-{part}")),
    wildcard_constraints:
        part=r"\d+",
    params:
        model=settings_json("model"),
        settings=settings_json("extract"),
        sae=settings_json("sae"),
        layer=SAE_LAYER,
        activations=sae_layer_dir,
        parts=WINDOW_PARTS,
    log:
        "logs/{genome}/encode_part-{part}.log",
    benchmark:
        "logs/{genome}/encode_part-{part}.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=240,
        gpu=max(EXTRACT_GPU, SAE_GPU),
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens encode --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --sae {input.sae:q} --layer {params.layer:q} --settings {params.sae} --extract-settings {params.settings}"
        " --activations {params.activations:q}"
        " --part {wildcards.part} --parts {params.parts} --out {output:q} > {log:q} 2>&1"


# Gathers the parts by hard links (no second copy of the codes): cheap enough for the submit host.
localrules:
    encode,


rule encode:
    input:
        parts=expand("results/{{genome}}/codes_parts/part-{part}", part=range(WINDOW_PARTS)),
    output:
        temp(directory("results/{genome}/codes")),
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
        "dnalens encode-merge {input.parts:q} --out {output:q} > {log:q} 2>&1"


rule sae_quality:
    input:
        sae=SAE_DIR,
        replicate=SAE_REPLICATE or [],
        activations=SAE_ACTIVATIONS,
        windows=SAMPLE_BED,
        fasta="results/{genome}/genome.fa",
    output:
        "results/{genome}/sae_quality.json",
    params:
        activations=sae_layer_dir,
        settings=settings_json("sae"),
        model=settings_json("model"),
        replicate=f"--replicate {shlex.quote(SAE_REPLICATE)}" if SAE_REPLICATE else "",
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
        " --settings {params.settings} {params.replicate} --out {output:q} > {log:q} 2>&1"
