# layer_scan: where biology lives in the model, before any SAE (src/dnalens/probe/layer_scan.py). The model runs
# once over a seeded sample of windows capturing every layer (layer_scan.layers: empty = all), and each layer gets
# the probe stage's dense linear probes on the probe stage's train blocks -> results/<genome>/layer_scan.tsv
# (+ .parquet, .json), a figure in report.html when layer_scan.enabled. The rule exists either way, so
# `snakemake results/<genome>/layer_scan.tsv` runs it on demand.
LAYER_SCAN = "results/{genome}/layer_scan.tsv"
LAYER_SCAN_ON = bool(config["layer_scan"]["enabled"])
# the switch only decides whether the report shows the scan: toggling it must not rerun the scan
_SCAN_SETTINGS = json.dumps({k: v for k, v in config["layer_scan"].items() if k != "enabled"}, sort_keys=True)
# only the probe keys the scan reads (the split, which concepts, the probes): another probe.n_null must not rerun it
_SCAN_PROBE = json.dumps(
    {
        k: config["probe"][k]
        for k in (
            "block_size",
            "test_fraction",
            "seed",
            "gap",
            "duplicate_regions",
            "detect_repeats",
            "min_repeat_length",
            "min_instances",
            "probe_l2",
            "probe_max_iter",
        )
    },
    sort_keys=True,
)


rule layer_scan:
    input:
        windows="results/{genome}/windows.bed",
        fasta="results/{genome}/genome.fa",
        fai="results/{genome}/genome.fa.fai",
        labels="results/{genome}/labels",
        model=TRAINED_MODEL,
    output:
        table=report(
            LAYER_SCAN,
            caption="../report/layer_scan.rst",
            category="Tables",
            labels=report_labels("layer_scan.tsv"),
        ),
        parquet="results/{genome}/layer_scan.parquet",
        summary="results/{genome}/layer_scan.json",
    params:
        model=settings_json("model"),
        settings=_SCAN_SETTINGS,
        probe=_SCAN_PROBE,
    log:
        "logs/{genome}/layer_scan.log",
    benchmark:
        "logs/{genome}/layer_scan.benchmark.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=MODEL_PASS_GPU,
    conda:
        "../envs/dnalens.yaml"
    shell:
        "dnalens layer-scan --windows {input.windows:q} --fasta {input.fasta:q} --labels {input.labels:q}"
        " --model {params.model} --settings {params.settings:q} --probe-settings {params.probe:q}"
        " --out {output.table:q} > {log:q} 2>&1"
