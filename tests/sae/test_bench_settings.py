"""The sae_bench section: variants from a list and a grid, and every bad sweep as one InputError naming the
variant, raised while the config is read (what the Snakefile does at parse time, before any job)."""

from __future__ import annotations

import pytest

from dnalens.errors import InputError
from dnalens.sae.bench_plan import model_facts, row_width, sae_bench_plan
from dnalens.sae.bench_settings import SaeBenchSettings, grid_variants
from dnalens.settings import from_mapping, schema_defaults


def _config(bench: dict, **sections) -> dict:
    """A validated-looking workflow config: the schema's sae defaults, the bundled tiny model (8 blocks, 128 wide)."""
    config = {
        "sae": {**schema_defaults("sae"), **sections.pop("sae", {})},
        "extract": {"layers": ["blocks.6", "blocks.4"]},
        "model": {"family": "tiny"},
        "sae_bench": bench,
    }
    config.update(sections)
    return config


def test_off_by_default():
    assert sae_bench_plan(_config({})).variants == ()
    assert not SaeBenchSettings().enabled


def test_grid_is_the_cartesian_product_named_from_its_values():
    got = grid_variants({"k": [8, 16], "lr": [0.004, 1e-3], "architecture": ["topk"]})
    assert [g["name"] for g in got] == [
        "k_8-lr_0.004-architecture_topk",
        "k_8-lr_0.001-architecture_topk",
        "k_16-lr_0.004-architecture_topk",
        "k_16-lr_0.001-architecture_topk",
    ]
    assert got[1] == {"name": "k_8-lr_0.001-architecture_topk", "k": 8, "lr": 1e-3, "architecture": "topk"}


def test_variants_are_the_runs_sae_settings_with_their_changes():
    plan = sae_bench_plan(
        _config({"variants": [{"name": "wide", "expansion": 16}], "grid": {"layer": ["blocks.4"], "k": [16, 64]}}),
        (),
    )
    assert plan.names == ["run", "wide", "layer_blocks.4-k_16", "layer_blocks.4-k_64"]
    run, wide, b4, _ = plan.variants
    base = {**schema_defaults("sae"), "strand_shared": True}  # auto, decided by the tiny model's concat rows
    assert run.overrides == {} and run.layer == "blocks.6"  # sae.layer null: the first extracted layer
    assert wide.sae == {**base, "expansion": 16, "layer": "blocks.6", "source": "train", "path": None}
    assert b4.layer == "blocks.4" and b4.sae["k"] == 16 and b4.sae["expansion"] == base["expansion"]
    assert plan.shared


def test_a_variant_equal_to_the_run_is_a_duplicate_naming_both():
    with pytest.raises(InputError) as err:
        sae_bench_plan(_config({"grid": {"layer": ["blocks.6", "blocks.4"]}}))
    assert "'run' and 'layer_blocks.6' have the same settings" in err.value.problem


def test_duplicate_names_are_refused():
    with pytest.raises(InputError, match="variant 'a' is listed twice"):
        sae_bench_plan(_config({"variants": [{"name": "a", "k": 4}, {"name": "a", "k": 5}]}))


@pytest.mark.parametrize(
    "variant, needles",
    [
        ({"name": "v", "holdout_fraction": 0.2}, ("'v'", "sae.holdout_fraction", "same held-out blocks")),
        ({"name": "v", "scope": "genome"}, ("'v'", "sae.scope")),
        ({"name": "v", "k": 0}, ("sae_bench variant 'v': sae.k must be >= 1",)),
        ({"name": "v", "architecture": "relu"}, ("sae_bench variant 'v': sae.architecture", "one of")),
        ({"name": "v", "expansoin": 4}, ("sae_bench variant 'v'", "expansoin")),
        ({"name": "../x", "k": 4}, ("sae_bench.variants[0].name", "'../x' does not match")),
    ],
)
def test_bad_variants_name_the_variant(variant, needles):
    with pytest.raises(InputError) as err:
        sae_bench_plan(_config({"variants": [variant]}))
    for needle in needles:
        assert needle in err.value.message, (needle, err.value.message)


def test_a_layer_outside_extract_layers_says_to_add_it():
    with pytest.raises(InputError) as err:
        sae_bench_plan(_config({"variants": [{"name": "deep", "layer": "blocks.5"}]}))
    assert "'deep' reads layer 'blocks.5'" in err.value.problem
    assert err.value.fix.startswith("add blocks.5 to extract.layers")


def test_a_layer_the_model_lacks_names_its_layers():
    config = _config({"variants": [{"name": "deep", "layer": "blocks.9"}]})
    config["extract"]["layers"].append("blocks.9")
    with pytest.raises(InputError) as err:
        sae_bench_plan(config)
    assert "which the model lacks (blocks.0 to blocks.7)" in err.value.problem  # the bundled model: 8 blocks


def test_k_at_or_past_the_dictionary_width():
    # the bundled model is 128 wide; tiny defaults to rc_pool concat: rows of 256 unless strand-shared (128 per state)
    assert row_width(model_facts({"family": "tiny"}), "blocks.6", strand_shared=False) == 256
    assert row_width(model_facts({"family": "tiny"}), "blocks.6", strand_shared=True) == 128
    assert row_width(model_facts({"family": "tiny"}), "blocks.6.mlp.l1", strand_shared=True) is None  # unknown
    whole = {"sae": {"strand_shared": False}}  # rows of 256: both strand passes read as one row
    sae_bench_plan(_config({"variants": [{"name": "ok", "expansion": 1, "k": 255}]}, **whole))
    with pytest.raises(InputError) as err:
        sae_bench_plan(_config({"variants": [{"name": "wide_k", "expansion": 1, "k": 256}]}, **whole))
    assert "'wide_k' has k 256 but its dictionary has only 256 latents" in err.value.problem
    with pytest.raises(InputError, match="only 128 latents"):
        sae_bench_plan(_config({"variants": [{"name": "s", "expansion": 1, "k": 128, "strand_shared": True}]}))


def test_evo2_width_without_loading_the_model():
    facts = model_facts({"family": "evo2", "name": "evo2_7b"})
    assert (facts.n_blocks, facts.d_model, facts.rc_pool) == (32, 4096, "none")


@pytest.mark.parametrize(
    "rule, needles",
    [
        ({"rank_by": ["concepts"]}, ("unknown metric 'concepts'", "train_concepts_passing")),
        ({"rank_by": ["fvu"]}, ("'fvu', a held-out metric", "use 'train_fvu'")),
        ({"at_most": {"concepts_annotated": 3}}, ("held-out metric", "'train_concepts_passing'")),
        ({"rank_by": []}, ("rank_by is empty",)),
    ],
)
def test_a_rule_may_name_train_metrics_only(rule, needles):
    with pytest.raises(InputError) as err:
        from_mapping(SaeBenchSettings, {"rule": rule}, where="sae_bench")
    for needle in needles:
        assert needle in err.value.message, (needle, err.value.message)


def test_errors_name_the_config_file_and_line(tmp_path):
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text("sae_bench:\n  variants:\n    - name: deep\n      layer: blocks.5\n")
    with pytest.raises(InputError) as err:
        sae_bench_plan(_config({"variants": [{"name": "deep", "layer": "blocks.5"}]}), [str(config_file)])
    assert (err.value.path, err.value.line) == (str(config_file), 3)


def test_the_snakefile_stops_before_any_job(tmp_path):
    """`snakemake -n` on a sweep with a k past the dictionary: one error naming the variant, no job planned."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text("sae_bench:\n  variants:\n    - name: too_dense\n      expansion: 1\n      k: 600\n")
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("snakemake")),
            "-n",
            "--cores",
            "1",
            "--configfile",
            str(repo / "config/config.yaml"),
            str(config_file),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"{config_file}:3: sae_bench variant 'too_dense' has k 600" in text
    assert "Job stats" not in text
