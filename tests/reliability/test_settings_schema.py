"""One source of truth for settings: the schema's defaults = every settings dataclass's defaults = what the
workflow's validated config holds, in every section; rule files carry no defaults of their own."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest
import yaml

from dnalens import settings as settings_mod
from dnalens.errors import InputError
from dnalens.settings import SETTINGS_CLASSES, from_mapping

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
# dataclass fields that are not config keys (set on the command line only); none today
CLI_ONLY: dict[str, set[str]] = {}


def _raw_schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())  # read here, not through dnalens.settings


def _section_properties(section: str) -> dict:
    schema = _raw_schema()
    body = schema["$defs"]["genome"] if section == "genomes" else schema["properties"][section]
    return body["properties"]


def _cls(section: str):
    module, name = SETTINGS_CLASSES[section].split(":")
    return getattr(importlib.import_module(module), name)


def _default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def _as_config(value):
    """A dataclass default as the config would hold it (tuples are lists)."""
    if isinstance(value, tuple):
        return [_as_config(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_config(v) for k, v in value.items()}
    return value


def test_every_schema_section_has_a_settings_dataclass():
    assert set(_raw_schema()["properties"]) == set(SETTINGS_CLASSES)


@pytest.mark.parametrize("section", sorted(SETTINGS_CLASSES))
def test_dataclass_keys_and_defaults_equal_the_schema(section):
    props = _section_properties(section)
    fields = {f.name: f for f in dataclasses.fields(_cls(section))}
    assert set(fields) - CLI_ONLY.get(section, set()) == set(props), "a key in only one of schema / dataclass"
    drift = {}
    for key, sub in props.items():
        assert "default" in sub and "description" in sub, f"{section}.{key} needs a default and a description"
        expected = sub["default"]
        if isinstance(expected, dict) and "properties" in sub:  # an object default: its keys' defaults
            expected = {**{k: v["default"] for k, v in sub["properties"].items()}, **expected}
        if _as_config(_default(fields[key])) != expected:
            drift[key] = (_default(fields[key]), expected)
    assert not drift, f"{section}: dataclass default != schema default: {drift}"


def test_tiny_model_defaults_are_the_schema_architecture_and_the_bundled_checkpoint():
    import json

    from dnalens.models.tiny import TinyConfig

    arch = _section_properties("training")["architecture"]["properties"]
    built = TinyConfig()
    assert {k: _as_config(getattr(built, k)) for k in arch} == {k: v["default"] for k, v in arch.items()}
    bundled = json.loads((ROOT / "resources/models/dnalens-tiny-bacteria/config.json").read_text())
    assert {k: bundled[k] for k in arch} == {k: v["default"] for k, v in arch.items()}


def test_snakemake_validate_fills_nested_defaults_equal_to_the_dataclasses():
    """The workflow (validated config) and a stage run by hand (dataclass defaults) get the same settings."""
    from snakemake.utils import validate

    config = {"genomes": {"g": {"genbank": "g.gb"}}}
    validate(config, str(SCHEMA))
    assert config["extract"]["layers"] == ["blocks.6"]
    assert config["training"]["architecture"]["d_model"] == 128  # an object nested in a section is filled too
    for section in SETTINGS_CLASSES:
        cls = _cls(section)
        if section == "genomes":
            assert from_mapping(cls, config["genomes"]["g"]) == cls(genbank="g.gb")
        else:
            assert from_mapping(cls, config[section], where=section) == cls(), section


def test_rule_files_read_the_validated_config_without_defaults_of_their_own():
    offenders = []
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"config\.get\(|config\[[^]]+\]\.get\(", line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.parametrize(
    ("section", "data", "needles"),
    [
        ("extract", {"layers": "blocks.6"}, ("extract.layers", "a list", "Fix:")),
        ("sae", {"k": 0}, ("sae.k", ">= 1", "Fix:")),
        ("sae", {"architecture": "relu"}, ("sae.architecture", "one of topk, batchtopk", "'relu'")),
        (
            "probe",
            {"test_fraction": 1.0},
            (
                "probe.test_fraction",
                "< 1",
            ),
        ),
        ("probe", {"n_null": True}, ("probe.n_null", "an integer", "True")),
        ("windows", {"stride": "wide"}, ("windows.stride", "an integer or null")),
        ("report", {"bigwig_features": [1, -2]}, ("report.bigwig_features[1]", ">= 0")),
        ("training", {"architecture": {"d_model": 2}}, ("training.architecture.d_model", ">= 4")),
        ("model", {"dtype": "int8"}, ("model.dtype", "one of auto")),
        ("concepts", {"tracks": [{"path": "t.bed", "name": 3}]}, ("t.bed", "concepts.tracks[0].name")),
    ],
)
def test_schema_violations_name_the_key_and_the_fix(section, data, needles):
    with pytest.raises(InputError) as err:
        from_mapping(_cls(section), data, where=section)
    for needle in needles:
        assert needle in err.value.message, (needle, err.value.message)


def test_unknown_keys_are_still_rejected_by_name():
    with pytest.raises(InputError) as err:
        from_mapping(_cls("sae"), {"expansoin": 4}, where="sae")
    assert "'expansoin'" in err.value.message and "expansion" in err.value.message


def test_valid_values_pass_and_lists_become_tuples():
    s = from_mapping(_cls("probe"), {"thresholds": [0.1, 0.2], "device": "auto"}, where="probe")
    assert s.thresholds == (0.1, 0.2) and s.device == "auto"


def test_schema_found_from_the_package_copy_else_a_clear_error(tmp_path, monkeypatch):
    copy = tmp_path / "schemas" / "config.schema.yaml"
    copy.parent.mkdir()
    copy.write_text(SCHEMA.read_text())
    monkeypatch.setattr(settings_mod, "SCHEMA_CANDIDATES", (copy, tmp_path / "nowhere.yaml"))
    assert settings_mod.schema_path() == copy
    monkeypatch.setattr(settings_mod, "SCHEMA_CANDIDATES", (tmp_path / "a.yaml", tmp_path / "b.yaml"))
    with pytest.raises(InputError, match="config schema config.schema.yaml is missing"):
        settings_mod.schema_path()


def test_wheel_build_step_copies_the_schema_into_the_package(tmp_path, monkeypatch):
    """The installed package finds the schema at dnalens/schemas/ (copied by the build step)."""
    from dnalens.models import _bundle_build

    assert settings_mod.SCHEMA_CANDIDATES[0].relative_to(Path(settings_mod.__file__).parent) == Path(
        "schemas/config.schema.yaml"
    )
    assert _bundle_build.SCHEMA_TARGET / _bundle_build.SCHEMA.name == Path("dnalens/schemas/config.schema.yaml")
    assert (ROOT / _bundle_build.SCHEMA).resolve() == SCHEMA.resolve()


def test_a_sections_own_path_key_is_not_named_as_the_file():
    with pytest.raises(InputError) as err:
        from_mapping(_cls("sae"), {"source": "load", "path": "x.pt", "k": 0}, where="sae")
    assert err.value.message.startswith("sae.k must be >= 1")


def test_list_length_message():
    with pytest.raises(InputError, match=r"extract.layers must have at least 1 item\(s\), not \[\]"):
        from_mapping(_cls("extract"), {"layers": []}, where="extract")
