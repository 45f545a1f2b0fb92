"""The `sae_bench` config section: SAE variants trained side by side, and the declared rule that picks one.

A variant is the run's own `sae:` section with a few keys changed (architecture, expansion, k, lr, layer, ...),
listed by name (`variants:`) or spanned by a grid (`grid:`, the cartesian product, names made from the values).
Every variant trains on the run's sample and is scored on the same held-out blocks, so the keys that decide
which rows train and which judge (`NOT_VARIED`) stay the run's. The rule ranks the variants that clear its bars
by metrics measured on train blocks only (`RULE_METRICS`); held-out numbers are never a rule's metric, so the
chosen variant's held-out numbers stay unbiased. Light module: no torch (the Snakefile reads it at parse time).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from dnalens.errors import InputError
from dnalens.settings import check_section, schema_defaults

_DEFAULTS = schema_defaults("sae_bench")

# metric -> which way is better. Train-side metrics only: a rule that chose on held-out blocks would bias the
# chosen variant's held-out numbers (module doc). Their meaning: config/README.md, section sae_bench.
RULE_METRICS: dict[str, str] = {
    "train_concepts_passing": "max",
    "train_latents_passing": "max",
    "train_concept_groups": "max",
    "train_fvu": "min",
    "train_explained_variance": "max",
    "train_l0": "min",
    "train_l0_over_d_in": "min",
    "train_dead_fraction": "min",
    "train_dense_fraction": "min",
    "train_loss_recovered": "max",
    "init_cosine": "min",
    "seed_agreement": "max",
}
# sae_bench.tsv's quality columns, measured on held-out blocks and (as train_<column>) on training windows
QUALITY_COLUMNS = (
    "fvu",
    "explained_variance",
    "l0",
    "l0_over_d_in",
    "dead_fraction",
    "dense_fraction",
    "loss_recovered",
    "ce_increase",
)
# sae_bench.tsv's held-out counts, each with the train-block count a rule may rank on
TRAIN_TWIN = {
    "concepts_annotated": "train_concepts_passing",
    "latents_annotated": "train_latents_passing",
    "concept_groups": "train_concept_groups",
}
# held-out columns of sae_bench.tsv: reported, never ranked on (a rule naming one is told its train twin)
HELD_OUT_METRICS = tuple(c for c in QUALITY_COLUMNS if f"train_{c}" in RULE_METRICS) + tuple(TRAIN_TWIN)
# sae keys a variant may not change: which rows train and which judge, and how quality is measured, are the
# run's for every variant (the same sample, the same held-out blocks, the same measurement)
NOT_VARIED = {
    "source": "a variant is always trained",
    "path": "a variant is always trained",
    "scope": "every variant trains where the run's dictionary does (sae.scope)",
    "holdout_fraction": "every variant is scored on the same held-out blocks",
    "holdout_blocks": "every variant is scored on the same held-out blocks",
    "quality_tokens": "every variant is measured the same way",
    "loss_windows": "every variant is measured the same way",
    "min_ablation_gap": "every variant is measured the same way",
}
RUN_VARIANT = "run"  # the run's own sae: settings, when include_run


@dataclass(frozen=True)
class ChoiceRule:
    """Variants whose train-side metrics clear every bar (`at_most`, `at_least`) are ranked by `rank_by`, each
    metric in its better direction; the first wins, and a tie on every metric goes to the variant listed first."""

    rank_by: tuple[str, ...]
    at_most: Mapping[str, float]
    at_least: Mapping[str, float]

    def metrics(self) -> list[str]:
        return [*self.rank_by, *self.at_most, *self.at_least]


@dataclass(frozen=True)
class SaeBenchSettings:
    variants: tuple[Mapping[str, Any], ...] = _DEFAULTS["variants"]
    grid: Mapping[str, Any] = field(default_factory=lambda: dict(_DEFAULTS["grid"]))
    include_run: bool = _DEFAULTS["include_run"]
    rule: Mapping[str, Any] = field(default_factory=lambda: dict(_DEFAULTS["rule"]))

    def __post_init__(self) -> None:
        object.__setattr__(self, "variants", tuple(dict(v) for v in self.variants))
        object.__setattr__(self, "rule", {**_DEFAULTS["rule"], **dict(self.rule)})
        self.choice_rule()  # an unknown or held-out metric fails here, before any job

    @property
    def enabled(self) -> bool:
        return bool(self.variants or self.grid)

    def choice_rule(self) -> ChoiceRule:
        rule = ChoiceRule(
            tuple(self.rule["rank_by"]), dict(self.rule["at_most"] or {}), dict(self.rule["at_least"] or {})
        )
        for metric in rule.metrics():
            check_metric(metric)
        if not rule.rank_by:
            raise InputError(
                "sae_bench.rule.rank_by is empty.", fix="name at least one metric, e.g. [train_concepts_passing]."
            )
        return rule


def check_metric(metric: str) -> None:
    """A rule may name the train-side metrics of RULE_METRICS only."""
    if metric in RULE_METRICS:
        return
    if metric in HELD_OUT_METRICS:
        twin = TRAIN_TWIN.get(metric, f"train_{metric}")
        raise InputError(
            f"sae_bench.rule names {metric!r}, a held-out metric: held-out blocks only report, the choice uses "
            "train blocks.",
            fix=f"use {twin!r} instead.",
        )
    raise InputError(
        f"sae_bench.rule names an unknown metric {metric!r}.",
        fix=f"use one of: {', '.join(RULE_METRICS)} (config/README.md, section sae_bench).",
    )


@dataclass(frozen=True)
class Variant:
    """One SAE variant: its name, the sae keys it changes, and the whole `sae:` section it trains with."""

    name: str
    overrides: Mapping[str, Any]
    sae: Mapping[str, Any]
    layer: str

    def settings_json(self) -> str:
        return json.dumps(dict(self.sae), sort_keys=True)


def _value_name(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def grid_variants(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cartesian product of `grid` (key -> list of values) as named variants, keys in the order given;
    names join `<key>_<value>` with '-' (lr 0.004 and k 8: `lr_0.004-k_8`)."""
    if not grid:
        return []
    keys = list(grid)
    if "name" in keys:
        raise InputError(
            "sae_bench.grid has a key `name`.", fix="grid keys are sae keys; names are made from the values."
        )
    for key in keys:
        values = grid[key]
        if not isinstance(values, (list, tuple)) or not values:
            raise InputError(
                f"sae_bench.grid.{key} must be a non-empty list of values, not {values!r}.",
                fix=f"e.g. `{key}: [a, b]`; a single value belongs in sae:.",
            )
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        name = "-".join(f"{k}_{_value_name(v)}" for k, v in zip(keys, combo))
        out.append({"name": name, **dict(zip(keys, combo))})
    return out


def _where(name: str) -> str:
    return f"sae_bench variant {name!r}: sae"


def expand_variants(bench: SaeBenchSettings, sae: Mapping[str, Any], default_layer: str) -> list[Variant]:
    """Every variant of the sweep ([] when the section is off), each checked against the sae schema and the
    sae settings' own checks; duplicate names or settings are one error naming both variants."""
    from dnalens.sae.settings import SaeSettings
    from dnalens.settings import from_mapping, safe_name

    if not bench.enabled:
        return []
    base = {**dict(sae), "source": "train", "path": None}
    listed = [dict(v) for v in bench.variants] + grid_variants(bench.grid)
    if bench.include_run and sae.get("source", "train") == "train":
        listed.insert(0, {"name": RUN_VARIANT})
    variants: list[Variant] = []
    seen: dict[str, str] = {}
    for spec in listed:
        name = spec.pop("name", None)
        if name is None:
            raise InputError("a sae_bench variant has no name.", fix="give every entry of sae_bench.variants a name:.")
        safe_name(name, "sae_bench variant name")
        if any(v.name == name for v in variants):
            raise InputError(
                f"sae_bench variant {name!r} is listed twice.",
                fix="give each variant its own name (grid variants are named from their values).",
            )
        for key in spec:
            if key in NOT_VARIED:
                raise InputError(
                    f"sae_bench variant {name!r} sets sae.{key}, which a variant may not change: {NOT_VARIED[key]}.",
                    fix=f"drop {key} from the variant (set it in sae: for the whole run).",
                )
        merged = {**base, **spec}
        check_section("sae", merged, where=_where(name))
        from_mapping(SaeSettings, merged, where=_where(name))
        layer = merged.get("layer") or default_layer
        merged["layer"] = layer
        key = json.dumps(merged, sort_keys=True, default=str)
        if key in seen:
            raise InputError(
                f"sae_bench variants {seen[key]!r} and {name!r} have the same settings.",
                fix=f"drop one of them, or change a key of {name!r}.",
            )
        seen[key] = name
        variants.append(Variant(name, dict(spec), merged, layer))
    return variants
