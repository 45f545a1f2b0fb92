"""The sweep's choice as a config file a run adds (`--configfile ... results/sae_bench/chosen_sae.yaml`).

Why a config file rather than a rule: the choice is known only after every variant is scored, and the run's
DAG (which dictionary its encode reads, at which layer) is fixed when the Snakefile is parsed. A file the user
adds keeps that visible and reviewable: the run then encodes, probes and reports with the chosen dictionary.
For a shared sweep it loads the chosen variant's dictionary as it was scored (so its held-out numbers in
sae_bench.tsv are the run's); a per-genome sweep trained one dictionary per genome, so the file gives the
variant's settings and each genome trains its own with them (same sample, same seed: the same dictionary).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import yaml

from dnalens.sae.bench_plan import LAYOUT
from dnalens.sae.bench_settings import Variant

HEADER = (
    "# Written by `dnalens sae-bench` (rule sae_bench): the SAE sweep's choice by its declared rule ({reason}).\n"
    "# Adopt it by adding this file after your config: snakemake --configfile <your config> {path}\n"
)


def adoption_config(choice: Mapping[str, Any], variants: Sequence[Variant], path: str) -> str:
    """The YAML text of chosen_sae.yaml (`path`: where it is written, quoted in its header)."""
    reason = str(choice.get("reason") or "no reason recorded").replace("\n", " ")
    header = HEADER.format(reason=reason, path=path)
    chosen = choice.get("chosen")
    if chosen is None:
        return header + "# No variant cleared the rule's bars (choice.json `ineligible`): nothing to adopt.\n{}\n"
    variant = next(v for v in variants if v.name == chosen)
    if variant.sae.get("scope", "shared") == "shared":
        block: dict[str, Any] = {
            "source": "load",
            "path": LAYOUT["shared_dictionary"].format(variant=variant.name),
            "layer": variant.layer,
        }
    else:
        block = {**{k: v for k, v in variant.overrides.items() if k != "name"}, "layer": variant.layer}
    return header + yaml.safe_dump({"sae": block}, sort_keys=False)
