"""http(s) inputs: download from a server started on 127.0.0.1 for the test."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from dnalens.cli import main
from dnalens.errors import InputError
from dnalens.genome.prepare import run_prepare
from dnalens.genome.sources import fetch_url, local_sources, url_filename


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture()
def server(tmp_path, genomes_dir):
    root = tmp_path / "www"
    root.mkdir()
    (root / "NC_005816.gb").write_bytes((genomes_dir / "NC_005816.gb").read_bytes())
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_fetch_url_downloads_exact_bytes(server, tmp_path):
    base, root = server
    out = fetch_url(f"{base}/NC_005816.gb", tmp_path / "d" / "x.gb")
    assert out.read_bytes() == (root / "NC_005816.gb").read_bytes()


def test_fetch_errors(server, tmp_path, capsys):
    base, _ = server
    with pytest.raises(InputError, match="HTTP 404"):
        fetch_url(f"{base}/missing.gb", tmp_path / "m.gb", attempts=1)
    assert not (tmp_path / "m.gb").exists()
    with pytest.raises(InputError, match="unsupported URL scheme"):
        fetch_url("ftp://example.org/x.fa", tmp_path / "f.fa")
    assert main(["fetch", "--url", f"{base}/missing.gb", "--out", str(tmp_path / "cli.gb")]) == 2
    assert "HTTP 404" in capsys.readouterr().err
    assert not (tmp_path / "cli.gb").exists()


def test_prepare_from_a_url(server, tmp_path):
    base, _ = server
    url = f"{base}/NC_005816.gb?download=1"
    spec = {"genbank": url}
    downloads = tmp_path / "out" / "downloads"
    local = local_sources(spec, downloads)["genbank"]
    assert local == str(downloads / "genbank" / "NC_005816.gb") and url_filename(url) == "NC_005816.gb"
    assert main(["fetch", "--url", url, "--out", local]) == 0
    info = run_prepare("plasmid", spec, tmp_path / "out", downloads)
    assert info.sources["genbank"]["given"] == url
    assert json.loads((tmp_path / "out" / "genome.json").read_text())["contigs"][0]["topology"] == "circular"
    with pytest.raises(InputError, match="unsupported URL scheme"):
        local_sources({"fasta": "ftp://example.org/g.fa"}, downloads)
