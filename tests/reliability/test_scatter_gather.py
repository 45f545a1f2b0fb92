"""Scatter + gather equals one job: the labels and encode stages split into windows.shards parts and
merged give the same bytes as an unscattered run (the workflow rules `labels_part`/`labels` and
`encode_part`/`encode` run exactly these commands)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dnalens.cli import main

REPO = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_same_tree(a: Path, b: Path) -> None:
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    assert [name for name in fa if fa[name] != fb[name]] == []


@pytest.fixture(scope="module")
def plasmid(tmp_path_factory) -> Path:
    """The Yersinia plasmid prepared and tiled (20 windows, both strands) by the CLI."""
    root = tmp_path_factory.mktemp("plasmid")
    spec = {"genbank": str(REPO / "resources/genomes/NC_005816.gb"), "kingdom": "prokaryote"}
    assert main(["prepare", "--name", "p", "--genome-settings", json.dumps(spec), "--outdir", str(root)]) == 0
    assert (
        main(
            [
                "windows",
                "--fasta",
                str(root / "genome.fa"),
                "--genome-info",
                str(root / "genome.json"),
                "--annotation",
                str(root / "annotation.gff3"),
                "--settings",
                json.dumps({"length": 1024}),
                "--out",
                str(root / "windows.bed"),
            ]
        )
        == 0
    )
    return root


@pytest.mark.parametrize("parts", [1, 3, 32])  # 32 parts > 20 windows: some parts are empty
def test_labels_parts_merge_to_the_unscattered_store(plasmid, tmp_path, parts):
    common = [
        "--fasta",
        str(plasmid / "genome.fa"),
        "--annotation",
        str(plasmid / "annotation.gff3"),
        "--windows",
        str(plasmid / "windows.bed"),
        "--genome-info",
        str(plasmid / "genome.json"),
    ]
    whole = tmp_path / "whole"
    assert (
        main(
            [
                "labels",
                *common,
                "--out",
                str(whole / "labels"),
                "--export-bed",
                str(whole / "bed"),
                "--summary",
                str(whole / "summary.tsv"),
            ]
        )
        == 0
    )
    shards = [str(tmp_path / f"part-{i}") for i in range(parts)]
    for i, out in enumerate(shards):
        assert main(["labels", *common, "--shard", f"{i}/{parts}", "--out", out]) == 0
    merged = tmp_path / "merged"
    assert (
        main(
            [
                "labels-merge",
                *shards,
                "--out",
                str(merged / "labels"),
                "--export-bed",
                str(merged / "bed"),
                "--summary",
                str(merged / "summary.tsv"),
            ]
        )
        == 0
    )
    _assert_same_tree(whole, merged)
    assert json.loads((merged / "labels" / "meta.json").read_text())["n_windows"] == 20


def _activations(path: Path, windows_per_shard: list[int], d: int = 8) -> None:
    from dnalens.formats.activation_shards import write_manifest, write_shard

    rng = np.random.default_rng(1)
    row = 0
    for idx, n_windows in enumerate(windows_per_shard):
        lengths = rng.integers(3, 12, size=n_windows)
        arr = rng.standard_normal((int(lengths.sum()), d)).astype(np.float16)
        write_shard(
            path,
            idx,
            arr,
            list(range(row, row + n_windows)),
            np.concatenate([[0], np.cumsum(lengths)]).tolist(),
            {"layer": "blocks.0"},
        )
        row += n_windows
    write_manifest(path, {"layer": "blocks.0"})


@pytest.mark.parametrize("parts", [2, 4, 9])  # 9 parts > 7 shards: some parts hold no shard
def test_encode_parts_merge_to_the_unscattered_codes(tmp_path, parts):
    import torch

    from dnalens.sae.io import save_sae
    from dnalens.sae.topk import TopKSAE

    acts = tmp_path / "acts"
    _activations(acts, [3, 1, 4, 2, 2, 5, 1])
    torch.manual_seed(0)
    save_sae(TopKSAE(8, 24, k=3), tmp_path / "sae")
    base = ["encode", "--sae", str(tmp_path / "sae"), "--activations", str(acts), "--settings", '{"device": "cpu"}']
    assert main([*base, "--out", str(tmp_path / "whole")]) == 0
    part_dirs = [str(tmp_path / f"part-{i}") for i in range(parts)]
    for i, out in enumerate(part_dirs):
        assert main([*base, "--part", str(i), "--parts", str(parts), "--out", out]) == 0
    assert main(["encode-merge", *part_dirs, "--activations", str(acts), "--out", str(tmp_path / "merged")]) == 0
    _assert_same_tree(tmp_path / "whole", tmp_path / "merged")
    assert len(json.loads((tmp_path / "merged" / "manifest.json").read_text())["shards"]) == 7


def test_encode_merge_refuses_a_missing_part(tmp_path, capsys):
    import torch

    from dnalens.sae.io import save_sae
    from dnalens.sae.topk import TopKSAE

    acts = tmp_path / "acts"
    _activations(acts, [2, 2, 2])
    torch.manual_seed(0)
    save_sae(TopKSAE(8, 16, k=2), tmp_path / "sae")
    base = ["encode", "--sae", str(tmp_path / "sae"), "--activations", str(acts), "--parts", "3"]
    for i in (0, 2):
        assert main([*base, "--part", str(i), "--out", str(tmp_path / f"part-{i}")]) == 0
    capsys.readouterr()
    code = main(
        [
            "encode-merge",
            str(tmp_path / "part-0"),
            str(tmp_path / "part-2"),
            "--activations",
            str(acts),
            "--out",
            str(tmp_path / "codes"),
        ]
    )
    assert code == 2 and "hold 2 shards, the activations 3" in capsys.readouterr().err
    assert not (tmp_path / "codes").exists()
