"""Activation rules checked against brute-force numpy; decoder upkeep and input-scale folding."""

import numpy as np
import pytest
import torch

from dnalens.sae.batchtopk import BatchTopKSAE, batch_topk
from dnalens.sae.jumprelu import JumpReLUSAE
from dnalens.sae.registry import SAE_TYPES, TRAINABLE
from dnalens.sae.topk import TopKSAE, topk_per_row


def test_topk_keeps_k_largest_per_row_then_relu():
    rng = np.random.default_rng(0)
    pre = rng.standard_normal((50, 40)).astype(np.float32)
    out = topk_per_row(torch.from_numpy(pre), 5).numpy()
    for row, got in zip(pre, out):
        top = np.argsort(row)[-5:]
        want = np.zeros_like(row)
        want[top] = np.maximum(row[top], 0)
        np.testing.assert_array_equal(got, want)


def test_batch_topk_keeps_k_times_rows_largest_over_the_batch():
    rng = np.random.default_rng(1)
    pre = rng.standard_normal((30, 20)).astype(np.float32)
    out = batch_topk(torch.from_numpy(pre), 3).numpy()
    flat = np.maximum(pre, 0).ravel()
    keep = np.argsort(flat)[-90:]
    want = np.zeros_like(flat)
    want[keep] = flat[keep]
    np.testing.assert_array_equal(out.ravel(), want)
    # rows are free to use more or fewer than k
    per_row = (out > 0).sum(1)
    assert per_row.min() < 3 < per_row.max()


def _topk_reference(pre: torch.Tensor, k: int) -> torch.Tensor:
    """What batch_topk computed before its numpy cut-off: torch.topk over the ReLU'd batch, scattered back."""
    flat = pre.relu().reshape(-1)
    top = flat.topk(k * pre.shape[0], sorted=False)
    return torch.zeros_like(flat).scatter(0, top.indices, top.values).reshape(pre.shape)


@pytest.mark.parametrize("case", ["distinct", "tie_at_cut", "nan", "few_positive"])
def test_batch_topk_cutoff_selects_what_torch_topk_selects(case):
    """The numpy cut-off path gives topk's codes and gradients exactly, and defers to topk on a tie or NaN."""
    rng = np.random.default_rng(3)
    pre = rng.standard_normal((256, 64)).astype(np.float32)
    if case == "tie_at_cut":  # the 4 x 256-th and the next largest value equal: topk chooses, so must we
        order = np.sort(np.maximum(pre, 0).ravel())[::-1]
        pre[pre == order[4 * 256]] = order[4 * 256 - 1]
    elif case == "nan":
        pre[5, 7] = np.nan
    elif case == "few_positive":  # fewer positive values than k x rows: the cut-off is zero, a tie
        pre = -np.abs(pre)
        pre[:3, :5] = 1.0 + rng.random((3, 5)).astype(np.float32)
    x1, x2 = torch.from_numpy(pre.copy()).requires_grad_(), torch.from_numpy(pre.copy()).requires_grad_()
    got, want = batch_topk(x1, 4), _topk_reference(x2, 4)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    weights = torch.from_numpy(rng.standard_normal(pre.shape).astype(np.float32))
    (got.nan_to_num() * weights).sum().backward()
    (want.nan_to_num() * weights).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())


def test_batch_topk_flattens_leading_dims():
    pre = torch.randn(2, 7, 16)
    out = batch_topk(pre, 2)
    assert out.shape == pre.shape and int((out > 0).sum()) <= 2 * 14
    torch.testing.assert_close(out.reshape(14, 16), batch_topk(pre.reshape(14, 16), 2))


def test_batchtopk_inference_uses_threshold_and_is_per_token():
    sae = BatchTopKSAE(8, 32, k=4)
    x = torch.randn(64, 8)
    assert sae.batch_dependent  # no threshold yet
    sae.train()
    sae.update_threshold(sae.encode(x))
    sae.eval()
    assert not sae.batch_dependent
    pre = sae.pre_activations(x)
    want = torch.where(pre > float(sae.threshold), pre, torch.zeros_like(pre))
    torch.testing.assert_close(sae.encode(x), want)
    torch.testing.assert_close(sae.encode(x[:5]), sae.encode(x)[:5])


def test_jumprelu_per_latent_threshold():
    sae = JumpReLUSAE(4, 6)
    sae.threshold.copy_(torch.tensor([0.0, 0.5, 1.0, 2.0, 0.1, 9.0]))
    pre = sae.pre_activations(torch.randn(10, 4))
    want = torch.where(pre > sae.threshold, pre.relu(), torch.zeros_like(pre))
    torch.testing.assert_close(sae.activate(pre), want)


def test_fold_input_scale_preserves_codes_and_raw_reconstruction():
    torch.manual_seed(0)
    sae = TopKSAE(16, 64, k=4)
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_enc.normal_(std=0.1)
    x = torch.randn(20, 16) * 7.0
    scale = 0.25
    codes_scaled = sae.encode(x * scale)
    recon_scaled = sae.decode(codes_scaled)
    sae.fold_input_scale_(scale)
    torch.testing.assert_close(sae.encode(x), codes_scaled, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(sae.decode(sae.encode(x)), recon_scaled / scale, rtol=1e-4, atol=1e-4)


def test_decoder_upkeep_keeps_unit_rows_and_orthogonal_grads():
    sae = TopKSAE(8, 16, k=2)
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
    sae.normalize_decoder_()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(16))
    sae.W_dec.grad = torch.randn_like(sae.W_dec)
    sae.remove_parallel_decoder_grad_()
    assert float((sae.W_dec.grad * sae.W_dec.detach()).sum(1).abs().max()) < 1e-5


def test_registry_facts_come_from_the_classes_and_match_the_schema():
    from dnalens.sae.registry import NEEDS_K
    from dnalens.settings import schema_choices

    assert sorted(SAE_TYPES) == ["batchtopk", "jumprelu", "matryoshka_batchtopk", "standard", "topk"]
    # what train-sae can train is what the config schema offers as sae.architecture, in the same order
    assert TRAINABLE == schema_choices("sae", "architecture") == ("topk", "batchtopk", "matryoshka_batchtopk")
    assert set(NEEDS_K) == {"topk", "batchtopk", "matryoshka_batchtopk"}


def test_after_step_hook_tracks_the_batchtopk_threshold_and_is_a_no_op_elsewhere():
    from dnalens.sae.batchtopk import BatchTopKSAE

    codes = torch.tensor([[0.0, 2.0, 0.5], [1.5, 0.0, 0.0]])
    sae = BatchTopKSAE(3, 3, k=1)
    sae.after_step(codes[codes > 0].min())
    assert float(sae.threshold) == 0.5  # smallest kept activation of the first batch
    sae.after_step(None)  # nothing fired: unchanged
    sae.after_step(torch.tensor(1.5))
    assert float(sae.threshold) == pytest.approx(0.99 * 0.5 + 0.01 * 1.5)
    topk = TopKSAE(3, 3, k=1)
    before = {k: v.clone() for k, v in topk.state_dict().items()}
    topk.after_step(torch.tensor(0.5))
    assert all(torch.equal(before[k], v) for k, v in topk.state_dict().items())
    with pytest.raises(ValueError):
        TopKSAE(4, 8, k=0)
