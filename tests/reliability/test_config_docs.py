"""config/README.md documents every key of the config schema: a key named in the schema but absent from
the README is a setting users cannot find (and a README cut short by an edit loses whole sections)."""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_every_schema_key_is_in_config_readme():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    doc = (REPO / "config/README.md").read_text()
    missing = []
    for section, spec in schema["properties"].items():
        if f"`{section}.*`" in doc:  # the section's table points to the schema for all its keys
            continue
        for key in spec.get("properties") or {}:
            named = f"`{section}.{key}`" in doc or f"`{key}`" in doc
            if not named and not re.search(rf"^\s+{re.escape(key)}:", doc, re.M):
                missing.append(f"{section}.{key}")
    assert not missing, f"config/README.md does not mention: {', '.join(missing)}"
