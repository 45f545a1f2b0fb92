"""Resuming a run from another model directory, and training on the device extraction would use."""

import gzip
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dnalens.errors import InputError
from dnalens.models import training
from dnalens.models.tiny import TinyEvo
from dnalens.models.training import TrainSettings, lr_at, train, training_device


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("g") / "toy.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">a\n" + "".join(rng.choice(list("ACGT"), 3000)) + "\n")
    return str(path)


def settings(genome, **kw):
    base = dict(
        genomes=(genome,),
        steps=6,
        batch_size=2,
        seq_len=64,
        warmup_steps=2,
        checkpoint_every=100,
        eval_every=100,
        eval_windows=2,
        threads=1,
        holdout_fraction=0.1,
        device="cpu",
        architecture={"d_model": 8, "block_types": ["se", "li"], "mlp_ratio": 1.0, "medium_kernel": 8},
    )
    base.update(kw)
    return TrainSettings(**base)


def weights(directory):
    return load_file(str(directory / "model.safetensors"))


@pytest.fixture(scope="module")
def straight_and_half(genome, tmp_path_factory):
    """6 steps in one run, and the same settings stopped at step 3."""
    root = tmp_path_factory.mktemp("runs")
    straight = train(settings(genome), root / "straight")
    half = train(settings(genome), root / "half", until_step=3)
    return root, straight, half


def test_resume_from_another_directory_continues_exactly(genome, straight_and_half, tmp_path):
    root, straight, half = straight_and_half
    assert half["steps_done"] == 3 and half["steps"] == 6
    resumed = train(settings(genome), tmp_path / "rest", resume_from=root / "half")
    assert resumed["steps_done"] == 6 and [r["optimizer_state"] for r in resumed["runs"]] == ["new", "restored"]
    assert [r["from_step"] for r in resumed["runs"]] == [0, 3] and resumed["rewarm_from"] is None
    a, b = weights(root / "straight"), weights(tmp_path / "rest")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit-identical on the CPU
    # the source directory is left as it was
    assert json.loads((root / "half" / "config.json").read_text())["training"]["steps_done"] == 3


def test_resume_from_weights_only_restarts_moments_with_a_rewarm(genome, straight_and_half, tmp_path):
    root, straight, _ = straight_and_half
    shutil.copytree(root / "half", tmp_path / "shipped")
    shutil.rmtree(tmp_path / "shipped" / ".resume")  # as the bundled checkpoint ships: no AdamW moments
    s = settings(genome)
    resumed = train(s, tmp_path / "rest", resume_from=tmp_path / "shipped")
    assert resumed["steps_done"] == 6 and resumed["rewarm_from"] == 3
    assert resumed["runs"][-1]["optimizer_state"] == "fresh"
    assert [h["step"] for h in resumed["history"]] == [3, 6]  # the earlier run's history is kept
    assert resumed["history"][-1]["lr"] == pytest.approx(lr_at(5, s, rewarm_from=3))
    assert lr_at(3, s, rewarm_from=3) == pytest.approx(lr_at(3, s) / 2)  # first step after the restart
    a, b = weights(root / "straight"), weights(tmp_path / "rest")
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert diff > 0  # restarted moments and the re-warm-up change the path: not the uninterrupted weights


def test_cli_resume_takes_the_saved_settings_and_refuses_to_overwrite(genome, straight_and_half, tmp_path):
    from dnalens.cli import main

    root, _, _ = straight_and_half
    out = tmp_path / "cli"
    assert main(["train-model", "--resume-from", str(root / "half"), "--out", str(out), "--until-step", "4"]) == 0
    summary = json.loads((out / "training.json").read_text())
    assert summary["steps_done"] == 4 and summary["steps"] == 6 and summary["settings"]["seq_len"] == 64
    # the source must not be overwritten: same --resume-from and --out is refused (unless --out has its own .resume/)
    shutil.copytree(root / "half", tmp_path / "shipped", ignore=shutil.ignore_patterns(".resume"))
    before = (tmp_path / "shipped" / "model.safetensors").read_bytes()
    assert main(["train-model", "--resume-from", str(tmp_path / "shipped"), "--out", str(tmp_path / "shipped")]) == 2
    assert (tmp_path / "shipped" / "model.safetensors").read_bytes() == before


def test_training_device_resolution(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto", "auto") == (torch.device("cuda"), torch.bfloat16)
    assert training_device("auto", "float32") == (torch.device("cuda"), None)
    assert training_device("cpu", "auto") == (torch.device("cpu"), None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto", "auto") == (torch.device("cpu"), None)
    with pytest.raises(InputError, match="float16"):
        training_device("auto", "float16")


def _spy_forward(monkeypatch):
    seen = []
    real = TinyEvo.forward

    def spy(self, ids, *a, **k):
        out = real(self, ids, *a, **k)
        seen.append((ids.device, next(self.parameters()).device, out.dtype))
        return out

    monkeypatch.setattr(TinyEvo, "forward", spy)
    return seen


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_trains_on_the_cpu_explicitly_and_by_auto(genome, tmp_path, monkeypatch, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # auto must fall back to the CPU
    seen = _spy_forward(monkeypatch)
    summary = train(settings(genome, steps=2, device=device), tmp_path / device)
    assert summary["steps_done"] == 2 and summary["runs"][-1]["device"] == "cpu"
    assert summary["runs"][-1]["autocast"] is None
    assert seen and all(i.type == p.type == "cpu" and dt == torch.float32 for i, p, dt in seen)


def test_bfloat16_autocast_reaches_the_forward_pass(genome, tmp_path, monkeypatch):
    seen = _spy_forward(monkeypatch)
    summary = train(settings(genome, steps=2, dtype="bfloat16"), tmp_path / "bf16")
    assert summary["runs"][-1]["autocast"] == "bfloat16"
    assert all(dt == torch.bfloat16 for _, _, dt in seen)  # logits computed under bf16 autocast
    assert all(v.dtype == torch.float32 for v in weights(tmp_path / "bf16").values())  # fp32 master weights


def test_auto_sends_model_and_token_ids_to_cuda_when_visible(genome, tmp_path, monkeypatch):
    """Mock: CUDA reported visible; `.to()` records its target and leaves tensors where they are."""
    if torch.cuda.is_available():
        pytest.skip("a real GPU is visible: test_trains_on_cuda covers it")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(training, "_autocast", lambda dev, amp: __import__("contextlib").nullcontext())
    targets = {"module": [], "tensor": []}

    def module_to(self, *a, **k):
        targets["module"].append(str(a[0] if a else k.get("device")))
        return self

    def tensor_to(self, *a, **k):
        targets["tensor"].append(str(a[0] if a else k.get("device")))
        return self

    monkeypatch.setattr(torch.nn.Module, "to", module_to)
    monkeypatch.setattr(torch.Tensor, "to", tensor_to)
    summary = train(settings(genome, steps=1, device="auto"), tmp_path / "cuda")
    assert summary["runs"][-1] == {**summary["runs"][-1], "device": "cuda", "autocast": "bfloat16"}
    assert targets["module"] == ["cuda"]
    assert "cuda" in targets["tensor"]  # the token ids of the batch (and of the held-out eval)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda(genome, tmp_path):
    summary = train(settings(genome, steps=2, device="auto"), tmp_path / "gpu")
    assert summary["runs"][-1]["device"].startswith("cuda") and summary["runs"][-1]["autocast"] == "bfloat16"
    resumed = train(settings(genome, steps=4, device="auto"), tmp_path / "gpu2", resume_from=tmp_path / "gpu")
    assert resumed["steps_done"] == 4 and resumed["runs"][-1]["optimizer_state"] == "restored"
