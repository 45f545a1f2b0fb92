# report: buffer + probe tables + labels + genome -> feature tables, browser tracks, report.html.
# Every output below is also in `snakemake --report` (captions in workflow/report/).


REPORT_PARTS = int(config["report"]["parts"])


# Scatter: the per-latent pass over every stored value (statistics, hit count, strongest hit) in
# report.parts latent ranges (src/dnalens/report/parts.py); rule report gathers them (`dnalens report-merge`).
rule report_part:
    input:
        buffer="results/{genome}/buffer",
        probe="results/{genome}/probe",
        fasta="results/{genome}/genome.fa",
        annotation="results/{genome}/annotation.gff3",
        sizes="results/{genome}/chrom.sizes",
        label_summary="results/{genome}/labels_summary.tsv",
        sae_quality="results/{genome}/sae_quality.json",
    output:
        temp("results/{genome}/report_parts/part-{part}.parquet"),
    wildcard_constraints:
        part=r"\d+",
    params:
        settings=settings_json("report"),
        parts=REPORT_PARTS,
        model_settings=settings_json("model"),
    log:
        "logs/{genome}/report_part-{part}.log",
    benchmark:
        "logs/{genome}/report_part-{part}.benchmark.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens report --genome {wildcards.genome:q} --buffer {input.buffer:q} --probe {input.probe:q}"
        " --fasta {input.fasta:q} --annotation {input.annotation:q} --chrom-sizes {input.sizes:q}"
        " --label-summary {input.label_summary:q} --sae-quality {input.sae_quality:q}"
        " --settings {params.settings} --model-settings {params.model_settings}"
        " --part {wildcards.part} --parts {params.parts} --part-out {output:q}"
        " > {log:q} 2>&1"


rule report:
    input:
        parts=expand("results/{{genome}}/report_parts/part-{part}.parquet", part=range(REPORT_PARTS)),
        buffer="results/{genome}/buffer",
        probe="results/{genome}/probe",
        fasta="results/{genome}/genome.fa",
        annotation="results/{genome}/annotation.gff3",
        sizes="results/{genome}/chrom.sizes",
        label_summary="results/{genome}/labels_summary.tsv",
        sae_quality="results/{genome}/sae_quality.json",
        # layer_scan.smk: the scan's table when layer_scan.enabled, else nothing
        layer_scan=lambda wildcards: LAYER_SCAN.format(genome=wildcards.genome) if LAYER_SCAN_ON else [],
        # effects.smk / steer.smk: what annotated latents do (card blocks, features.tsv columns), when enabled
        effects=lambda wildcards: EFFECTS.format(genome=wildcards.genome) if EFFECTS_ON else [],
        steer=lambda wildcards: STEER_TABLE.format(genome=wildcards.genome) if STEER_ON else [],
        # variants.smk: the genome's variants section, when its config entry has `variants:`
        variants=lambda wildcards: (
            f"results/{wildcards.genome}/variants/variants.parquet" if wildcards.genome in VARIANT_GENOMES else []
        ),
    output:
        html=report(
            "results/{genome}/report.html",
            caption="../report/report_html.rst",
            category="Report",
            labels=report_labels("report.html"),
        ),
        features=report(
            "results/{genome}/features.tsv",
            caption="../report/features.rst",
            category="Tables",
            labels=report_labels("features.tsv"),
        ),
        parquet="results/{genome}/features.parquet",
        pairs=report(
            "results/{genome}/feature_concepts.tsv",
            caption="../report/feature_concepts.rst",
            category="Tables",
            labels=report_labels("feature_concepts.tsv"),
        ),
        concepts=report(
            "results/{genome}/concept_summary.tsv",
            caption="../report/concept_summary.rst",
            category="Tables",
            labels=report_labels("concept_summary.tsv"),
        ),
        windows=report(
            "results/{genome}/top_windows.tsv",
            caption="../report/top_windows.rst",
            category="Tables",
            labels=report_labels("top_windows.tsv"),
        ),
        candidates=report(
            "results/{genome}/candidates.gff3",
            caption="../report/candidates_gff3.rst",
            category="Tables",
            labels=report_labels("candidates.gff3"),
        ),
        gff3="results/{genome}/hits.gff3.gz",  # bgzip + tabix; not embedded in --report
        gff3_index="results/{genome}/hits.gff3.gz.tbi",
        tracks=directory("results/{genome}/tracks"),
    params:
        settings=settings_json("report"),
        model=model_name(),
        outdir=lambda wildcards: f"results/{wildcards.genome}",
        layer_scan=lambda wildcards, input: (
            f"--layer-scan {shlex.quote(str(input.layer_scan))}" if LAYER_SCAN_ON else ""
        ),
        interventions=lambda wildcards, input: (
            (f" --effects {shlex.quote(str(input.effects))}" if EFFECTS_ON else "")
            + (f" --steer {shlex.quote(str(input.steer))}" if STEER_ON else "")
            + (f" --variants {shlex.quote(str(input.variants))}" if input.variants else "")
        ),
        model_settings=settings_json("model"),
    log:
        "logs/{genome}/report.log",
    benchmark:
        "logs/{genome}/report.benchmark.tsv"
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens report-merge {input.parts:q} --genome {wildcards.genome:q} --buffer {input.buffer:q}"
        " --probe {input.probe:q} --fasta {input.fasta:q} --annotation {input.annotation:q}"
        " --chrom-sizes {input.sizes:q} --label-summary {input.label_summary:q} --sae-quality {input.sae_quality:q}"
        " --model-name {params.model} --model-settings {params.model_settings} --out {params.outdir:q}"
        " --settings {params.settings} {params.layer_scan}{params.interventions} > {log:q} 2>&1"


# The atlas joins a few per-genome TSVs (and, for per-genome SAEs only, reads their decoders): cheap
# enough for the submit host.
localrules:
    atlas,


# Each genome's SAE (SAE_DIR, workflow/rules/sae.smk): latents match by id when all genomes used the
# same SAE (one shared dictionary, or sae.source: load), else by decoder cosine (src/dnalens/report/across.py).
GENOME_SAES = [SAE_DIR.format(genome=g) for g in GENOMES]


# The atlas across genomes (src/dnalens/report/atlas.py): atlas.tsv (latent x genome), atlas_latents.tsv
# (per latent: genome counts, shared label, pattern), report.html, and the wide features_across_genomes.tsv.
rule atlas:
    input:
        features=expand("results/{genome}/features.tsv", genome=GENOMES),
        saes=sorted(set(GENOME_SAES)),
    output:
        atlas=report(
            "results/summary/atlas.tsv",
            caption="../report/atlas.rst",
            category="Across genomes",
            labels={"genome": "all", "output": "atlas.tsv"},
        ),
        atlas_parquet="results/summary/atlas.parquet",
        latents=report(
            "results/summary/atlas_latents.tsv",
            caption="../report/atlas_latents.rst",
            category="Across genomes",
            labels={"genome": "all", "output": "atlas_latents.tsv"},
        ),
        latents_parquet="results/summary/atlas_latents.parquet",
        html=report(
            "results/summary/report.html",
            caption="../report/atlas_report_html.rst",
            category="Across genomes",
            labels={"genome": "all", "output": "report.html"},
        ),
        wide=report(
            "results/summary/features_across_genomes.tsv",
            caption="../report/features_across_genomes.rst",
            category="Across genomes",
            labels={"genome": "all", "output": "features_across_genomes.tsv"},
        ),
    params:
        names=" ".join(shlex.quote(g) for g in GENOMES),
        saes=" ".join(shlex.quote(p) for p in GENOME_SAES),
        settings=settings_json("report"),
        outdir=lambda wildcards, output: os.path.dirname(output.atlas),
    log:
        "logs/summary/atlas.log",
    benchmark:
        "logs/summary/atlas.benchmark.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens atlas {input.features:q} --names {params.names} --sae {params.saes}"
        " --out-dir {params.outdir:q} --settings {params.settings} > {log:q} 2>&1"
