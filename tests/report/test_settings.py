from pathlib import Path

import yaml

from dnalens.report.options import ReportSettings
from dnalens.settings import from_mapping

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def test_schema_defaults_match_the_settings_dataclass():
    from snakemake.utils import validate

    config = {"genomes": {"g": {"genbank": "g.gb"}}}
    validate(config, str(SCHEMA))  # fills defaults
    assert from_mapping(ReportSettings, config["report"]) == ReportSettings()
    section = yaml.safe_load(SCHEMA.read_text())["properties"]["report"]
    assert set(section["properties"]) == set(ReportSettings.__dataclass_fields__)
    assert all("description" in v and "default" in v for v in section["properties"].values())


def test_every_report_caption_exists():
    import re

    rules = SCHEMA.parents[1] / "rules" / "report.smk"
    captions = re.findall(r'caption="([^"]+)"', rules.read_text())
    assert len(captions) >= 5
    for caption in captions:
        assert (rules.parent / caption).resolve().is_file(), caption


def test_sae_name_says_architecture_width_k_lookup_and_strands():
    from dnalens.report.inputs import sae_name

    quality = {"architecture": "jumprelu", "d_sae": 2048, "k": 32, "base_lookup": 3}
    assert sae_name({}, quality) == "jumprelu (2048 features, k=32, 3-mer lookup)"
    assert sae_name({}, {**quality, "base_lookup": 0}) == "jumprelu (2048 features, k=32)"
    assert sae_name({}, {**quality, "strand_shared": True}) == (
        "jumprelu (2048 features, k=32, 3-mer lookup, one dictionary for both strands)"
    )
    assert sae_name({"sae": "/x/y/my_sae"}, {}) == "my_sae"
