# sae: the dense sample of one layer -> the dictionary (an SAE trained here, or loaded from sae.path) ->
# quality; then the fused pass over the whole genome -> sparse codes. sae.scope shared (the default): one
# dictionary for every genome of the run, trained once by train_dictionary on an equal token share of each
# genome's sample, in results/dictionaries/<model>-<layer>-<digest>/ (sae.sources.dictionary_name: runs with
# the same settings share it); sae.scope genome: train_sae per genome in results/<genome>/sae/. sae.source:
# load skips training. With sae.replicate, the twin from seed + 1 on the same rows trains in a job of its own
# (train_dictionary_replicate / train_sae_replicate); sae_quality compares the two decoders (seed agreement)
# and the initial one kept in dnalens_dictionary.safetensors (init cosine), per genome on that genome's
# held-out blocks, and dictionary_quality pools them when several genomes share one dictionary.
# encode_part reads every window through the model with the SAE on the model's device (`dnalens encode
# --model`, windows.shards parts; a shard the dense sample already holds is encoded from it rather than
# recomputed) and writes only sparse codes; they are gathered into results/<genome>/codes/ (hard links), a
# temp() output like the parts: the buffer holds the one kept copy.
import os

from dnalens.workflow_api import DICTIONARY_ROOT, dictionary_name


# The layer the SAE reads (sae.layer, else the first extracted layer), the sample's activations (a temp()
# directory, one sub-directory per layer), where the SAE is (loaded, shared or per genome), and whether SAE
# jobs ask for a GPU.
SAE_LAYER = config["sae"]["layer"] or config["extract"]["layers"][0]
SAE_ACTIVATIONS = "results/{genome}/activations"
SAE_LOADED = config["sae"]["path"] if config["sae"]["source"] == "load" else None
SAE_SHARED = SAE_LOADED is None and config["sae"]["scope"] == "shared"
DICTIONARY_DIR = f"{DICTIONARY_ROOT}/{dictionary_name(config, SAE_LAYER)}"
SAE_DIR = SAE_LOADED or (DICTIONARY_DIR if SAE_SHARED else "results/{genome}/sae")
_SAE_DEVICE = str(config["sae"]["device"])
SAE_GPU = int(_SAE_DEVICE.startswith("cuda") or (_SAE_DEVICE == "auto" and MODEL_WANTS_GPU))
SAE_REPLICATE = (
    None
    if SAE_LOADED or not config["sae"]["replicate"]
    else (f"{DICTIONARY_DIR}-replicate" if SAE_SHARED else "results/{genome}/sae_replicate")
)
# every genome's sample, for the shared dictionary's training and its pooled quality
ALL_SAMPLES = {
    "activations": expand(SAE_ACTIVATIONS, genome=GENOMES),
    "windows": expand(SAMPLE_BED, genome=GENOMES),
    "fasta": expand("results/{genome}/genome.fa", genome=GENOMES),
}
ALL_LAYER_DIRS = [f"{a}/{SAE_LAYER}" for a in ALL_SAMPLES["activations"]]
# one dictionary for several genomes (shared or loaded): its quality is also pooled over them
POOLED_QUALITY = ["results/summary/sae_quality.json"] if len(GENOMES) > 1 and "{genome}" not in SAE_DIR else []


rule train_dictionary:
    input:
        **ALL_SAMPLES,
    output:
        directory(DICTIONARY_DIR),
    # encoding, probing and every genome's report wait on it
    priority: 1
    params:
        activations=" ".join(shlex.quote(path) for path in ALL_LAYER_DIRS),
        genomes=" ".join(shlex.quote(genome) for genome in GENOMES),
        settings=settings_json("sae"),
        replicate=shlex.quote("--skip-replicate") if SAE_REPLICATE else "",
    log:
        "logs/dictionaries/train_dictionary.log",
    benchmark:
        "logs/dictionaries/train_dictionary.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=480,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-sae --activations {params.activations} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --genomes {params.genomes} --settings {params.settings} {params.replicate}"
        " --out {output:q} > {log:q} 2>&1"


rule train_dictionary_replicate:
    input:
        **ALL_SAMPLES,
    output:
        directory(f"{DICTIONARY_DIR}-replicate"),
    params:
        activations=" ".join(shlex.quote(path) for path in ALL_LAYER_DIRS),
        genomes=" ".join(shlex.quote(genome) for genome in GENOMES),
        settings=settings_json("sae"),
    log:
        "logs/dictionaries/train_dictionary_replicate.log",
    benchmark:
        "logs/dictionaries/train_dictionary_replicate.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=480,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-sae --activations {params.activations} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --genomes {params.genomes} --settings {params.settings} --as-replicate"
        " --out {output:q} > {log:q} 2>&1"


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
        gpu=max(MODEL_PASS_GPU, SAE_GPU),
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
        " --windows {input.windows:q} --fasta {input.fasta:q} --genomes {wildcards.genome:q} --model {params.model}"
        " --settings {params.settings} {params.replicate} --out {output:q} > {log:q} 2>&1"


rule dictionary_quality:
    input:
        **ALL_SAMPLES,
        sae=SAE_DIR,
        replicate=SAE_REPLICATE or [],
    output:
        "results/summary/sae_quality.json",
    params:
        activations=" ".join(shlex.quote(path) for path in ALL_LAYER_DIRS),
        genomes=" ".join(shlex.quote(genome) for genome in GENOMES),
        settings=settings_json("sae"),
        model=settings_json("model"),
        replicate=f"--replicate {shlex.quote(SAE_REPLICATE)}" if SAE_REPLICATE else "",
    log:
        "logs/summary/dictionary_quality.log",
    benchmark:
        "logs/summary/dictionary_quality.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sae-quality --sae {input.sae:q} --activations {params.activations} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --genomes {params.genomes} --model {params.model} --settings {params.settings}"
        " {params.replicate} --out {output:q} > {log:q} 2>&1"
