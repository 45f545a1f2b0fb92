# sae_bench: SAE variants side by side (config section sae_bench; off while its variants and grid are empty).
# Each variant is a wildcard: sae_bench_train trains it on the run's sample (sae.scope shared: every genome's
# sample, one dictionary per variant; genome: one per variant and genome), from the layers the sample captured in
# its one pass of the model (every variant layer is in extract.layers: checked at parse time, with every other
# variant error, by workflow_api.sae_bench_plan). Per variant and genome: sae_bench_quality on the held-out blocks
# and on train rows (the rule reads only the latter), then the run's own encode -> buffer -> probe commands on the
# variant's codes (encoded from the stored sample where it holds the window: sae/fused.py). The gather
# (rule sae_bench, `dnalens sae-bench`) writes results/sae_bench/sae_bench.tsv and the rest, choice.json (the
# declared rule), chosen_sae.yaml (the choice as a config file: add it after the run's config to encode, probe and
# report with the chosen dictionary) and report.html. Layout: dnalens.sae.bench_plan.LAYOUT.
import os
import re

from dnalens.workflow_api import SAE_BENCH_LAYOUT, SAE_BENCH_OUTPUTS, sae_bench_plan

SAE_BENCH = sae_bench_plan(config, workflow.configfiles)
# what rule all adds (common.smk final_outputs): the sweep's tables and page, only when a sweep is configured
SAE_BENCH_TARGETS = list(SAE_BENCH_OUTPUTS.values()) if SAE_BENCH.variants else []
BENCH_DICTIONARY = SAE_BENCH_LAYOUT["shared_dictionary" if SAE_BENCH.shared else "genome_dictionary"]
BENCH_TRAIN_LOG = "logs/sae_bench/{variant}" if SAE_BENCH.shared else "logs/sae_bench/{variant}/{genome}"
# the probe stage as the run sets it, with the linear and k-sparse probes on (the sweep's sparse-probing table)
BENCH_PROBE = {"probes": True, "sparse_probe_ks": config["probe"]["sparse_probe_ks"] or [1, 2, 5, 10, 20]}


wildcard_constraints:
    variant="|".join(re.escape(name) for name in SAE_BENCH.names) or "[^/]+",


rule sae_bench_train:
    input:
        activations=lambda w: expand(SAE_ACTIVATIONS, genome=SAE_BENCH.training_genomes(w.get("genome"), GENOMES)),
        windows=lambda w: expand(SAMPLE_BED, genome=SAE_BENCH.training_genomes(w.get("genome"), GENOMES)),
        fasta=lambda w: expand(
            "results/{genome}/genome.fa", genome=SAE_BENCH.training_genomes(w.get("genome"), GENOMES)
        ),
    output:
        directory(BENCH_DICTIONARY),
    params:
        activations=lambda w, input: " ".join(
            shlex.quote(f"{path}/{SAE_BENCH.variant(w.variant).layer}") for path in input.activations
        ),
        genomes=lambda w: " ".join(shlex.quote(g) for g in SAE_BENCH.training_genomes(w.get("genome"), GENOMES)),
        settings=lambda w: shlex.quote(SAE_BENCH.variant(w.variant).settings_json()),  # its sae:
    log:
        f"{BENCH_TRAIN_LOG}/train.log",
    benchmark:
        f"{BENCH_TRAIN_LOG}/train.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=480,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-sae --activations {params.activations} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --genomes {params.genomes} --settings {params.settings}"
        " --out {output:q} > {log:q} 2>&1"


rule sae_bench_quality:
    input:
        sae=lambda w: SAE_BENCH.dictionary(w.variant, w.genome),
        activations=SAE_ACTIVATIONS,
        windows=SAMPLE_BED,
        fasta="results/{genome}/genome.fa",
    output:
        SAE_BENCH_LAYOUT["quality"],
    wildcard_constraints:
        rows="held_out|train",
    params:
        activations=lambda w: shlex.quote(
            f"{SAE_ACTIVATIONS.format(genome=w.genome)}/{SAE_BENCH.variant(w.variant).layer}"
        ),
        settings=lambda w: shlex.quote(SAE_BENCH.variant(w.variant).settings_json()),  # its sae:
        model=settings_json("model"),
    log:
        "logs/sae_bench/{variant}/{genome}/quality-{rows}.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/quality-{rows}.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=SAE_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sae-quality --sae {input.sae:q} --activations {params.activations} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --genomes {wildcards.genome:q} --model {params.model} --settings {params.settings}"
        " --measured-on {wildcards.rows:q} --out {output:q} > {log:q} 2>&1"


# One job per variant and genome (a sweep is many jobs already): where the sample holds the whole genome (small
# genomes) every shard is encoded from it and the model is not loaded at all.
rule sae_bench_encode:
    input:
        sae=lambda w: SAE_BENCH.dictionary(w.variant, w.genome),
        activations=SAE_ACTIVATIONS,
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        windows="results/{genome}/windows.bed",
        model=TRAINED_MODEL,
    output:
        temp(directory(SAE_BENCH_LAYOUT["codes"])),
    params:
        model=settings_json("model"),
        extract=settings_json("extract"),
        settings=lambda w: shlex.quote(SAE_BENCH.variant(w.variant).settings_json()),  # its sae:
        layer=lambda w: shlex.quote(SAE_BENCH.variant(w.variant).layer),
        activations=lambda w: shlex.quote(
            f"{SAE_ACTIVATIONS.format(genome=w.genome)}/{SAE_BENCH.variant(w.variant).layer}"
        ),
    log:
        "logs/sae_bench/{variant}/{genome}/encode.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/encode.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=240,
        gpu=max(MODEL_PASS_GPU, SAE_GPU),
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens encode --fasta {input.fasta:q} --windows {input.windows:q} --model {params.model}"
        " --sae {input.sae:q} --layer {params.layer} --settings {params.settings} --extract-settings {params.extract}"
        " --activations {params.activations} --out {output:q} > {log:q} 2>&1"


rule sae_bench_buffer:
    input:
        codes=SAE_BENCH_LAYOUT["codes"],
        labels="results/{genome}/labels",
        activations=SAE_ACTIVATIONS if config["buffer"]["dense_twin"] else [],
    output:
        temp(directory(SAE_BENCH_LAYOUT["buffer"])),
    params:
        activations=lambda w: shlex.quote(
            f"{SAE_ACTIVATIONS.format(genome=w.genome)}/{SAE_BENCH.variant(w.variant).layer}"
        ),  # read only with buffer.dense_twin
        settings=settings_json("buffer"),
    log:
        "logs/sae_bench/{variant}/{genome}/buffer.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/buffer.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens buffer --codes {input.codes:q} --labels {input.labels:q} --activations {params.activations}"
        " --genome {wildcards.genome:q} --settings {params.settings} --out {output:q} > {log:q} 2>&1"


rule sae_bench_probe_part:
    input:
        buffer=SAE_BENCH_LAYOUT["buffer"],
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
    output:
        temp(SAE_BENCH_LAYOUT["probe_part"]),
    wildcard_constraints:
        part=r"\d+",
    params:
        settings=settings_json("probe", **BENCH_PROBE),
        parts=PROBE_PARTS,
    log:
        "logs/sae_bench/{variant}/{genome}/probe_part-{part}.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/probe_part-{part}.benchmark.tsv"
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


rule sae_bench_probe_linear:
    input:
        buffer=SAE_BENCH_LAYOUT["buffer"],
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        activations=SAE_ACTIVATIONS,
    output:
        temp(directory(SAE_BENCH_LAYOUT["probe_linear"])),
    params:
        settings=settings_json("probe", **BENCH_PROBE),
        activations=lambda w: shlex.quote(
            f"{SAE_ACTIVATIONS.format(genome=w.genome)}/{SAE_BENCH.variant(w.variant).layer}"
        ),
    log:
        "logs/sae_bench/{variant}/{genome}/probe_linear.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/probe_linear.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=120,
        gpu=0,  # numpy L-BFGS probes
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe --buffer {input.buffer:q} --labels {input.labels:q} --fasta {input.fasta:q}"
        " --activations {params.activations} --settings {params.settings} --linear-out {output:q} > {log:q} 2>&1"


rule sae_bench_probe:
    input:
        parts=expand(SAE_BENCH_LAYOUT["probe_part"], part=range(PROBE_PARTS), allow_missing=True),
        linear=SAE_BENCH_LAYOUT["probe_linear"],
        buffer=SAE_BENCH_LAYOUT["buffer"],
        labels="results/{genome}/labels",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
    output:
        directory(SAE_BENCH_LAYOUT["probe"]),
    params:
        settings=settings_json("probe", **BENCH_PROBE),
    log:
        "logs/sae_bench/{variant}/{genome}/probe.log",
    benchmark:
        "logs/sae_bench/{variant}/{genome}/probe.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=60,
        gpu=0,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens probe-merge {input.parts:q} --linear {input.linear:q} --buffer {input.buffer:q}"
        " --labels {input.labels:q} --fasta {input.fasta:q} --settings {params.settings} --out {output:q}"
        " > {log:q} 2>&1"


rule sae_bench:
    input:
        quality=expand(
            SAE_BENCH_LAYOUT["quality"], variant=SAE_BENCH.names, genome=GENOMES, rows=["held_out", "train"]
        ),
        probe=expand(SAE_BENCH_LAYOUT["probe"], variant=SAE_BENCH.names, genome=GENOMES),
    output:
        table=report(
            SAE_BENCH_OUTPUTS["table"],
            caption="../report/sae_bench.rst",
            category="SAE Bench",
            labels={"output": "sae_bench.tsv"},
        ),
        parquet=SAE_BENCH_OUTPUTS["parquet"],
        genomes=SAE_BENCH_OUTPUTS["genomes"],
        sparse_probing=SAE_BENCH_OUTPUTS["sparse_probing"],
        concepts=SAE_BENCH_OUTPUTS["concepts"],
        choice=SAE_BENCH_OUTPUTS["choice"],
        # the choice as a config file a run adds to use it (--configfile <config> chosen_sae.yaml)
        adopt=SAE_BENCH_OUTPUTS["adopt"],
        html=report(
            SAE_BENCH_OUTPUTS["report"],
            caption="../report/sae_bench_html.rst",
            category="SAE Bench",
            labels={"output": "report.html"},
        ),
    params:
        bench=settings_json("sae_bench"),
        sae=settings_json("sae"),
        layer=shlex.quote(SAE_LAYER),
        genomes=" ".join(shlex.quote(genome) for genome in GENOMES),
        root=lambda w, output: shlex.quote(os.path.dirname(output.table)),
    log:
        "logs/sae_bench/sae_bench.log",
    benchmark:
        "logs/sae_bench/sae_bench.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens sae-bench --bench {params.bench} --sae {params.sae} --layer {params.layer} --genomes {params.genomes}"
        " --root {params.root} --out {params.root} > {log:q} 2>&1"
