import numpy as np
import pytest
import torch

from dnalens.models.tiny import TinyConfig, TinyEvo, fft_causal_conv
from dnalens.models.tokenizer import encode, encode_batch


def test_tokenizer_is_evo2_byte_values():
    assert encode("ACGTN").tolist() == [65, 67, 71, 84, 78]
    ids, lengths = encode_batch(["AC", "GTA"])
    assert ids.tolist() == [[65, 67, 78], [71, 84, 65]] and lengths.tolist() == [2, 3]


def test_fft_conv_equals_direct_causal_convolution():
    rng = np.random.default_rng(0)
    u, h = rng.normal(size=(2, 3, 40)), rng.normal(size=(3, 40))
    got = fft_causal_conv(torch.tensor(u, dtype=torch.float32), torch.tensor(h, dtype=torch.float32)).numpy()
    want = np.stack([[np.convolve(u[b, c], h[c])[:40] for c in range(3)] for b in range(2)])
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return TinyEvo(TinyConfig(d_model=16, block_types=("se", "mr", "li", "att"), medium_kernel=16)).eval()


def test_evo2_module_names_and_tuple_outputs(model):
    names = dict(model.named_modules())
    for path in (
        "blocks.0.filter",
        "blocks.0.pre_norm",
        "blocks.0.post_norm",
        "blocks.2.mlp.l3",
        "blocks.3.inner_mha_cls",
    ):
        assert path in names
    out = model.blocks[0](torch.randn(1, 5, 16))
    assert isinstance(out, tuple) and out[0].shape == (1, 5, 16)


def test_model_is_causal(model):
    ids = torch.from_numpy(encode("ACGTACGGTTACAGATTACA"))[None]
    changed = ids.clone()
    changed[0, 12:] = 71
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.allclose(a[0, :12], b[0, :12], atol=1e-5)
    assert not torch.allclose(a[0, 12:], b[0, 12:], atol=1e-3)
