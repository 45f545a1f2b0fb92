"""`dnalens standin-sae`: a seeded Goodfire-shaped .pt that the real Goodfire loader reads."""

import json

import numpy as np
import pytest
import torch

from dnalens.cli import main
from dnalens.errors import InputError
from dnalens.sae.io import load_sae
from dnalens.sae.standin import expansion_from_filename, write_standin_sae


def numpy_batch_topk(x, W, b_enc, k):
    """Reference: ReLU(x W + b_enc), keep the k x n_rows largest values of the whole input."""
    acts = np.maximum(x @ W + b_enc, 0).ravel()
    keep = np.argsort(-acts, kind="stable")[: k * x.shape[0]]
    out = np.zeros_like(acts)
    out[keep] = acts[keep]
    return out.reshape(x.shape[0], -1)


def test_written_file_has_goodfire_keys_shapes_and_seed(tmp_path):
    path = tmp_path / "sae-layer2-mixed-expansion_4-k_3.pt"
    facts = write_standin_sae(path, d_in=16, seed=5)
    assert facts == {"path": str(path), "d_in": 16, "d_sae": 64, "k": 3, "bytes": (16 * 64 + 64 + 16) * 4}
    state = torch.load(path, weights_only=True)
    assert set(state) == {"W", "b_enc", "b_dec"} and state["W"].shape == (16, 64) and state["b_dec"].shape == (16,)
    again = tmp_path / "again" / path.name
    write_standin_sae(again, d_in=16, seed=5)
    assert torch.equal(torch.load(again, weights_only=True)["W"], state["W"])
    sae = load_sae(path)  # the real Goodfire loader: tied weights, k from the file name
    assert (sae.d_in, sae.d_sae, sae.k, sae.architecture) == (16, 64, 3, "batchtopk")
    x = torch.randn(7, 16)
    with torch.no_grad():
        got = sae.encode(x).numpy()
    want = numpy_batch_topk(x.numpy(), state["W"].numpy(), state["b_enc"].numpy(), 3)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (got > 0).sum() == 21


def test_names_without_shape_are_refused(tmp_path):
    assert expansion_from_filename("sae-layer26-mixed-expansion_8-k_64.pt") == 8
    with pytest.raises(InputError, match="expansion"):
        write_standin_sae(tmp_path / "sae-k_64.pt", d_in=8)
    with pytest.raises(InputError, match="say k"):
        write_standin_sae(tmp_path / "sae-expansion_2.pt", d_in=8)


def test_cli_takes_d_in_from_the_model_layer(tmp_path, capsys):
    out = tmp_path / "sae-layer1-expansion_1-k_2.pt"
    model = json.dumps({"family": "evo2_standin", "name": "evo2_1b_base", "device": "cpu"})
    assert main(["standin-sae", "--model", model, "--layer", "blocks.1", "--out", str(out)]) == 0
    facts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (facts["d_in"], facts["d_sae"], facts["k"]) == (1920, 1920, 2)
    assert out.stat().st_size >= facts["bytes"]
