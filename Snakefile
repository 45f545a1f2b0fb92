# dnalens: what has this DNA language model learned about this genome?
# Entry point only; stages live in workflow/rules, logic in src/dnalens (see docs/ARCHITECTURE.md).
from snakemake.utils import min_version, validate

from dnalens.workflow_api import check_combined_configs, check_renamed_sections, collect_genomes, run_sae_settings

min_version("9.0")


# One config per genome: `--configfile config/genomes/<g>.yaml` replaces the demo config entirely; several
# configfiles (each `genomes:` a mapping or a genome sheet) run together in one DAG.
if not config:

    configfile: "config/config.yaml"


check_renamed_sections(config, workflow.configfiles)
check_combined_configs(workflow.configfiles)
config["genomes"] = collect_genomes(workflow.configfiles, config)
validate(config, "workflow/schemas/config.schema.yaml")
config["sae"] = run_sae_settings(config["sae"], config["model"])  # strand_shared: auto -> true/false


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/windows.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/train_model.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/sae.smk"
include: "workflow/rules/rehearsal.smk"
include: "workflow/rules/buffer.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/layer_scan.smk"
include: "workflow/rules/effects.smk"
include: "workflow/rules/steer.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/sae_bench.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
