"""One device resolver (dnalens.devices) for model, training, sae and probing; CUDA visibility is mocked."""

from __future__ import annotations

import pytest
import torch

from dnalens.devices import resolve_device
from dnalens.errors import InputError


@pytest.fixture
def gpus(monkeypatch):
    """Set how many CUDA devices torch 'sees'."""

    def set_count(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return set_count


@pytest.mark.parametrize(
    ("n_gpus", "spec", "expected"),
    [
        (0, "auto", "cpu"),
        (2, "auto", "cuda"),
        (0, None, "cpu"),
        (0, "cpu", "cpu"),
        (2, "cpu", "cpu"),
        (1, "cuda", "cuda"),
        (2, "cuda:1", "cuda:1"),
        (1, "CUDA:0", "cuda:0"),
    ],
)
def test_resolve_device(gpus, n_gpus, spec, expected):
    gpus(n_gpus)
    assert resolve_device(spec) == expected


@pytest.mark.parametrize(
    ("n_gpus", "spec", "needle"),
    [
        (0, "cuda", "no CUDA device is visible"),
        (0, "cuda:0", "no CUDA device is visible"),
        (1, "cuda:1", "only 1 CUDA device"),
        (1, "gpu", "use auto, cpu, cuda or cuda:N"),
        (1, "cuda:x", "use auto, cpu, cuda or cuda:N"),
    ],
)
def test_resolve_device_refuses_with_the_key_and_a_fix(gpus, n_gpus, spec, needle):
    gpus(n_gpus)
    with pytest.raises(InputError) as err:
        resolve_device(spec, what="sae.device")
    assert needle in err.value.message and "sae.device" in err.value.message


def test_every_stage_uses_the_one_resolver(gpus):
    from dnalens.models.base import device_and_dtype
    from dnalens.sae import settings as sae_settings

    assert sae_settings.resolve_device is resolve_device
    gpus(1)
    assert device_and_dtype("auto", "auto") == (torch.device("cuda"), torch.bfloat16)
    assert device_and_dtype("cpu", "auto") == (torch.device("cpu"), torch.float32)
    gpus(0)
    assert device_and_dtype("auto", "float16") == (torch.device("cpu"), torch.float16)
    with pytest.raises(InputError, match="training.device"):
        device_and_dtype("cuda", "auto", what="training")


@pytest.mark.parametrize(
    ("n_gpus", "spec", "expected"),
    [
        (0, "cpu", None),
        (2, "cpu", None),
        (0, "auto", None),
        (1, "auto", "cuda"),
        (2, "cuda:1", "cuda:1"),
        (0, "cpu-torch", "cpu-torch"),
    ],
)
def test_probing_numpy_or_torch_choice(gpus, n_gpus, spec, expected):
    """None = the numpy/scipy.sparse AUROC path; a torch device otherwise."""
    from dnalens.probe.backend import auroc_backend

    gpus(n_gpus)
    assert auroc_backend(spec) == expected


def test_probing_cuda_without_gpu_is_an_input_error(gpus):
    from dnalens.probe.backend import auroc_backend

    gpus(0)
    with pytest.raises(InputError, match="probe.device"):
        auroc_backend("cuda")
