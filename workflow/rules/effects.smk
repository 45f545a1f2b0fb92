# effects: what a latent does (src/dnalens/effects/). After the probe stage, never after the report: each annotated
# latent's write a·d is removed from the SAE's layer wherever it fires on held-out windows, against matched
# unannotated latents and a same-norm random direction -> results/<genome>/effects/effects.tsv (+ .parquet) and
# the windows measured (effects/windows.bed). Causal models only. The rule exists whether or not
# effects.enabled, so `snakemake results/<genome>/effects/effects.tsv` runs it on demand.
EFFECTS = "results/{genome}/effects/effects.tsv"
EFFECTS_ON = bool(config["effects"]["enabled"])
# the switch only decides whether the run asks for it: toggling it must not rerun the ablations
_EFFECTS_SETTINGS = json.dumps({k: v for k, v in config["effects"].items() if k != "enabled"}, sort_keys=True)


rule effects:
    input:
        buffer="results/{genome}/buffer",
        probe="results/{genome}/probe",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        model=TRAINED_MODEL,
    output:
        table=EFFECTS,
        parquet="results/{genome}/effects/effects.parquet",
        windows="results/{genome}/effects/windows.bed",
    params:
        model=settings_json("model"),
        settings=_EFFECTS_SETTINGS,
    threads: 2
    log:
        "logs/{genome}/effects.log",
    benchmark:
        "logs/{genome}/effects.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=MODEL_PASS_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens effects --buffer {input.buffer:q} --probe {input.probe:q} --fasta {input.fasta:q}"
        " --model {params.model} --settings {params.settings:q} --threads {threads}"
        " --out {output.table:q} > {log:q} 2>&1"
