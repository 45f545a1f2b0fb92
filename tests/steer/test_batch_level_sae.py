"""Steering with a batch-level SAE (BatchTopK without a threshold, the shape of Goodfire's Evo 2 SAE): its top
k x positions budget belongs to one sequence, read as the buffer reads it (trimmed positions left out), and is
never shared across the rows of a generation chunk. References: numpy BatchTopK on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnalens.models.base import load_model
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.steer.directions import RowEdit
from dnalens.steer.inputs import Prompt, SteeredLatent
from dnalens.steer.readouts import kmer_counts
from dnalens.steer.stage import SteerInputs, latent_activations

D_SAE, K, TRIM = 40, 3, 6


def batch_level_sae(d_in: int, seed: int = 0) -> BatchTopKSAE:
    torch.manual_seed(seed)
    sae = BatchTopKSAE(d_in, D_SAE, k=K).eval()
    with torch.no_grad():
        sae.b_dec.zero_()  # the reference below is then relu(x W_enc + b_enc), top k x rows
        sae.b_enc.normal_(0, 0.1)
    assert sae.batch_dependent
    return sae


def numpy_batch_topk(x: np.ndarray, sae: BatchTopKSAE) -> np.ndarray:
    acts = np.maximum(x @ sae.W_enc.detach().numpy() + sae.b_enc.detach().numpy(), 0)
    flat = acts.ravel()
    keep = np.argpartition(-flat, K * len(x))[: K * len(x)]
    out = np.zeros_like(flat)
    out[keep] = flat[keep]
    return out.reshape(acts.shape)


@pytest.fixture(scope="module")
def adapter(tiny_model_dir):
    return load_model({"family": "tiny", "path": str(tiny_model_dir), "device": "cpu", "rc_pool": "none"})


def test_readout_encodes_the_trimmed_sequence_as_the_buffer_does(adapter):
    """latent_activation = the latent's mean (zeros included) over the generated bases of a BatchTopK over positions TRIM … end
    (float16-rounded rows), not over the whole sequence whose first positions share the budget."""
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 90))
    start, trim_end = 30, 4
    x = adapter.activations([seq], ["blocks.2"])["blocks.2"][0].astype(np.float32)
    sae = batch_level_sae(x.shape[1])
    inputs = SteerInputs(
        adapter,
        sae,
        "blocks.2",
        [Prompt("p", seq[:start])],
        [SteeredLatent(0, "", False, 1.0)],
        kmer_counts(seq),
        trim_end=trim_end,
        trim_start=TRIM,
    )
    rows = x.astype(np.float16).astype(np.float32)
    kept = numpy_batch_topk(rows[TRIM : len(seq) - trim_end], sae)
    untrimmed = numpy_batch_topk(rows[: len(seq) - trim_end], sae)
    latents = [int(j) for j in np.argsort(-np.abs(kept[start - TRIM :] - untrimmed[start:]).sum(0))[:3]]
    got = latent_activations(inputs, [seq] * 3, latents, start)
    for j, value in zip(latents, got):
        want = float(kept[start - TRIM : len(seq) - trim_end - TRIM, j].mean())  # zeros included
        assert value == pytest.approx(want, rel=1e-4, abs=1e-6)
    # the test can fail: the budget over the untrimmed sequence gives another readout for the top latent
    j = latents[0]
    assert float(untrimmed[start:, j].mean()) != pytest.approx(got[0], rel=1e-4)


def test_clamp_reads_each_row_alone_however_rows_are_chunked():
    """The clamp h + decode(f') - decode(f) = h + (value - f_j) d_j (a linear decoder), with f_j from a BatchTopK
    over that row's own positions: the same edit on the whole chunk and on one row alone, equal to numpy."""
    d, t, atom = 12, 9, 5
    sae = batch_level_sae(d, seed=3)
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(3, t, d, generator=gen)
    h[0] *= 20  # in a budget shared across rows, row 0 would take every slot
    values = np.array([2.0, 3.0, -1.0])
    edit = RowEdit(torch.zeros(3, d), np.arange(3), np.full(3, atom), values, sae)
    with torch.no_grad():
        whole = edit(h)
        alone = edit.rows([1])(h[1:2])
    torch.testing.assert_close(whole[1], alone[0], rtol=1e-5, atol=1e-5)
    direction = sae.W_dec[atom].detach().numpy()
    for r in range(3):
        f_j = numpy_batch_topk(h[r].numpy(), sae)[:, atom]
        want = h[r].numpy() + (values[r] - f_j)[:, None] * direction[None, :]
        np.testing.assert_allclose(whole[r].numpy(), want, rtol=1e-4, atol=1e-4)
    shared = numpy_batch_topk(h.reshape(-1, d).numpy(), sae).reshape(3, t, D_SAE)[1, :, atom]
    assert not np.allclose(shared, numpy_batch_topk(h[1].numpy(), sae)[:, atom])  # the chunk would change row 1
