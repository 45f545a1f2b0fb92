"""Reliability of the whole workflow on the 9.6 kb Yersinia plasmid (real snakemake runs).

- Same config and seed -> byte-identical tables across two clean runs.
- kill -9 of snakemake (and every job it started) in the middle of extraction, then
  `snakemake --unlock` + `--rerun-incomplete` -> the same features.tsv (and every other table), byte for
  byte, as a clean run; the rerun resumes extraction from the shards already on disk.

A randomly initialised tiny model (never the shipped checkpoint) and reduced SAE/probing settings keep
each run at about 30-40 s on two cores. The clean run is shared by both tests (module fixture).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GENOME = "yersinia_plasmid"
LAYER = "blocks.3"
pytestmark = pytest.mark.slow

# Tables and arrays are compared byte for byte (JSON may hold timings, HTML a date, bigWig headers).
COMPARED_SUFFIXES = {".tsv", ".bed", ".gff3", ".fa", ".fai", ".sizes", ".npy", ".parquet", ".safetensors"}


def _config(model_dir: Path) -> dict:
    return {
        "genomes": {GENOME: {"genbank": str(REPO / "resources/genomes/NC_005816.gb"), "kingdom": "prokaryote"}},
        "windows": {"length": 1024, "strands": "both", "shards": 2},
        "model": {"path": str(model_dir), "device": "cpu", "batch_size": 1},
        # one window per activation shard: 20 shards, so a kill lands between shards of a part
        "extract": {"layers": [LAYER], "shard_tokens": 1024, "threads": 1},
        "sae": {
            "strand_shared": False,  # the counts below (sample windows, features) read rows whole
            "expansion": 2,
            "k": 4,
            "tokens": 20000,
            "batch_size": 1024,
            "device": "cpu",
            "checkpoint_every": 10,
            "quality_tokens": 5000,
            "loss_windows": 2,
        },
        "probe": {"n_null": 2, "min_null_draws": 10, "probes": False, "block_size": 2000},
        "report": {"top_n_tracks": 2, "detailed_features": 8, "max_cards": 4},
    }


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    import torch

    from dnalens.models.tiny import TinyConfig, TinyEvo
    from dnalens.models.training import save_model_dir

    root = tmp_path_factory.mktemp("reliability")
    torch.manual_seed(0)
    model = TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr", "li", "att"), mlp_ratio=2.0, medium_kernel=16))
    save_model_dir(model, root / "model")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(_config(root / "model")))
    return path


def _command(workdir: Path, config: Path, *args: str) -> list[str]:
    return [
        str(BIN / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
        "--configfile",
        str(config),
    ]  # --configfile takes several values: keep it last


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        _command(workdir, config, *args), cwd=workdir, env=_env(), capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return run


def _tables(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in COMPARED_SUFFIXES and ".tmp" not in p.name
    }


def _assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = _tables(a / "results"), _tables(b / "results")
    assert sorted(ta) == sorted(tb)
    differ = [name for name in ta if ta[name].read_bytes() != tb[name].read_bytes()]
    assert not differ, f"{len(differ)} of {len(ta)} files differ: {differ[:10]}"


@pytest.fixture(scope="module")
def clean_run(config_file, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("clean")
    _snakemake(work, config_file)
    return work


def test_clean_run_outputs(clean_run):
    out = clean_run / "results" / GENOME
    for name in (
        "features.tsv",
        "feature_concepts.tsv",
        "top_windows.tsv",
        "hits.gff3.gz",
        "report.html",
        "labels_summary.tsv",
        "sae_quality.json",
    ):
        assert (out / name).stat().st_size > 0, name
    # the dense sample (here the whole plasmid: sae.tokens exceeds it) is temp(): gone once its readers ran
    assert len((out / "sample" / "windows.bed").read_text().splitlines()) == 20
    assert not (out / "activations").exists() and not (out / "sample" / LAYER).exists()
    assert not (out / "labels_parts").exists() and not (out / "codes_parts").exists()  # temp() parts gathered
    assert not (out / "codes").exists()  # the buffer holds the one copy of the codes, row-major, uint16 indices
    assert not list((out / "buffer").glob("features.*"))
    assert np.load(out / "buffer" / "codes.indices.npy", mmap_mode="r").dtype == np.uint16
    reused = [
        int(m)
        for log in (clean_run / "logs" / GENOME).glob("encode_part-*.log")
        for m in re.findall(r"\((\d+) encoded from the stored dense sample, 0 recomputed\)", log.read_text())
    ]
    assert len(reused) == 2 and sum(reused) == 20  # the whole-genome sample is encoded, not run again
    header = (out / "features.tsv").read_text().splitlines()[0].split("\t")
    assert header[0] == "latent"
    assert len((out / "features.tsv").read_text().splitlines()) == 1 + 64  # d_in 32 (rc concat of 16) x 2


def test_train_once_annotate_anywhere(clean_run, config_file, tmp_path):
    """The shared dictionary one config trained (results/dictionaries/<name>/), loaded by another config
    (sae.source: load), encodes the genome into the very same codes."""
    found = sorted(p.name for p in (clean_run / "results" / "dictionaries").iterdir() if p.is_dir())
    assert len(found) == 2 and found[1] == found[0] + "-replicate", found  # the dictionary and its seed + 1 twin
    dictionary = clean_run / "results" / "dictionaries" / found[0]
    assert dictionary.name.startswith("tiny_model-blocks.3-") and (dictionary / "cfg.json").is_file()
    assert not (clean_run / "results" / GENOME / "sae").exists()  # no per-genome SAE by default
    config = yaml.safe_load(config_file.read_text())
    config["sae"].update(source="load", path=str(dictionary))
    loading = tmp_path / "load.yaml"
    loading.write_text(yaml.safe_dump(config))
    _snakemake(tmp_path, loading, f"results/{GENOME}/buffer")
    assert not (tmp_path / "results" / "dictionaries").exists()  # nothing trained
    for name in ("codes.indptr.npy", "codes.indices.npy", "codes.values.npy"):
        ours, theirs = tmp_path / "results" / GENOME / "buffer" / name, clean_run / "results" / GENOME / "buffer" / name
        assert ours.read_bytes() == theirs.read_bytes(), name
    # each buffer records which dictionary encoded it: its path and a digest of its weights
    ours, theirs = (
        json.loads((r / "results" / GENOME / "buffer" / "buffer.json").read_text()) for r in (tmp_path, clean_run)
    )
    assert theirs["sae"] == f"results/dictionaries/{found[0]}" and ours["sae"] == str(dictionary)
    assert ours["sae_digest"] == theirs["sae_digest"] and theirs["sae_digest"].startswith("crc32:")


def test_same_config_same_bytes(clean_run, config_file, tmp_path):
    _snakemake(tmp_path, config_file)
    _assert_same_tables(clean_run, tmp_path)
    assert len(_tables(tmp_path / "results")) > 40


def test_kill_9_during_extraction_then_rerun_gives_the_same_bytes(clean_run, config_file, tmp_path):
    layer_dir = tmp_path / "results" / GENOME / "sample" / LAYER  # where the sample's parts write
    proc = subprocess.Popen(
        _command(tmp_path, config_file),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # own process group
    try:
        deadline = time.monotonic() + 240
        while not list(layer_dir.glob("shard-*.json")):
            assert proc.poll() is None, "snakemake finished before any extraction shard appeared"
            assert time.monotonic() < deadline, "no extraction shard appeared within 240 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every dnalens job it started
        proc.wait()
    done_at_kill = len(list(layer_dir.glob("shard-*.json")))
    assert 1 <= done_at_kill < 20 and not (layer_dir / "manifest.json").exists(), "kill did not land mid-extraction"
    assert not (tmp_path / "results" / GENOME / "features.tsv").exists()

    subprocess.run(
        _command(tmp_path, config_file, "--unlock"),
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    _snakemake(tmp_path, config_file, "--rerun-incomplete")

    # Extraction resumed: the rerun parts computed only the shards missing at the kill, not all 20.
    todo = [
        int(m)
        for log in (tmp_path / "logs" / GENOME).glob("sample_part-*.log")
        for m in re.findall(r"shard\(s\), (\d+) to do", log.read_text())
    ]
    assert len(todo) == 2 and sum(todo) < 20
    clean = (clean_run / "results" / GENOME / "features.tsv").read_bytes()
    assert (tmp_path / "results" / GENOME / "features.tsv").read_bytes() == clean
    _assert_same_tables(clean_run, tmp_path)
