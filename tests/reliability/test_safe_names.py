"""Config values that become paths (#22): a genome called `../../escape` is refused by the schema and the CLI,
with one error naming the key, and nothing is planned outside results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dnalens import cli
from dnalens.errors import InputError
from dnalens.settings import safe_name

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


@pytest.mark.parametrize("name", ["chloroplast", "vcholerae_chr2", "E.coli-K12", "blocks.6", "a_b.c-d"])
def test_ordinary_names_pass(name):
    assert safe_name(name, "genomes") == name


@pytest.mark.parametrize("name", ["../../escape", "..", ".hidden", "a..b", "a/b", "pl; rm -rf x", "", "é"])
def test_path_like_names_are_refused_naming_the_key(name):
    with pytest.raises(InputError) as err:
        safe_name(name, "genomes")
    assert err.value.problem.startswith("genomes ") and "letters, digits" in err.value.fix


def test_cli_refuses_a_genome_name_that_would_escape(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(
            [
                "buffer",
                "--codes",
                str(tmp_path),
                "--labels",
                str(tmp_path),
                "--genome",
                "../../escape",
                "--out",
                str(tmp_path / "b"),
            ]
        )
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--genome" in err and "'../../escape' cannot name a file or folder" in err
    assert not (tmp_path / "b").exists()


def test_workflow_refuses_an_escaping_genome_name(tmp_path):
    """`snakemake -n` on a config whose genome name climbs out: the schema stops it before any job is planned."""
    config = tmp_path / "bad.yaml"
    config.write_text(
        'genomes:\n  "../../escape":\n    genbank: resources/genomes/NC_000932.gb\n    kingdom: organelle\n'
    )
    run = subprocess.run(
        [str(SNAKEMAKE), "-n", "--cores", "1", "--configfile", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "../../escape" in text and "does not match" in text
    assert "results/../../escape" not in text
