"""Config paths and URLs: genome sources may be local paths or http(s) URLs; every other path is local.

The same validation the Snakefile runs (snakemake.utils.validate against the workflow schema), in-process.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[2]
SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")
BASE = {"genomes": {"g": {"fasta": "genome.fa"}}}


def _with(**sections) -> dict:
    config = copy.deepcopy(BASE)
    config.update(copy.deepcopy(sections))
    return config


@pytest.mark.parametrize(
    "url",
    ["http://example.org/g.fa", "https://example.org/g.fa.gz", "genome.fa", "/data/genome.fa", "C:/data/genome.fa"],
)
def test_genome_source_accepts_local_paths_and_http(url):
    config = {"genomes": {"g": {"fasta": url, "annotation": url}}}
    validate(config, SCHEMA)
    assert config["genomes"]["g"]["fasta"] == url


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/g.fa", "file:///etc/passwd", "s3://bucket/g.fa", "gs://bucket/g.fa", "HTTP+unix://x/g.fa"],
)
@pytest.mark.parametrize("key", ["fasta", "genbank", "annotation"])
def test_genome_source_refuses_other_schemes(url, key):
    entry = {"genbank": url} if key == "genbank" else {"fasta": "g.fa", key: url} if key == "annotation" else {key: url}
    with pytest.raises(Exception) as err:
        validate({"genomes": {"g": entry}}, SCHEMA)
    assert url in str(err.value)


@pytest.mark.parametrize(
    "sections",
    [
        {"model": {"path": "https://example.org/model"}},
        {"sae": {"source": "load", "path": "s3://bucket/sae.pt"}},
        {"training": {"genomes": ["ftp://example.org/a.fa"]}},
        {"concepts": {"tracks": ["http://example.org/t.bed"]}},
        {"concepts": {"tracks": [{"path": "https://example.org/t.gff3", "type": "gene"}]}},
        {"concepts": {"motifs": ["https://example.org/m.jaspar"]}},
        {"concepts": {"motifs": [{"path": "ftp://example.org/m.meme"}]}},
        {"model": {"path": ""}},
    ],
    ids=["model", "sae", "training", "track", "track-object", "motif", "motif-object", "empty-path"],
)
def test_local_only_paths_refuse_urls(sections):
    with pytest.raises(Exception):
        validate(_with(**sections), SCHEMA)


def test_local_paths_pass_and_defaults_stay():
    config = _with(
        model={"path": "results/models/m"},
        sae={"source": "load", "path": "sae/layer26"},
        concepts={"tracks": ["t.bed", {"path": "u.gff3", "type": "gene"}], "motifs": ["m.jaspar"]},
    )
    validate(config, SCHEMA)
    assert config["model"]["path"] == "results/models/m" and config["sae"]["path"] == "sae/layer26"
    plain = _with()
    validate(plain, SCHEMA)
    assert plain["model"]["path"] is None and plain["sae"]["path"] is None


def test_every_bundled_config_is_valid():
    for path in [REPO / "config" / "config.yaml", *sorted((REPO / "config" / "genomes").glob("*.yaml"))]:
        validate(yaml.safe_load(path.read_text()), SCHEMA)
