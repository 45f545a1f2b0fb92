"""config/README.md documents every key of the config schema where a user looks for it: in the chapter of its
own section (`## probe`, `## model, training, extract`, ...), either in that chapter's YAML block under the
section or in a table row naming it (`key` or `section.key`). A key named only somewhere else (another
section has a key of the same name), a row that waves a whole section through (`training.*`: see schema)
or a README cut short by an edit all fail. The values the chapter's first YAML block shows are the schema's
defaults, except the few listed below, which show an example on purpose."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# (section, key) -> why the README's YAML block shows another value than the schema default
NOT_DEFAULTS = {
    ("concepts", "exclude"): "the chapter's block is an example config",
    ("concepts", "motifs"): "the chapter's block is an example config",
    ("concepts", "tracks"): "the chapter's block is an example config",
    ("training", "genomes"): "the four bundled genomes, abbreviated",
    ("training", "architecture"): "the schema default {} means the bundled checkpoint's shape, shown in full",
}


def _schema() -> dict:
    return yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def _chapters(doc: str) -> dict[str, str]:
    """section name -> the text of the `## ...` chapter whose heading lists it."""
    out = {}
    for chapter in re.split(r"^## ", doc, flags=re.M)[1:]:
        for name in chapter.splitlines()[0].split(","):
            out[name.strip()] = chapter
    return out


def _yaml_block(chapter: str, section: str) -> dict:
    """The section's mapping in the chapter's first YAML block ({} when there is none)."""
    blocks = re.findall(r"```yaml\n(.*?)```", chapter, re.S)
    data = yaml.safe_load(blocks[0]) if blocks else None
    return data.get(section) or {} if isinstance(data, dict) else {}


def _row_names(chapter: str) -> set[str]:
    """Every `name` in the first cell of the chapter's table rows."""
    names = set()
    for line in chapter.splitlines():
        if line.startswith("|") and line.count("|") >= 3:
            names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def documented_keys(doc: str, section: str) -> set[str]:
    chapter = _chapters(doc).get(section, "")
    rows = _row_names(chapter)
    named = {name.split(".", 1)[1] for name in rows if name.startswith(f"{section}.")}
    return set(_yaml_block(chapter, section)) | named | {name for name in rows if "." not in name}


def missing_keys(doc: str, schema: dict) -> list[str]:
    missing = []
    for section, spec in schema["properties"].items():
        documented = documented_keys(doc, section)
        missing += [f"{section}.{key}" for key in spec.get("properties") or {} if key not in documented]
    return missing


def test_every_schema_key_is_in_its_own_chapter_of_config_readme():
    missing = missing_keys((REPO / "config/README.md").read_text(), _schema())
    assert not missing, f"config/README.md does not document, in the key's own chapter: {', '.join(missing)}"


def test_shown_defaults_are_the_schema_defaults():
    doc, schema = (REPO / "config/README.md").read_text(), _schema()
    wrong = []
    for section, spec in schema["properties"].items():
        shown = _yaml_block(_chapters(doc).get(section, ""), section)
        for key, value in shown.items():
            sub = (spec.get("properties") or {}).get(key, {})
            if "default" in sub and (section, key) not in NOT_DEFAULTS and value != sub["default"]:
                wrong.append(f"{section}.{key}: README {value!r}, schema {sub['default']!r}")
    assert not wrong, "config/README.md shows other defaults than the schema:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "doc, found",
    [
        ("## probe\n\n| key | default | meaning |\n|---|---|---|\n| `min_margin` | 0.05 | x |\n", True),
        ("## probe\n\n```yaml\nprobe:\n  min_margin: 0.05\n```\n", True),
        ("## report\n\n| `report.min_margin` | null | x |\n", False),  # another section's chapter
        ("## probe\n\nThe margin (`min_margin`) is explained in prose only.\n", False),  # no table, no block
        ("## probe\n\n| `probe.*` | see schema | all keys |\n", False),  # a whole section waved through
    ],
)
def test_the_check_needs_the_key_in_its_own_chapter(doc, found):
    assert ("min_margin" in documented_keys(doc, "probe")) == found


def test_stated_exceptions_are_still_in_the_schema():
    schema = _schema()["properties"]
    stale = [place for place in NOT_DEFAULTS if place[1] not in (schema[place[0]].get("properties") or {})]
    assert not stale, f"exceptions for keys the schema no longer has: {stale}"
