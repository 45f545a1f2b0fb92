# Shared helpers (genome lookup, per-stage settings, final targets). No torch import here.
import json
import shlex

GENOMES = sorted(config["genomes"])


wildcard_constraints:
    genome="|".join(GENOMES) if GENOMES else "[^/]+",


def genome_spec(wildcards):
    return config["genomes"][wildcards.genome]


def settings_json(section, **extra):
    """One config section as a shell-quoted JSON argument for `dnalens <stage> --settings`."""
    value = dict(config.get(section, {}))
    value.update(extra)
    return shlex.quote(json.dumps(value, sort_keys=True))


def genome_settings(wildcards):
    return shlex.quote(json.dumps(genome_spec(wildcards), sort_keys=True))


def final_outputs():
    per_genome = [
        "results/{genome}/windows.bed",
        "results/{genome}/labels",
        "results/{genome}/labels_bed",
        "results/{genome}/labels_summary.tsv",
    ]
    return expand(per_genome, genome=GENOMES)
