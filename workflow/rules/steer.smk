# steer: steered generation (src/dnalens/steer/). From held-out windows (the probe stage's test blocks) the model
# samples steer.length new bases with a latent's decoder direction written into the SAE's layer (or the latent
# clamped), at each strength of steer.strengths, with unsteered and random-direction controls from the same
# seeds; each sequence is read out as biology -> results/<genome>/effects/steer.tsv (+ .parquet, steer.fa,
# steer.json) and one figure per steered latent in effects/steer_figures/. Autoregressive models only.
# The rule exists either way; steer.enabled decides whether rule all (and the report) asks for it.
STEER_TABLE = "results/{genome}/effects/steer.tsv"
STEER_ON = bool(config["steer"]["enabled"])
# the switch only decides whether the run asks for it: toggling it must not rerun the generation
_STEER_SETTINGS = json.dumps({k: v for k, v in config["steer"].items() if k != "enabled"}, sort_keys=True)


rule steer:
    input:
        buffer="results/{genome}/buffer",
        probe="results/{genome}/probe",
        windows="results/{genome}/windows.bed",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        model=TRAINED_MODEL,
    output:
        table=STEER_TABLE,
        parquet="results/{genome}/effects/steer.parquet",
        fasta="results/{genome}/effects/steer.fa",
        summary="results/{genome}/effects/steer.json",
        figures=directory("results/{genome}/effects/steer_figures"),
    params:
        model=settings_json("model"),
        settings=_STEER_SETTINGS,
    log:
        "logs/{genome}/steer.log",
    benchmark:
        "logs/{genome}/steer.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=MODEL_PASS_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens steer --buffer {input.buffer:q} --probe {input.probe:q} --windows {input.windows:q}"
        " --fasta {input.fasta:q} --model {params.model} --settings {params.settings:q}"
        " --out {output.table:q} --figures {output.figures:q} > {log:q} 2>&1"
