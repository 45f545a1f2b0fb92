# Shared helpers (genome lookup, per-stage settings, final targets). No torch import here.
# `config` is validated by the Snakefile, which fills every schema default (nested sections too), so rules
# read config["section"]["key"] and never carry a default of their own.
import json
import os
import shlex

from dnalens.workflow_api import family_wants_gpu

GENOMES = sorted(config["genomes"])
# The model family's own fact (its adapter's wants_gpu), not a family name test in each rule file.
MODEL_WANTS_GPU = family_wants_gpu(config["model"]["family"])


wildcard_constraints:
    genome="|".join(GENOMES) if GENOMES else "[^/]+",


def genome_spec(wildcards):
    return config["genomes"][wildcards.genome]


def settings_json(section, **extra):
    """One config section as a shell-quoted JSON argument for `dnalens <stage> --settings`."""
    value = dict(config[section])
    value.update(extra)
    return shlex.quote(json.dumps(value, sort_keys=True))


def genome_settings(wildcards):
    """The genome's config entry for `dnalens prepare`, without `variants` (a VCF is read by rule variants only,
    so adding one must not rerun the genome's preparation)."""
    spec = {k: v for k, v in genome_spec(wildcards).items() if k != "variants"}
    return shlex.quote(json.dumps(spec, sort_keys=True))


def final_outputs():
    per_genome = [
        "results/{genome}/windows.bed",
        "results/{genome}/labels",
        "results/{genome}/labels_bed",
        "results/{genome}/labels_summary.tsv",
        "results/{genome}/sae_quality.json",
        "results/{genome}/report.html",
    ]
    # the atlas across genomes (rule atlas, report.smk)
    across = (
        [
            "results/summary/atlas.tsv",
            "results/summary/atlas_latents.tsv",
            "results/summary/report.html",
            "results/summary/features_across_genomes.tsv",
        ]
        if len(GENOMES) > 1
        else []
    )
    # POOLED_QUALITY (sae.smk): a shared dictionary's quality pooled over the genomes; SAE_BENCH_TARGETS
    # (sae_bench.smk): the SAE sweep's tables and page, when config sae_bench lists variants
    # EFFECTS / STEER_TABLE (effects.smk, steer.smk): what annotated latents do, when effects/steer.enabled
    interventions = ([EFFECTS] if EFFECTS_ON else []) + ([STEER_TABLE] if STEER_ON else [])
    return (
        expand(per_genome + interventions, genome=GENOMES)
        + VARIANT_TARGETS  # variants.smk: genomes whose config entry has `variants:`
        + across
        + POOLED_QUALITY
        + SAE_BENCH_TARGETS
    )


def model_name():
    """What the report calls the model: family plus its name or checkpoint folder."""
    model = config["model"]
    family = model["family"]
    path = str(model["path"] or "").rstrip("/")
    detail = model["name"] or (os.path.basename(path) if path else "bundled")
    return shlex.quote(f"{family} ({detail})")


def report_labels(table):
    return {"genome": "{genome}", "output": table}


def sae_layer_dir(wildcards, input):
    """params: the SAE layer's directory inside the dense sample's activations (SAE_LAYER: sae.smk)."""
    return f"{input.activations}/{SAE_LAYER}"

