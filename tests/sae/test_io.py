"""SAELens layout round trip and reading, Goodfire's Evo 2 state dict, and clear errors."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from dnalens.errors import InputError
from dnalens.sae import load_sae
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.io import k_from_filename, save_sae
from dnalens.sae.jumprelu import JumpReLUSAE
from dnalens.sae.topk import TopKSAE


def _randomize(sae):
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_()
    return sae


def test_topk_round_trip_in_saelens_layout(tmp_path):
    sae = _randomize(TopKSAE(12, 48, k=5))
    save_sae(sae, tmp_path / "sae", metadata={"hook_name": "blocks.3", "model_name": "tiny"})
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 12 and cfg["d_sae"] == 48 and cfg["k"] == 5
    assert cfg["normalize_activations"] == "none" and cfg["metadata"]["hook_name"] == "blocks.3"
    weights = load_file(str(tmp_path / "sae" / "sae_weights.safetensors"))
    assert {k: tuple(v.shape) for k, v in weights.items()} == {
        "W_enc": (12, 48),
        "b_enc": (48,),
        "W_dec": (48, 12),
        "b_dec": (12,),
    }
    back = load_sae(tmp_path / "sae")
    assert isinstance(back, TopKSAE) and back.k == 5 and not back.training
    x = torch.randn(30, 12)
    torch.testing.assert_close(back.encode(x), sae.encode(x))
    torch.testing.assert_close(back.decode(back.encode(x)), sae.decode(sae.encode(x)))


def test_trained_batchtopk_saves_as_saelens_jumprelu(tmp_path):
    sae = _randomize(BatchTopKSAE(8, 32, k=3, threshold=0.7)).eval()
    save_sae(sae, tmp_path / "b")
    cfg = json.loads((tmp_path / "b" / "cfg.json").read_text())
    assert cfg["architecture"] == "jumprelu" and cfg["metadata"]["dnalens"]["type"] == "batchtopk"
    back = load_sae(tmp_path / "b")
    assert isinstance(back, JumpReLUSAE)
    torch.testing.assert_close(back.threshold, torch.full((32,), 0.7))
    x = torch.randn(25, 8)
    torch.testing.assert_close(back.encode(x), sae.encode(x))


def _write_saelens(dirpath, cfg, weights):
    dirpath.mkdir()
    (dirpath / "cfg.json").write_text(json.dumps(cfg))
    save_file(weights, str(dirpath / "sae_weights.safetensors"))


def test_reads_pre_6_saelens_topk_config(tmp_path):
    d_in, d_sae = 6, 10
    w = {
        "W_enc": torch.randn(d_in, d_sae),
        "b_enc": torch.randn(d_sae),
        "W_dec": torch.randn(d_sae, d_in),
        "b_dec": torch.randn(d_in),
    }
    cfg = {
        "architecture": "standard",
        "d_in": d_in,
        "d_sae": d_sae,
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": 2},
        "hook_name": "blocks.1.hook_resid_post",
        "dtype": "float32",
        "normalize_activations": False,
        "apply_b_dec_to_input": True,
    }
    _write_saelens(tmp_path / "old", cfg, w)
    sae = load_sae(tmp_path / "old")
    assert isinstance(sae, TopKSAE) and sae.k == 2 and sae.metadata["hook_name"] == "blocks.1.hook_resid_post"
    x = torch.randn(4, d_in)
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    top = pre.topk(2, dim=-1)
    want = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
    torch.testing.assert_close(sae.encode(x), want)
    torch.testing.assert_close(sae.decode(want), want @ w["W_dec"] + w["b_dec"])


def test_saelens_errors_name_the_problem(tmp_path):
    w = {"W_enc": torch.zeros(4, 8), "b_enc": torch.zeros(8), "W_dec": torch.zeros(8, 4), "b_dec": torch.zeros(4)}
    _write_saelens(tmp_path / "gated", {"architecture": "gated", "d_in": 4, "d_sae": 8}, w)
    with pytest.raises(InputError, match="gated"):
        load_sae(tmp_path / "gated")
    _write_saelens(tmp_path / "shape", {"architecture": "topk", "d_in": 4, "d_sae": 9, "k": 2}, w)
    with pytest.raises(InputError, match="shape"):
        load_sae(tmp_path / "shape")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cfg.json"):
        load_sae(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        load_sae(tmp_path / "nope")


def _goodfire_reference(W, b_enc, b_dec, x, k):
    """Independent numpy version of Goodfire's encode/decode."""
    pre = np.maximum(x @ W + b_enc, 0)
    flat = pre.ravel()
    keep = np.argsort(flat, kind="stable")[-(k * x.shape[0]) :]
    f = np.zeros_like(flat)
    f[keep] = flat[keep]
    f = f.reshape(pre.shape)
    return f, f @ W.T + b_dec


def test_goodfire_state_dict_small_shape(tmp_path):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((16, 128)).astype(np.float32)
    b_enc = rng.standard_normal(128).astype(np.float32) * 0.1
    b_dec = rng.standard_normal(16).astype(np.float32)
    path = tmp_path / "sae-layer26-mixed-expansion_8-k_4.pt"
    torch.save({"W": torch.from_numpy(W), "b_enc": torch.from_numpy(b_enc), "b_dec": torch.from_numpy(b_dec)}, path)
    sae = load_sae(path)
    assert isinstance(sae, BatchTopKSAE) and sae.k == 4 and sae.batch_dependent
    x = rng.standard_normal((20, 16)).astype(np.float32)
    f_want, recon_want = _goodfire_reference(W, b_enc, b_dec, x, 4)
    f = sae.encode(torch.from_numpy(x))
    np.testing.assert_allclose(f.numpy(), f_want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sae.decode(f).numpy(), recon_want, rtol=1e-4, atol=1e-4)
    assert int((f > 0).sum()) == 4 * 20


def test_goodfire_k_from_name_or_argument(tmp_path):
    assert k_from_filename("sae-layer26-mixed-expansion_8-k_64.pt") == 64
    assert k_from_filename("model_k32.pt") == 32
    assert k_from_filename("sae-layer26.pt") is None
    state = {"W": torch.randn(4, 8), "b_enc": torch.zeros(8), "b_dec": torch.zeros(4)}
    torch.save(state, tmp_path / "sae.pt")
    with pytest.raises(InputError, match="k is not in the file name"):
        load_sae(tmp_path / "sae.pt")
    assert load_sae(tmp_path / "sae.pt", k=3).k == 3


def test_goodfire_rejects_other_keys_and_pickled_code(tmp_path):
    torch.save({"W_enc": torch.zeros(2, 2)}, tmp_path / "other_k_2.pt")
    with pytest.raises(InputError, match="W, b_enc, b_dec"):
        load_sae(tmp_path / "other_k_2.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"W": Evil()}, tmp_path / "evil_k_2.pt")
    with pytest.raises(InputError, match="weights_only"):
        load_sae(tmp_path / "evil_k_2.pt")


def test_goodfire_full_evo2_shape(tmp_path):
    """The published file's shape (4096 x 32768, 512 MB), written to tmp_path and removed with it."""
    d_in, d_sae = 4096, 32768
    W = torch.zeros(d_in, d_sae)
    W[torch.arange(64), torch.arange(64)] = 1.0
    b_enc = torch.zeros(d_sae)
    path = tmp_path / "sae-layer26-mixed-expansion_8-k_64.pt"
    torch.save({"W": W, "b_enc": b_enc, "b_dec": torch.zeros(d_in)}, path)
    del W
    sae = load_sae(path)
    path.unlink()
    assert (sae.d_in, sae.d_sae, sae.k) == (4096, 32768, 64)
    assert tuple(sae.W_dec.shape) == (32768, 4096)
    x = torch.zeros(3, d_in)
    x[:, :64] = torch.arange(1, 65, dtype=torch.float32)
    f = sae.encode(x)
    assert int((f > 0).sum()) == 64 * 3
    torch.testing.assert_close(sae.decode(f), x)


def test_saelens_rescale_acts_by_decoder_norm_is_folded(tmp_path):
    """SAELens 6 TopK with rescale: pre-acts scaled by decoder row norms, codes divided back when decoding."""
    d_in, d_sae, k = 5, 12, 3
    w = {
        "W_enc": torch.randn(d_in, d_sae),
        "b_enc": torch.randn(d_sae),
        "W_dec": torch.randn(d_sae, d_in) * 3,
        "b_dec": torch.randn(d_in),
    }
    cfg = {
        "architecture": "topk",
        "d_in": d_in,
        "d_sae": d_sae,
        "k": k,
        "rescale_acts_by_decoder_norm": True,
        "metadata": {"sae_lens_version": "6.5.0", "hook_name": "blocks.0"},
    }
    _write_saelens(tmp_path / "r", cfg, w)
    sae = load_sae(tmp_path / "r")
    x = torch.randn(7, d_in)
    norms = w["W_dec"].norm(dim=1)
    pre = ((x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]) * norms
    top = pre.topk(k, dim=-1)
    acts = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
    torch.testing.assert_close(sae.encode(x), acts, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        sae.decode(sae.encode(x)), (acts / norms) @ w["W_dec"] + w["b_dec"], rtol=1e-4, atol=1e-4
    )
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(d_sae))
