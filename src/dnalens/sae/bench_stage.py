"""`dnalens sae-bench`: the sweep's gather. Reads every variant x genome's sae_quality.json (held-out rows and train
rows) and probe tables, builds the tables, applies the declared rule and writes sae_bench.tsv + .parquet,
sae_bench_genomes.tsv, sae_bench_concepts.tsv, sae_bench_sparse_probing.tsv, choice.json, chosen_sae.yaml (the
choice as a config file a run adds: bench_adopt) and report.html.
Everything is read and built before the first file is written, and each file is written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from dnalens.errors import InputError
from dnalens.formats.probe_dir import CONCEPTS, FEATURE_CONCEPT, PROBES, SUMMARY, read_json, require_columns
from dnalens.sae.bench_plan import LAYOUT, OUTPUTS
from dnalens.sae.bench_settings import SaeBenchSettings, Variant
from dnalens.sae.bench_table import VariantRun, bench_tables

_SCORE_COLUMNS = ("feature", "concept", "auroc_train", "annotated")
_CONCEPT_COLUMNS = (
    "concept",
    "evaluated",
    "best_feature_auroc",
    "best_auroc_train",
    "best_auroc_test",
    "baseline_auroc_train",
    "baseline_auroc_test",
    "n_annotated_features",
)


def _path(kind: str, root: str | Path, **names: str) -> Path:
    template = LAYOUT[kind].replace("results/sae_bench", str(root).rstrip("/"), 1)
    return Path(template.format(**names))


def _quality(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError("sae_quality.json of a sweep variant not found.", path=path, fix="run the sae_bench rules.")
    return read_json(path)


def read_run(variant: Variant, genome: str, root: str | Path) -> VariantRun:
    """One variant x genome's inputs (root: the sweep's results folder, results/sae_bench)."""
    probe = _path("probe", root, variant=variant.name, genome=genome)
    frames = {}
    for name, columns in ((CONCEPTS, _CONCEPT_COLUMNS), (FEATURE_CONCEPT, _SCORE_COLUMNS)):
        path = probe / name
        if not path.is_file():
            raise InputError(f"{name} of sweep variant {variant.name!r} not found.", path=path, fix="run its probe.")
        frame = pd.read_parquet(path)
        require_columns(frame, columns, path)
        frames[name] = frame
    probes = pd.read_parquet(probe / PROBES) if (probe / PROBES).is_file() else pd.DataFrame()
    return VariantRun(
        variant=variant.name,
        genome=genome,
        settings=variant.sae,
        overrides=variant.overrides,
        quality_held_out=_quality(_path("quality", root, variant=variant.name, genome=genome, rows="held_out")),
        quality_train=_quality(_path("quality", root, variant=variant.name, genome=genome, rows="train")),
        concepts=frames[CONCEPTS],
        scores=frames[FEATURE_CONCEPT][list(_SCORE_COLUMNS)],
        probes=probes,
        probe_settings=(read_json(probe / SUMMARY).get("settings") or {}),
    )


def run_sae_bench(
    variants: Sequence[Variant], genomes: Sequence[str], bench: SaeBenchSettings, root: str | Path, out: str | Path
) -> dict[str, Any]:
    """Build and write every table of the sweep and its page; returns choice.json's record."""
    from dnalens.atomic import atomic_path, write_text
    from dnalens.sae.bench_adopt import adoption_config
    from dnalens.sae.bench_page import render_bench_page
    from dnalens.sae.bench_rule import choose

    runs = [read_run(v, g, root) for v in variants for g in genomes]
    tables = bench_tables(runs)
    tables["variants"], choice = choose(tables["variants"], bench.choice_rule())
    page = render_bench_page(tables, choice)
    paths = {
        key: Path(str(value).replace("results/sae_bench", str(out).rstrip("/"), 1)) for key, value in OUTPUTS.items()
    }
    paths["table"].parent.mkdir(parents=True, exist_ok=True)
    texts: Mapping[str, str] = {
        "table": tables["variants"].to_csv(sep="\t", index=False, na_rep=""),
        "genomes": tables["genomes"].to_csv(sep="\t", index=False, na_rep=""),
        "concepts": tables["concepts"].to_csv(sep="\t", index=False, na_rep=""),
        "sparse_probing": tables["sparse_probing"].to_csv(sep="\t", index=False, na_rep=""),
        "choice": json.dumps(choice, indent=1) + "\n",
        "adopt": adoption_config(choice, variants, OUTPUTS["adopt"]),
        "report": page,
    }
    with atomic_path(paths["parquet"]) as tmp:
        tables["variants"].to_parquet(tmp, index=False)
    for key, text in texts.items():
        write_text(paths[key], text)
    return choice
