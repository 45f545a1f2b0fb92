"""`dnalens sample` / `sample-merge`, and the old names `extract` / `extract-merge` kept for one release: the old
names write the very same shards and manifests, and say once on stderr which name to use instead."""

import json
import signal

import numpy as np
import pytest

from dnalens import cli
from dnalens.formats.activation_shards import read_manifest
from dnalens.formats.window_table import Window, write_windows_bed

LAYER = "blocks.1"


@pytest.fixture()
def inputs(tmp_path, tiny_model_dir):
    rng = np.random.default_rng(3)
    fa = tmp_path / "g.fa"
    fa.write_text(">chr\n" + "".join(rng.choice(list("ACGT"), 600)) + "\n")
    bed = tmp_path / "windows.bed"
    write_windows_bed([Window("chr", s, s + 60, st, f"w{s}{st}") for s in range(0, 540, 60) for st in "+-"], bed)
    spec = json.dumps({"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "none"})
    settings = json.dumps({"layers": [LAYER], "shard_tokens": 200})
    return ["--fasta", str(fa), "--windows", str(bed), "--model", spec, "--settings", settings]


def _run(argv, capsys) -> str:
    """cli.main(argv) -> its stderr; the SIGTERM handler cli.main installs is put back."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        capsys.readouterr()
        assert cli.main(argv) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    return capsys.readouterr().err


def _deprecation_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "deprecated" in line]


def _files(layer_dir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(layer_dir.iterdir())}


def test_old_names_give_the_same_bytes_and_one_deprecation_line(inputs, tmp_path, capsys):
    new = _run(["sample", *inputs, "--out", str(tmp_path / "new")], capsys)
    old = _run(["extract", *inputs, "--out", str(tmp_path / "old")], capsys)
    assert _deprecation_lines(new) == []
    assert _deprecation_lines(old) == [
        "dnalens extract: deprecated name, use `dnalens sample` (same arguments); the old name goes in the next release"
    ]
    want = _files(tmp_path / "new" / LAYER)
    assert len([n for n in want if n.startswith("shard-") and n.endswith(".npy")]) > 1  # several shards compared
    assert _files(tmp_path / "old" / LAYER) == want

    # scatter parts under the new name, gathered under the old one (and the other way round)
    for root, merge in (("parts_old_merge", "extract-merge"), ("parts_new_merge", "sample-merge")):
        for part in (0, 1):
            done = tmp_path / root / "parts" / f"part-{part}.json"
            stderr = _run(
                ["sample", *inputs, "--out", str(tmp_path / root), "--part", str(part), "--parts", "2"]
                + ["--done", str(done)],
                capsys,
            )
            assert _deprecation_lines(stderr) == [] and json.loads(done.read_text())["part"] == part
        published = tmp_path / f"{root}_published"
        stderr = _run([merge, *inputs, "--out", str(tmp_path / root), "--publish", str(published)], capsys)
        expected = (
            [
                "dnalens extract-merge: deprecated name, use `dnalens sample-merge` (same arguments); the old name goes"
                " in the next release"
            ]
            if merge == "extract-merge"
            else []
        )
        assert _deprecation_lines(stderr) == expected
        assert _files(published / LAYER) == want
        assert read_manifest(published / LAYER)["total_tokens"] == 9 * 2 * 60


def test_help_lists_only_the_new_names():
    text = cli.build_parser().format_help()
    assert "sample-merge" in text and "sample-windows" in text
    assert "extract" not in text
