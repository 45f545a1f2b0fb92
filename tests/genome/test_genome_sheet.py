"""Genome sheets (TSV, one row per genome) and several configfiles combined into one run
(src/dnalens/genome/sheet.py): parsing against hand-written entries and the shipped YAML configs, one
InputError per bad input naming the sheet, line and column, and a real `snakemake -n` over a sheet plus
a second configfile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dnalens.errors import InputError
from dnalens.genome.sheet import check_combined_configs, collect_genomes, read_genome_sheet

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
PLASMID = "NC_005816.gb"  # the sheets below run in a folder holding this file and v.fa


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory with two small local inputs; relative sheet paths resolve here."""
    (tmp_path / PLASMID).write_bytes((REPO / "resources/genomes/NC_005816.gb").read_bytes())
    (tmp_path / "v.fa").write_text(">c1\nACGT\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _sheet(where: Path, text: str, name: str = "genomes.tsv") -> Path:
    path = where / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _yaml(where: Path, name: str, data: dict) -> Path:
    path = where / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_sheet_parses_to_the_entries_written_by_hand(work):
    text = (
        "# two genomes\n"
        "name\tfasta\tgenbank\tannotation\tannotation_format\tgenetic_code\ttopology\tkingdom\tcontigs\n"
        "# a comment between rows\n"
        f"plasmid\t\t{PLASMID}\t\t\t\t\tprokaryote\t\n"
        "v\tv.fa\t\tpredict\tauto\t4\tcircular\tprokaryote\tc1, c2 ,c3\n"
        "remote\thttps://example.org/x.fa.gz\t\thttps://example.org/x.gff3\tgff3\n"  # short row: the rest empty
    )
    expected = {
        "plasmid": {"genbank": PLASMID, "kingdom": "prokaryote"},
        "v": {
            "fasta": "v.fa",
            "annotation": "predict",
            "annotation_format": "auto",
            "genetic_code": 4,
            "topology": "circular",
            "kingdom": "prokaryote",
            "contigs": ["c1", "c2", "c3"],
        },
        "remote": {  # URLs are not looked up
            "fasta": "https://example.org/x.fa.gz",
            "annotation": "https://example.org/x.gff3",
            "annotation_format": "gff3",
        },
    }
    assert read_genome_sheet(_sheet(work, text)) == expected
    crlf_with_bom = "\ufeff" + text.replace("\n", "\r\n")  # as a spreadsheet program saves it
    assert read_genome_sheet(_sheet(work, crlf_with_bom, "excel.tsv")) == expected


def test_the_shipped_sheet_equals_the_shipped_yaml_entries(monkeypatch):
    """config/genomes/six_bacteria.tsv against the same genomes written as YAML (the demo and ecoli_k12.yaml)."""
    monkeypatch.chdir(REPO)
    sheet = read_genome_sheet(REPO / "config/genomes/six_bacteria.tsv")
    yaml_entries = {
        **yaml.safe_load((REPO / "config/config.yaml").read_text())["genomes"],
        **yaml.safe_load((REPO / "config/genomes/ecoli_k12.yaml").read_text())["genomes"],
    }
    assert list(sheet) == ["chloroplast", "vcholerae_chr2", "ecoli_k12", "saureus_n315", "hpylori_g27", "cdiphtheriae"]
    # the demo also scores its designed VCF (`variants:`); the six-genome sheet scores none
    yaml_entries = {name: {k: v for k, v in e.items() if k != "variants"} for name, e in yaml_entries.items()}
    assert {name: sheet[name] for name in yaml_entries} == yaml_entries
    config = yaml.safe_load((REPO / "config/six_bacteria.yaml").read_text())
    assert config["genomes"] == "config/genomes/six_bacteria.tsv" and config["windows"]["max_tokens"] == 2_000_000


def test_a_sheet_and_the_same_genomes_as_yaml_validate_to_the_same_config(work):
    from snakemake.utils import validate

    entries = {
        "plasmid": {"genbank": PLASMID, "kingdom": "prokaryote", "contigs": ["NC_005816.1"]},
        "v": {"fasta": "v.fa", "annotation": "predict", "genetic_code": 11, "topology": "linear"},
    }
    from_yaml = {"genomes": collect_genomes([_yaml(work, "a.yaml", {"genomes": entries})], {})}
    sheet = _sheet(
        work,
        "name\tgenbank\tfasta\tannotation\tgenetic_code\ttopology\tkingdom\tcontigs\n"
        f"plasmid\t{PLASMID}\t\t\t\t\tprokaryote\tNC_005816.1\n"
        "v\t\tv.fa\tpredict\t11\tlinear\t\t\n",
    )
    from_sheet = {"genomes": collect_genomes([_yaml(work, "b.yaml", {"genomes": str(sheet)})], {})}
    assert from_sheet == from_yaml == {"genomes": entries}
    validate(from_yaml, str(SCHEMA))
    validate(from_sheet, str(SCHEMA))
    assert from_sheet == from_yaml and from_sheet["genomes"]["v"]["kingdom"] == "prokaryote"  # defaults filled


HEADER = "name\tgenbank\tfasta\tannotation\n"
GOOD = f"a\t{PLASMID}\t\t\n"


@pytest.mark.parametrize(
    ("text", "line", "needles"),
    [
        (HEADER + GOOD + GOOD, 3, ("column name", "'a'", "already named on line 2")),
        (HEADER + "a\tmissing.gb\t\t\n", 2, ("column genbank", "'missing.gb' not found")),
        (HEADER + "a\t\tmissing.fa\tpredict\n", 2, ("column fasta", "'missing.fa' not found")),
        (HEADER + "a\t\tv.fa\tmissing.gff3\n", 2, ("column annotation", "'missing.gff3' not found")),
        ("name\tgenbnk\n" + GOOD, 1, ("unknown column 'genbnk'",)),
        (HEADER + GOOD + "\t\t\t\n" + GOOD.replace("a", "b", 1), 3, ("empty row",)),
        (HEADER + GOOD + "   \n", 3, ("empty row",)),
        (HEADER + f"../x\t{PLASMID}\t\t\n", 2, ("column name", "'../x' cannot name a file or folder")),
        (HEADER + f"a/b\t{PLASMID}\t\t\n", 2, ("column name", "'a/b' cannot name a file or folder")),
        (HEADER + f"\t{PLASMID}\t\t\n", 2, ("column name", "no name")),
        ("# name\tgenbank\ngenbank\n" + f"{PLASMID}\n", 2, ("no `name` column",)),
        ("name\tgenbank\tname\n", 1, ("'name' appears twice",)),
        (HEADER + f"a\t{PLASMID}\t\t\textra\n", 2, ("5 cells", "4 columns")),
        ("name\tgenbank\ttopology\n" + f"a\t{PLASMID}\tNC_005816.1: circular\n", 2, ("column topology", "YAML")),
        ("name\tgenbank\tgenetic_code\n" + f"a\t{PLASMID}\televen\n", 2, ("column genetic_code", "not an integer")),
        ("name\tgenbank\tgenetic_code\n" + f"a\t{PLASMID}\t40\n", 2, ("column genetic_code", "maximum of 33")),
        ("name\tgenbank\tkingdom\n" + f"a\t{PLASMID}\tplant\n", 2, ("column kingdom", "'plant'")),
        ("name\tgenbank\tcontigs\n" + f"a\t{PLASMID}\t , \n", 2, ("column contigs", "names no contig")),
        ("name\tfasta\n" + "a\tftp://example.org/x.fa\n", 2, ("column fasta", "unsupported URL scheme")),
        (HEADER + f"a\t{PLASMID}\tv.fa\t\n", 2, ("column fasta/genbank", "exactly one of")),
        ("name\tkingdom\na\tprokaryote\n", 2, ("column fasta/genbank", "exactly one of")),
        ("name\tfasta\tannotation\tkingdom\na\tv.fa\tpredict\teukaryote\n", 2, ("column annotation", "pyrodigal")),
        ("# only comments\n", None, ("no header line",)),
        (HEADER, None, ("no genome rows",)),
    ],
    ids=[
        "duplicate-name",
        "missing-genbank",
        "missing-fasta",
        "missing-annotation",
        "unknown-column",
        "empty-row-tabs",
        "empty-row-spaces",
        "name-dotdot",
        "name-slash",
        "name-empty",
        "no-name-column",
        "column-twice",
        "too-many-cells",
        "topology-mapping",
        "genetic-code-text",
        "genetic-code-range",
        "kingdom",
        "contigs-empty",
        "ftp-url",
        "fasta-and-genbank",
        "neither",
        "predict-eukaryote",
        "no-header",
        "no-rows",
    ],
)
def test_a_bad_sheet_is_one_error_naming_the_file_line_and_column(work, text, line, needles):
    path = _sheet(work, text)
    with pytest.raises(InputError) as err:
        read_genome_sheet(path)
    assert err.value.path == str(path) and err.value.line == line
    for needle in needles:
        assert needle in err.value.message, (needle, err.value.message)
    assert err.value.fix


def test_relative_paths_in_a_sheet_are_relative_to_the_working_directory(work):
    nested = _sheet(work / "sheets", f"name\tgenbank\na\t{PLASMID}\n")  # the file is beside the cwd, not the sheet
    assert read_genome_sheet(nested) == {"a": {"genbank": PLASMID}}
    os.chdir(work / "sheets")
    (work / "sheets" / "here.gb").write_text("x")
    with pytest.raises(InputError, match=re.escape(f"'{PLASMID}' not found")):
        read_genome_sheet(nested)


def test_configfiles_union_their_genomes_and_refuse_a_name_defined_twice_differently(work):
    sheet = _sheet(work, f"name\tgenbank\tkingdom\na\t{PLASMID}\tprokaryote\nb\t{PLASMID}\torganelle\n")
    first = _yaml(work, "first.yaml", {"genomes": str(sheet)})
    second = _yaml(
        work, "second.yaml", {"genomes": {"c": {"fasta": "v.fa"}, "a": {"genbank": PLASMID, "kingdom": "prokaryote"}}}
    )
    no_genomes = _yaml(work, "settings.yaml", {"windows": {"length": 512}})
    merged = {"genomes": {"c": {"fasta": "v.fa"}}}  # what snakemake's deep merge left: the last file's mapping
    assert collect_genomes([first, second, no_genomes], merged) == {
        "a": {"genbank": PLASMID, "kingdom": "prokaryote"},  # the same entry in two files is fine
        "b": {"genbank": PLASMID, "kingdom": "organelle"},
        "c": {"fasta": "v.fa"},
    }
    clash = _yaml(work, "clash.yaml", {"genomes": {"b": {"genbank": PLASMID, "kingdom": "prokaryote"}}})
    with pytest.raises(InputError) as err:
        collect_genomes([first, clash], {})
    message = err.value.message
    assert "'b'" in message and str(sheet) in message and str(first) in message and str(clash) in message
    assert "`kingdom`" in message and "different names" in err.value.fix


def test_without_configfiles_the_config_genomes_are_used(work):
    sheet = _sheet(work, f"name\tgenbank\na\t{PLASMID}\n")
    assert collect_genomes([], {"genomes": str(sheet)}) == {"a": {"genbank": PLASMID}}
    assert collect_genomes([], {"genomes": {"x": {"fasta": "v.fa"}}}) == {"x": {"fasta": "v.fa"}}
    with pytest.raises(InputError, match="names no genomes"):
        collect_genomes([_yaml(work, "s.yaml", {"windows": {"length": 512}})], {})
    with pytest.raises(InputError, match="must be a mapping name -> genome entry, or the path"):
        collect_genomes([_yaml(work, "l.yaml", {"genomes": ["a", "b"]})], {})


@pytest.mark.parametrize(
    ("first", "second", "key"),
    [
        ({"model": {"family": "tiny"}}, {"model": {"family": "hf", "path": "m"}}, "model.family"),
        ({"model": {"trim": 256}}, {"model": {"trim": 15}}, "model.trim"),
        ({"sae": {"layer": "blocks.2"}}, {"sae": {"layer": "blocks.6"}}, "sae.layer"),
        ({"extract": {"layers": ["blocks.6"]}}, {"extract": {"layers": ["blocks.2"]}}, "extract.layers"),
        ({"windows": {"strands": "both"}}, {"windows": {"strands": "+"}}, "windows.strands"),
    ],
)
def test_configfiles_that_would_share_a_dictionary_across_models_are_refused(work, first, second, key):
    a, b = _yaml(work, "a.yaml", first), _yaml(work, "b.yaml", second)
    with pytest.raises(InputError) as err:
        check_combined_configs([a, b])
    assert str(a) in err.value.problem and str(b) in err.value.problem and f"`{key}`" in err.value.problem
    assert "separate snakemake runs" in err.value.fix and f"`{key}`" in err.value.fix


def test_only_keys_both_configfiles_set_are_compared(work):
    a = _yaml(work, "a.yaml", {"model": {"trim": 256}, "windows": {"strands": "both", "stride": 512}, "sae": {"k": 8}})
    b = _yaml(work, "b.yaml", {"model": {"batch_size": 4}, "windows": {"stride": 1024}, "sae": {"k": 64}})
    c = _yaml(work, "c.yaml", {"model": {"trim": 256}, "windows": {"strands": "both"}})
    check_combined_configs([a, b, c])  # model.trim / windows.strands agree; stride and sae.k are not shared settings
    check_combined_configs([a])


# --- the workflow: the Snakefile reads every configfile's genomes (slow: runs snakemake) ----------------------


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "1", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_sheet_and_a_second_configfile_run_in_one_dag(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "resources" / "genomes")  # a relative path, read from the working dir
    sheet = _sheet(
        tmp_path,
        "name\tgenbank\tfasta\tannotation\ttopology\tkingdom\n"
        "plasmid\tdata/NC_005816.gb\t\t\t\tprokaryote\n"
        "chloroplast\tdata/NC_000932.gb\t\t\t\torganelle\n"
        "vcholerae\t\tdata/vcholerae_O395_chr2.fasta.gz\tpredict\tcircular\tprokaryote\n",
    )
    sheet_config = _yaml(tmp_path, "sheet.yaml", {"genomes": "genomes.tsv", "windows": {"strands": "both"}})
    other = _yaml(
        tmp_path, "other.yaml", {"genomes": {"plasmid2": {"genbank": str(REPO / "resources/genomes/NC_005816.gb")}}}
    )
    run = _snakemake(tmp_path, "-n", "--configfile", str(sheet_config), str(other))
    assert run.returncode == 0, run.stderr[-3000:]
    genomes = set(re.findall(r"wildcards: genome=([^,\s]+)", run.stdout))
    assert genomes == {"plasmid", "chloroplast", "vcholerae", "plasmid2"}
    assert sheet.exists()

    # a bad row stops the run while the Snakefile is parsed: one error naming the sheet, line and column; nothing written
    _sheet(tmp_path, sheet.read_text() + "../x\tdata/NC_005816.gb\t\t\t\tprokaryote\n")
    bad = _snakemake(tmp_path, "--configfile", str(sheet_config), str(other))
    assert bad.returncode != 0
    assert "genomes.tsv:5: column name: name '../x' cannot name a file or folder" in bad.stdout + bad.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()

    # configfiles asking for different strand settings are refused, naming both files
    plus = _yaml(
        tmp_path, "plus.yaml", {"genomes": {"p": {"genbank": "data/NC_005816.gb"}}, "windows": {"strands": "+"}}
    )
    refused = _snakemake(tmp_path, "-n", "--configfile", str(other), str(plus), str(sheet_config))
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "`windows.strands`" in out and str(plus) in out and str(sheet_config) in out
