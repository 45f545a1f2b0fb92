# variants (optional, per genome with `variants:` in its config entry): the VCF -> consequence from the annotation,
# Δ log-likelihood alt - ref on both strands and the SAE latents changed near each variant, read through the
# model layer and SAE the genome's buffer used (buffer.json) -> results/<genome>/variants/ (variants.tsv +
# .parquet, the annotated variants.vcf.gz + .tbi, summary.json with skipped records per reason). Settings are
# the top-level `variants:` section (src/dnalens/variants/).
VARIANT_GENOMES = [g for g in GENOMES if config["genomes"][g].get("variants")]
VARIANT_OUTPUTS = [
    "variants.tsv",
    "variants.parquet",
    "variants.vcf.gz",
    "variants.vcf.gz.tbi",
    "summary.json",
]
# what rule all (common.smk final_outputs) and the report add for these genomes
VARIANT_TARGETS = expand("results/{genome}/variants/{name}", genome=VARIANT_GENOMES, name=VARIANT_OUTPUTS)


rule variants:
    input:
        vcf=lambda wildcards: config["genomes"][wildcards.genome]["variants"],
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        annotation="results/{genome}/annotation.gff3",
        info="results/{genome}/genome.json",
        buffer="results/{genome}/buffer",
        probe="results/{genome}/probe",
        sae=SAE_DIR,
        model=TRAINED_MODEL,
    output:
        table=report(
            "results/{genome}/variants/variants.tsv",
            caption="../report/variants.rst",
            category="Tables",
            labels=report_labels("variants.tsv"),
        ),
        parquet="results/{genome}/variants/variants.parquet",
        vcf="results/{genome}/variants/variants.vcf.gz",
        tbi="results/{genome}/variants/variants.vcf.gz.tbi",
        summary="results/{genome}/variants/summary.json",
    params:
        model=settings_json("model"),
        settings=settings_json("variants"),
        outdir=lambda wildcards, output: os.path.dirname(output.table),
    log:
        "logs/{genome}/variants.log",
    benchmark:
        "logs/{genome}/variants.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=MODEL_PASS_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens variants --vcf {input.vcf:q} --fasta {input.fasta:q} --annotation {input.annotation:q}"
        " --genome-json {input.info:q} --buffer {input.buffer:q} --probe {input.probe:q} --model {params.model}"
        " --settings {params.settings} --out {params.outdir:q} > {log:q} 2>&1"
