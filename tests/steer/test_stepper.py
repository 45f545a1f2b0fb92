"""The incremental tiny-model stepper and its edits against the model's own forward pass with a hand-built hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnalens.models.base import load_model
from dnalens.models.interventions import base_token_ids
from dnalens.sae.row_bases import row_codes
from dnalens.sae.topk import TopKSAE
from dnalens.steer.directions import RowEdit, causal_codes, latent_atom
from dnalens.steer.stepper import FullForwardStepper, TinyStepper

LAYER = "blocks.2"


@pytest.fixture(scope="module")
def adapter(tiny_model_dir):
    return load_model({"family": "tiny", "path": str(tiny_model_dir), "device": "cpu", "rc_pool": "none"})


def _prompts(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def _hooked_next_log_probs(adapter, seqs, delta):
    """Reference: the plain torch model with a forward hook adding delta[i] to block 2's output, every position."""
    model = adapter.model

    def hook(module, inputs, output):
        return (output[0] + delta[:, None, :],) + tuple(output[1:])

    handle = model.blocks[2].register_forward_hook(hook)
    try:
        ids, _, _ = adapter.encode(seqs)
        with torch.no_grad():
            logits = model(ids)
    finally:
        handle.remove()
    return torch.log_softmax(logits[:, -1].float(), -1)[:, base_token_ids(adapter)].numpy()


def test_stepper_with_added_direction_matches_a_hand_built_hook(adapter):
    seqs = _prompts(3, 50)
    delta = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    delta[0] = 0  # an unsteered row in the same batch
    stepper = TinyStepper(adapter, LAYER, RowEdit(delta), 0, 64)
    got = stepper.start(seqs)
    want = _hooked_next_log_probs(adapter, seqs, delta)
    np.testing.assert_allclose(got, want, atol=2e-5)
    plain = _hooked_next_log_probs(adapter, seqs, torch.zeros_like(delta))
    assert np.abs(got[1:] - plain[1:]).max() > 1e-3  # the edit changed the distribution
    np.testing.assert_allclose(got[0], plain[0], atol=2e-5)
    # and one step later (caches carried): the next prefix, edited everywhere
    nxt = stepper.advance(np.array([0, 1, 2]))
    want = _hooked_next_log_probs(adapter, [s + b for s, b in zip(seqs, "ACG")], delta)
    np.testing.assert_allclose(nxt, want, atol=2e-5)


def test_full_forward_stepper_agrees_with_the_incremental_one(adapter):
    seqs = _prompts(2, 30, seed=3)
    delta = torch.randn(2, 16, generator=torch.Generator().manual_seed(2))
    a, b = TinyStepper(adapter, LAYER, RowEdit(delta), 0, 40), FullForwardStepper(adapter, LAYER, RowEdit(delta), 0, 40)
    np.testing.assert_allclose(a.start(seqs), b.start(seqs), atol=2e-5)
    for codes in ([3, 0], [1, 1], [2, 0]):
        np.testing.assert_allclose(a.advance(np.array(codes)), b.advance(np.array(codes)), atol=2e-5)


def test_clamp_writes_decode_clamped_minus_decode_original():
    torch.manual_seed(0)
    sae = TopKSAE(16, 24, k=4).eval()
    with torch.no_grad():
        sae.b_dec.normal_()
    h = torch.randn(3, 16)
    edit = RowEdit(torch.zeros(3, 16), np.array([1, 2]), np.array([5, 5]), np.array([2.0, 0.0]), sae)
    out = edit(h)
    f = sae.encode(h).detach()
    torch.testing.assert_close(out[0], h[0])  # not clamped
    for row, target in ((1, 2.0), (2, 0.0)):  # by hand: h + (target - f_j) * W_dec[j]
        torch.testing.assert_close(out[row], h[row] + (target - f[row, 5]) * sae.W_dec[5].detach())


def test_causal_codes_count_ungenerated_bases_as_n():
    seq = "ACGTTGCA"
    history = row_codes(seq, 1).astype(np.int64)[None, :]
    got = causal_codes(history, 3)[0]
    # at position t the trinucleotide code of the prefix seq[:t+1], whose last base has N (4) after it
    want = [row_codes(seq[: t + 1], 3)[t] for t in range(len(seq))]
    np.testing.assert_array_equal(got, want)


def test_latent_atom_of_a_strand_shared_dictionary():
    from dnalens.sae.strand_shared import StrandSharedSAE

    shared = StrandSharedSAE(TopKSAE(16, 10, k=2))
    a, b = latent_atom(shared, 3, 16), latent_atom(shared, 13, 16)  # latent 13 = atom 3 read on the other pass
    assert a.atom == b.atom == 3
    torch.testing.assert_close(a.direction, b.direction)
    concat = TopKSAE(32, 10, k=2)  # rows [forward | reverse]: the forward half
    torch.testing.assert_close(latent_atom(concat, 4, 16).direction, concat.W_dec[4, :16].detach())
