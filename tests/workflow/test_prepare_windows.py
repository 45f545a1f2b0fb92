"""The prepare and windows rules, run by snakemake itself on the 9.6 kb Yersinia plasmid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
pytestmark = pytest.mark.slow


def _snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",
        str(cfg),
    ]  # --configfile takes several values: keep it last
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


def _plasmid(source: str) -> dict:
    return {"genomes": {"plasmid": {"genbank": source}}, "windows": {"length": 1024, "strands": "both"}}


def test_prepare_and_windows_on_the_plasmid(tmp_path):
    run = _snakemake(tmp_path, _plasmid(str(REPO / "resources/genomes/NC_005816.gb")), "results/plasmid/windows.bed")
    assert run.returncode == 0, run.stderr[-3000:]
    out = tmp_path / "results" / "plasmid"
    rows = [line.split("\t") for line in (out / "windows.bed").read_text().splitlines()]
    # 9,609 bp circular, 1,024 bp windows, stride 1,024: ceil(9609 / 1024) = 10 windows x 2 strands.
    assert len(rows) == 20
    assert [int(r[1]) for r in rows[::2]] == list(range(0, 9216 + 1, 1024))
    assert rows[-1][:3] == ["NC_005816.1", "9216", "10240"] and rows[-1][5] == "-"  # wraps the origin
    assert (out / "genome.fa.fai").read_text().startswith("NC_005816.1\t9609\t")
    assert "Is_circular=true" in (out / "annotation.gff3").read_text()
    assert (tmp_path / "logs" / "plasmid" / "prepare.log").exists()
    again = _snakemake(tmp_path, _plasmid(str(REPO / "resources/genomes/NC_005816.gb")), "results/plasmid/windows.bed")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_unknown_config_key_stops_the_dry_run(tmp_path):
    run = _snakemake(tmp_path, {"genomes": {"g": {"genbank": "x.gb", "fastaa": "x.fa"}}}, "-n")
    assert run.returncode != 0
    assert "'fastaa' was unexpected" in run.stdout + run.stderr


def test_a_renamed_section_names_the_new_name_and_the_file(tmp_path):
    run = _snakemake(tmp_path, {"genomes": {"g": {"genbank": "x.gb"}}, "probing": {"n_null": 2}}, "-n")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "`probing:` is now called `probe:`" in out and str(tmp_path / "config.yaml") in out


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"genomes": {"g": {"genbank": "x.gb"}}, "windows": {"lenght": 5}}, "'lenght' was unexpected"),
        ({"genomes": {"g": {"fasta": "ftp://example.org/x.fa"}}}, "ftp://example.org/x.fa"),
        ({"genomes": {"g": {"genbank": "x.gb", "fasta": "x.fa"}}}, "'x.fa' is not of type 'null'"),
        ({"genomes": {"g": {"kingdom": "prokaryote"}}}, "not valid under any of the given schemas"),
        ({"genomes": {"g": {"fasta": "x.fa", "topology": "round"}}}, "round"),
    ],
)
def test_schema_rejects(config, needle):
    """The same validation the Snakefile runs (snakemake.utils.validate), in-process for speed."""
    from snakemake.utils import validate

    with pytest.raises(Exception) as err:
        validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    assert needle in str(err.value)


def test_schema_fills_defaults():
    from snakemake.utils import validate

    config = {"genomes": {"g": {"fasta": "x.fa"}}}
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    assert config["windows"]["length"] == 1024 and config["windows"]["stride"] is None
    assert config["genomes"]["g"]["kingdom"] == "prokaryote" and config["genomes"]["g"]["genbank"] is None


def test_url_genome_is_fetched_by_the_workflow(tmp_path):
    if "fetch.smk" not in (REPO / "Snakefile").read_text():
        pytest.skip("workflow/rules/fetch.smk is not included in the Snakefile yet")
    import functools
    import http.server
    import threading

    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "p.gb").write_bytes((REPO / "resources/genomes/NC_005816.gb").read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/p.gb"
        work = tmp_path / "work"
        work.mkdir()
        run = _snakemake(work, _plasmid(url), "results/plasmid/windows.bed")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert run.returncode == 0, run.stderr[-3000:]
    assert (work / "results/plasmid/downloads/genbank/p.gb").exists()
    assert len((work / "results/plasmid/windows.bed").read_text().splitlines()) == 20
