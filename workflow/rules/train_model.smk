# train_model: training genomes -> results/models/<name>/ (model.safetensors + config.json), the tiny
# Evo 2-style model. Only built when model.path points under results/models/ (the demo uses the bundled
# checkpoint). Resumable: <out>/.resume/ is not a declared output, so a killed run continues there.
# Runs on CUDA when visible (training.device/dtype). With training.max_minutes a run may stop before
# training.steps (the outputs then hold that checkpoint): rerun with --forcerun train_model to continue.
# Continuing another directory's run (e.g. finishing the bundled checkpoint's schedule) is a CLI step:
# `dnalens train-model --resume-from resources/models/dnalens-tiny-bacteria --out results/models/<name>`.
import os


rule train_model:
    input:
        config["training"]["genomes"],
    output:
        weights="results/models/{model}/model.safetensors",
        config="results/models/{model}/config.json",
    params:
        settings=settings_json("training"),
        out=lambda wildcards, output: os.path.dirname(output.weights),
    threads: int(config["training"]["threads"])
    log:
        "logs/models/{model}/train_model.log",
    benchmark:
        "logs/models/{model}/train_model.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=720,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens train-model --settings {params.settings} --out {params.out:q} > {log:q} 2>&1"
