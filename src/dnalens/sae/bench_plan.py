"""The SAE sweep as the workflow plans it: its variants checked against the rest of the config, and where each
variant's outputs go. Read at Snakefile parse time (through workflow_api), so every bad variant is one error
before any job runs. Light module: no torch.

Checks that need more than the `sae:` schema: a variant's layer must be one the sample captures
(`extract.layers`, all captured in one pass of the model) and one the model has, and its k must be below its
dictionary's width (expansion x the width of the rows it reads). The model's block count and width are read
without loading it (`model_facts`); where they cannot be known before a job runs (an inner module such as
blocks.5.mlp.l1, a HuggingFace checkpoint without a config.json) the training job's own checks remain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from dnalens.errors import InputError
from dnalens.sae.bench_settings import SaeBenchSettings, Variant, expand_variants

BENCH_ROOT = "results/sae_bench"
# Layout (docs/ARCHITECTURE.md, "sae_bench"): per variant its dictionary (shared scope: one for all genomes;
# genome scope: one per genome), per variant x genome quality on held-out and on train rows, temporary codes,
# buffer and probe parts, the kept probe tables; the gather's tables and page at the root.
LAYOUT = {
    "shared_dictionary": BENCH_ROOT + "/{variant}/dictionary",
    "genome_dictionary": BENCH_ROOT + "/{variant}/{genome}/dictionary",
    "quality": BENCH_ROOT + "/{variant}/{genome}/quality/{rows}.json",
    "codes": BENCH_ROOT + "/{variant}/{genome}/codes",
    "buffer": BENCH_ROOT + "/{variant}/{genome}/buffer",
    "probe_part": BENCH_ROOT + "/{variant}/{genome}/probe_parts/part-{part}.npz",
    "probe_linear": BENCH_ROOT + "/{variant}/{genome}/probe_parts/linear",
    "probe": BENCH_ROOT + "/{variant}/{genome}/probe",
}
QUALITY_ROWS = ("held_out", "train")
OUTPUTS = {
    "table": BENCH_ROOT + "/sae_bench.tsv",
    "parquet": BENCH_ROOT + "/sae_bench.parquet",
    "genomes": BENCH_ROOT + "/sae_bench_genomes.tsv",
    "sparse_probing": BENCH_ROOT + "/sae_bench_sparse_probing.tsv",
    "concepts": BENCH_ROOT + "/sae_bench_concepts.tsv",
    "choice": BENCH_ROOT + "/choice.json",
    "adopt": BENCH_ROOT + "/chosen_sae.yaml",  # the choice as a config file a run adds (bench_adopt)
    "report": BENCH_ROOT + "/report.html",
}
_BLOCK = re.compile(r"^blocks\.(\d+)$")
# Evo 2 block counts (docs: "Facts about Evo 2"); other sizes are not stated there
_EVO2_BLOCKS = {"evo2_1b_base": 25, "evo2_7b": 32, "evo2_7b_base": 32, "evo2_7b_262k": 32}


@dataclass(frozen=True)
class ModelFacts:
    """What is known of the model before it is loaded (None: not known until a job loads it)."""

    n_blocks: int | None
    d_model: int | None
    rc_pool: str


def model_facts(model: Mapping[str, Any], training: Mapping[str, Any] | None = None) -> ModelFacts:
    """Block count, residual width and resolved rc_pool of the config's `model:` block, without torch."""
    from dnalens.models.base import DEFAULT_RC_POOL

    family = model.get("family", "tiny")
    rc_pool = model.get("rc_pool") or "auto"
    rc_pool = DEFAULT_RC_POOL.get(family, "none") if rc_pool == "auto" else rc_pool
    n_blocks = d_model = None
    if family == "tiny":
        from dnalens.models.tiny_adapter import bundled_path

        path = Path(model.get("path") or bundled_path())
        cfg = _json(path / "config.json") or dict((training or {}).get("architecture") or {})
        if cfg.get("block_types"):
            n_blocks = len(cfg["block_types"])
        d_model = cfg.get("d_model")
    elif family in ("evo2", "evo2_standin"):
        from dnalens.models.evo2_standin import EVO2_WIDTH, STANDIN_BLOCKS

        name = model.get("name") or "evo2_7b_262k"
        d_model = EVO2_WIDTH.get(name)
        n_blocks = STANDIN_BLOCKS if family == "evo2_standin" else _EVO2_BLOCKS.get(name)
    elif family == "hf" and model.get("path"):
        cfg = _json(Path(model["path"]) / "config.json")
        n_blocks, d_model = cfg.get("num_hidden_layers"), cfg.get("hidden_size")
    return ModelFacts(n_blocks, d_model, rc_pool)


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def row_width(facts: ModelFacts, layer: str, strand_shared: bool) -> int | None:
    """The width an SAE at `layer` reads (a strand state with strand_shared), when known before a job runs."""
    if facts.d_model is None or not _BLOCK.match(layer):
        return None
    if facts.rc_pool == "concat" and not strand_shared:
        return 2 * int(facts.d_model)
    return int(facts.d_model)


@dataclass(frozen=True)
class BenchPlan:
    variants: tuple[Variant, ...]
    shared: bool  # one dictionary per variant for every genome (sae.scope shared), else one per genome

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def training_genomes(self, genome: str | None, genomes: Sequence[str]) -> list[str]:
        """Whose samples a variant's dictionary trains on: every genome (scope shared) or the one named."""
        return list(genomes) if self.shared else [str(genome)]

    def dictionary(self, variant: str, genome: str | None = None) -> str:
        """The variant's dictionary directory (for `genome`'s encode and quality with scope genome)."""
        key = "shared_dictionary" if self.shared else "genome_dictionary"
        return LAYOUT[key].format(variant=variant, genome=genome)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variants]


def _config_line(configfiles: Sequence[str], name: str) -> tuple[str | None, int | None]:
    """The config file and line where variant `name` is listed (for the error message), if found."""
    pattern = re.compile(rf"name:\s*['\"]?{re.escape(name)}['\"]?\s*(#.*)?$")
    for path in configfiles:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            if pattern.search(line):
                return str(path), number
    return (str(configfiles[0]) if configfiles else None), None


def sae_bench_plan(config: Mapping[str, Any], configfiles: Sequence[str] = ()) -> BenchPlan:
    """The validated sweep of a workflow config (no variants when `sae_bench` is off); a bad variant is one
    InputError naming it (and, where found, its config file and line)."""
    from dnalens.models.base import run_sae_settings
    from dnalens.settings import from_mapping

    bench = from_mapping(SaeBenchSettings, config.get("sae_bench") or {}, where="sae_bench")
    sae = run_sae_settings(config.get("sae") or {}, config.get("model") or {})  # strand_shared auto decided
    extract = dict(config.get("extract") or {})
    layers = list(extract.get("layers") or [])
    default_layer = sae.get("layer") or (layers[0] if layers else None)
    try:
        variants = expand_variants(bench, sae, default_layer)
    except InputError as err:
        name = re.search(r"variants? '([^']+)'", err.problem)
        path, line = _config_line(configfiles, name.group(1)) if name else (None, None)
        raise InputError(err.problem, path=err.path or path, line=line, fix=err.fix) from None
    facts = model_facts(config.get("model") or {}, config.get("training"))
    for variant in variants:
        try:
            check_variant(variant, layers, facts)
        except InputError as err:
            path, line = _config_line(configfiles, variant.name)
            raise InputError(err.problem, path=path, line=line, fix=err.fix) from None
    return BenchPlan(tuple(variants), shared=sae.get("scope", "shared") == "shared")


def check_variant(variant: Variant, layers: Sequence[str], facts: ModelFacts) -> None:
    """The checks that need the rest of the config: the layer is sampled and exists, k fits the dictionary."""
    layer = variant.layer
    if layer not in layers:
        raise InputError(
            f"sae_bench variant {variant.name!r} reads layer {layer!r}, which extract.layers "
            f"({', '.join(layers)}) does not capture.",
            fix=f"add {layer} to extract.layers: the sample captures every listed layer in one pass of the model.",
        )
    block = _BLOCK.match(layer)
    if block and facts.n_blocks is not None and int(block.group(1)) >= facts.n_blocks:
        raise InputError(
            f"sae_bench variant {variant.name!r} reads layer {layer!r}, which the model lacks "
            f"(blocks.0 to blocks.{facts.n_blocks - 1}).",
            fix=f"use a layer from blocks.0 to blocks.{facts.n_blocks - 1} (and list it in extract.layers).",
        )
    width = row_width(facts, layer, bool(variant.sae.get("strand_shared")))
    if width is not None:
        d_sae = int(variant.sae["expansion"]) * width
        if int(variant.sae["k"]) >= d_sae:
            raise InputError(
                f"sae_bench variant {variant.name!r} has k {variant.sae['k']} but its dictionary has only {d_sae} "
                f"latents (expansion {variant.sae['expansion']} x width {width}).",
                fix=f"use k below {d_sae} (a sparse dictionary keeps k <= 0.1 x {width}), or a larger expansion.",
            )
