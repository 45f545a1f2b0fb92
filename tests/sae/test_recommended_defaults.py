"""The schema's `sae:` defaults are the SAE sweep's choice, so a config copied as the README says gets the
dictionary the sweep found healthy (resources/sae_bench/: the measured table, README there)."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dnalens.models.base import run_sae_settings
from dnalens.settings import schema_defaults

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "resources" / "sae_bench"
SWEPT = ("architecture", "expansion", "k", "lr", "tokens", "base_lookup", "strand_shared", "layer")


def resolved_sae(config_path: Path) -> dict:
    """What a run of this config trains with: schema defaults under the file's keys, auto settings decided."""
    config = yaml.safe_load(config_path.read_text())
    model = {**schema_defaults("model"), **(config.get("model") or {})}
    sae = {**schema_defaults("sae"), **(config.get("sae") or {})}
    layers = (config.get("extract") or {}).get("layers") or schema_defaults("extract")["layers"]
    return {**run_sae_settings(sae, model), "layer": sae["layer"] or layers[0]}


@pytest.fixture(scope="module")
def chosen() -> pd.Series:
    choice = json.loads((BENCH / "choice.json").read_text())
    table = pd.read_csv(BENCH / "sae_bench.tsv", sep="\t").set_index("variant")
    assert choice["chosen"] in table.index and table.loc[choice["chosen"], "chosen"]
    return table.loc[choice["chosen"]]


def test_the_readme_template_resolves_to_the_sweeps_choice(chosen):
    readme = (REPO / "README.md").read_text()
    template = REPO / "config" / "genomes" / "ecoli_k12.yaml"
    assert f"cp {template.relative_to(REPO)}" in readme  # the file the README tells a new user to copy
    got = resolved_sae(template)
    for key in SWEPT:
        want = chosen[key]
        assert got[key] == pytest.approx(want) if isinstance(want, float) else got[key] == want, key
    # keys the sweep held fixed for every variant: its base `sae:` block
    base = yaml.safe_load((REPO / "config" / "sae_bench.yaml").read_text())["sae"]
    for key in ("batch_size", "aux_k_coef"):
        assert got[key] == base[key], key


def test_the_chosen_dictionary_was_healthy_and_sparse(chosen):
    assert bool(chosen["healthy"]) and bool(chosen["eligible"])
    assert chosen["l0_over_d_in"] <= 0.1 and chosen["dead_fraction"] <= 0.1  # held out, as reported


def test_strand_sharing_follows_the_models_pooling():
    defaults = schema_defaults("sae")
    assert defaults["strand_shared"] == "auto"
    assert run_sae_settings(defaults, {"family": "tiny"})["strand_shared"] is True  # rc_pool auto -> concat
    assert run_sae_settings(defaults, {"family": "evo2"})["strand_shared"] is False  # one pass: nothing to share
    assert run_sae_settings({**defaults, "strand_shared": False}, {"family": "tiny"})["strand_shared"] is False
