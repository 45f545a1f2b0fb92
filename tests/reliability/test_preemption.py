"""SIGTERM (pre-emption, requeue, time limit; #22): stop at the last complete shard or step, keep nothing
partial, exit 143 with one line, and resume on the rerun to the bytes of an undisturbed run.

The sample test is a real `dnalens sample` process killed with SIGTERM mid-run; the others send
SIGTERM to this process at a chosen point (deterministic) with the CLI's handler installed.
"""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens import preemption
from dnalens.formats.activation_shards import shard_problem

LAYER = "blocks.1"


@pytest.fixture()
def handler():
    """The CLI's SIGTERM handler in this process for one test; the previous one restored after."""
    previous = signal.getsignal(signal.SIGTERM)
    preemption.install()
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_model_dir):
    """The tiny random model, a 1.5 kb genome and 24 windows of 50-70 nt, one shard per window."""
    from dnalens.formats.window_table import Window, write_windows_bed

    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(5)
    (root / "g.fa").write_text(">chr\n" + "".join(rng.choice(list("ACGT"), 1500)) + "\n")
    wins = [
        Window("chr", s, s + 50 + 10 * (i % 3), "+" if i % 2 == 0 else "-", f"w{i}")
        for i, s in enumerate(range(0, 1440, 60))
    ]
    write_windows_bed(wins, root / "windows.bed")
    return root, {"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "none", "batch_size": 1}


SETTINGS = {"layers": [LAYER], "shard_tokens": 40}


def _argv(root: Path, spec: dict, out: Path) -> list[str]:
    settings = SETTINGS
    return [
        str(Path(sys.executable).with_name("dnalens")),
        "sample",
        "--fasta",
        str(root / "g.fa"),
        "--windows",
        str(root / "windows.bed"),
        "--model",
        json.dumps(spec),
        "--settings",
        json.dumps(settings),
        "--out",
        str(out),
    ]


def _leftovers(directory: Path) -> list[str]:
    """Temporary siblings of atomic writes and .npy files without their JSON commit marker."""
    names = [p.name for p in directory.iterdir()]
    orphans = [n for n in names if n.endswith(".npy") and n.startswith("shard-") and f"{n[:-4]}.json" not in names]
    return [n for n in names if ".tmp-" in n] + orphans


def test_sigterm_stops_the_sample_at_a_complete_shard_and_the_rerun_is_byte_identical(tiny, tmp_path):
    from dnalens.sample.stage import ExtractSettings, run_sample

    root, spec = tiny
    # undisturbed: the function the CLI calls, in this process (spares one torch start-up)
    run_sample(
        root / "g.fa", root / "windows.bed", spec, ExtractSettings(layers=(LAYER,), shard_tokens=40), tmp_path / "plain"
    )
    n_shards = len(list((tmp_path / "plain" / LAYER).glob("shard-*.json")))
    assert n_shards == 24

    out = tmp_path / "stopped"
    proc = subprocess.Popen(_argv(root, spec, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / LAYER / "shard-00002.json").exists():  # mid-run: after a few shards
        assert proc.poll() is None and time.monotonic() < deadline, "the sample ended before it could be stopped"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == preemption.EXIT_CODE == 143, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("dnalens sample: stopped by SIGTERM (pre-emption, requeue or time limit) after ")
    assert "nothing partial was kept" in last and "resumes from the last complete shard" in last
    assert "Traceback" not in stderr
    layer = out / LAYER
    kept = sorted(layer.glob("shard-*.json"))
    assert 3 <= len(kept) < n_shards and not (layer / "manifest.json").exists()
    assert _leftovers(layer) == []
    for js in kept:  # every kept shard is complete: size and CRC-32 match its marker
        assert shard_problem(layer, json.loads(js.read_text()), verify=True) is None

    os.utime(kept[0].with_suffix(".npy"), (1, 1))
    rerun = subprocess.run(_argv(root, spec, out), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert kept[0].with_suffix(".npy").stat().st_mtime == 1  # resumed: finished shards were not redone
    names = sorted(p.name for p in (tmp_path / "plain" / LAYER).iterdir())
    assert names == sorted(p.name for p in layer.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "plain" / LAYER, layer, names, shallow=False)
    assert not mismatch and not errors, mismatch


def test_sigterm_between_forward_passes_drops_the_shard_in_flight(tiny, tmp_path, handler):
    from dnalens.models.base import load_model
    from dnalens.sample.stage import ExtractSettings, run_sample

    root, spec = tiny
    adapter = load_model(dict(spec, batch_size=2))
    real, calls = adapter.activations, []

    def activations(seqs, layers, trim=(0, 0)):  # SIGTERM during the 2nd pass of shard 1 (4-window shards, 2 a pass)
        calls.append(len(seqs))
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(seqs, layers, trim)

    adapter.activations = activations
    settings = ExtractSettings(layers=(LAYER,), shard_tokens=200)
    with pytest.raises(preemption.Preempted, match="after 1 of 6 shard"):
        run_sample(root / "g.fa", root / "windows.bed", spec, settings, tmp_path / "a", adapter=adapter)
    assert len(calls) == 4  # stopped at the next safe point: no 5th forward pass
    assert [p.name for p in sorted((tmp_path / "a" / LAYER).iterdir())] == ["shard-00000.json", "shard-00000.npy"]


def test_sigterm_during_sae_training_checkpoints_and_resume_equals_uninterrupted(tmp_path, handler):
    from dnalens.sae.synthetic import sparse_dictionary_data
    from dnalens.sae.training import train_sae

    x = torch.from_numpy(sparse_dictionary_data(2048, 16, 24, seed=3).activations)

    def batches(stop_at=None):
        g = torch.Generator().manual_seed(1)
        i = 0
        while True:
            order = torch.randperm(len(x), generator=g)
            for a in range(0, len(x) - 127, 128):
                if i == stop_at:
                    os.kill(os.getpid(), signal.SIGTERM)  # while step 12's batch is being read
                i += 1
                yield x[order[a : a + 128]]

    settings = unit_settings(
        architecture="batchtopk",
        expansion=2,
        k=2,
        lr=1e-3,
        tokens=128 * 30,
        batch_size=128,
        dead_after_tokens=512,
        checkpoint_every=10,
        device="cpu",
        seed=5,
    )
    whole = train_sae(batches(), 16, settings, progress=False)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(preemption.Preempted, match="after step 13 of 30"):
        train_sae(batches(stop_at=12), 16, settings, checkpoint_dir=ckpt, progress=False)
    assert json.loads((ckpt / "state.json").read_text())["step"] == 13  # not 10: every finished step kept
    resumed = train_sae(batches(), 16, settings, checkpoint_dir=ckpt, progress=False)
    assert resumed.start_step == 13
    for name, value in whole.sae.state_dict().items():
        torch.testing.assert_close(resumed.sae.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_sigterm_during_encode_keeps_finished_shards_and_outside_loops_no_temp_file(tmp_path, handler):
    from dnalens.atomic import atomic_path
    from dnalens.formats.activation_shards import write_manifest, write_shard
    from dnalens.sae.encode import encode_activations
    from dnalens.sae.topk import TopKSAE

    rng = np.random.default_rng(0)
    for idx in range(3):
        write_shard(tmp_path / "acts", idx, rng.standard_normal((20, 8)).astype(np.float16), [idx], [0, 20])
    write_manifest(tmp_path / "acts", {"layer": "blocks.0"})
    torch.manual_seed(0)
    sae = TopKSAE(8, 32, k=3)
    encode_activations(sae, tmp_path / "acts", tmp_path / "plain", progress=False)
    real, seen = sae.pre_activations, []

    def encode(x, bases=None):
        seen.append(x.shape[0])
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(x, bases)

    sae.pre_activations = encode
    with pytest.raises(preemption.Preempted, match="after 2 of 3 shard"):
        encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)
    assert len(seen) == 2 and not (tmp_path / "codes").exists()
    kept = tmp_path / ".codes.resume"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".codes.resume", "acts", "plain"]
    assert sorted(p.name for p in kept.glob("shard-*.json")) == ["shard-00000.json", "shard-00001.json"]

    encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)  # the rerun
    assert len(seen) == 3  # only shard 2 was encoded again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts", "codes", "plain"]
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "plain", tmp_path / "codes", names, shallow=False)
    assert names == sorted(p.name for p in (tmp_path / "codes").iterdir()) and not mismatch and not errors

    with pytest.raises(preemption.Preempted):  # anywhere else: at once, and the atomic write cleans up
        with atomic_path(tmp_path / "table.tsv") as tmp:
            tmp.write_text("half a table")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts", "codes", "plain"]


def test_kept_code_shards_are_ignored_for_another_sae_or_an_altered_file(tmp_path, handler):
    from dnalens.formats.activation_shards import write_manifest, write_shard
    from dnalens.sae.encode import encode_activations
    from dnalens.sae.topk import TopKSAE

    rng = np.random.default_rng(1)
    for idx in range(2):
        write_shard(tmp_path / "acts", idx, rng.standard_normal((20, 8)).astype(np.float16), [idx], [0, 20])
    write_manifest(tmp_path / "acts", {"layer": "blocks.0"})
    torch.manual_seed(0)
    first, other = TopKSAE(8, 32, k=3), TopKSAE(8, 32, k=3)
    real = first.pre_activations
    first.pre_activations = lambda x, bases=None: (os.kill(os.getpid(), signal.SIGTERM), real(x, bases))[1]
    with pytest.raises(preemption.Preempted):
        encode_activations(first, tmp_path / "acts", tmp_path / "codes", progress=False)
    assert (tmp_path / ".codes.resume" / "shard-00000.json").exists()
    encode_activations(other, tmp_path / "acts", tmp_path / "codes", progress=False)  # other weights
    encode_activations(other, tmp_path / "acts", tmp_path / "want", progress=False)
    for name in sorted(p.name for p in (tmp_path / "want").iterdir()):
        assert (tmp_path / "codes" / name).read_bytes() == (tmp_path / "want" / name).read_bytes(), name
    assert not (tmp_path / ".codes.resume").exists()

    other_real = other.pre_activations  # same SAE, but a kept file altered after the stop: re-encoded, not trusted
    other.pre_activations = lambda x, bases=None: (os.kill(os.getpid(), signal.SIGTERM), other_real(x, bases))[1]
    with pytest.raises(preemption.Preempted):
        encode_activations(other, tmp_path / "acts", tmp_path / "again", progress=False)
    values = tmp_path / ".again.resume" / "shard-00000.values.npy"
    data = bytearray(values.read_bytes())
    data[-1] ^= 0xFF
    values.write_bytes(bytes(data))
    other.pre_activations = other_real
    encode_activations(other, tmp_path / "acts", tmp_path / "again", progress=False)
    for name in sorted(p.name for p in (tmp_path / "want").iterdir()):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "want" / name).read_bytes(), name
