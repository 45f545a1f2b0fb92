"""Per-base log-probabilities, with and without an edit, against a plain forward pass and a torch hook."""

import numpy as np
import pytest
import torch

from dnalens.errors import InputError
from dnalens.models.base import load_model
from dnalens.models.interventions import (
    BASES,
    next_log_probs,
    nucleotide_log_probs,
    observed_log_likelihood,
)
from dnalens.models.tokenizer import encode

SEQS = ["ACGTTGCAAGGCTTAACGATCGATCGGGATCCAT", "TTGACAGCTAGCTCAGTCC"]


def reference(model, seq):
    """Hand-built: log_softmax of a plain forward, the token before base i read at base i's four ids."""
    ids = torch.from_numpy(encode(seq)).long()[None]
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).float(), -1)[0].numpy()
    cols = [int(encode(b)[0]) for b in BASES]
    want = np.full((len(seq), 4), np.nan, dtype=np.float32)
    want[1:] = logp[:-1][:, cols]
    return want


def adapter_for(directory, batch_size=2):
    return load_model(
        {"family": "tiny", "path": str(directory), "rc_pool": "none", "dtype": "float32", "batch_size": batch_size}
    )


def test_log_probs_match_a_plain_forward(tiny_model_dir):
    adapter = adapter_for(tiny_model_dir)
    got = nucleotide_log_probs(adapter, SEQS)
    for seq, rows in zip(SEQS, got):
        want = reference(adapter.model, seq)
        assert rows.shape == (len(seq), 4) and np.isnan(rows[0]).all()
        np.testing.assert_allclose(rows[1:], want[1:], atol=1e-5)
        # probabilities over the four bases sum to at most 1 (other byte tokens keep some mass)
        assert (np.exp(rows[1:]).sum(1) <= 1 + 1e-5).all()
    ll = observed_log_likelihood(got[0], SEQS[0])
    i = 5
    assert ll[i] == pytest.approx(got[0][i, BASES.index(SEQS[0][i])])
    assert np.isnan(ll[0]) and np.isnan(observed_log_likelihood(got[0], "N" * len(SEQS[0]))[3])


def test_edit_matches_a_forward_hook(tiny_model_dir):
    adapter = adapter_for(tiny_model_dir, batch_size=1)
    direction = torch.linspace(-1, 1, adapter.d_model("blocks.1"))

    def edit(x, positions):
        return x + 3.0 * direction

    got = nucleotide_log_probs(adapter, SEQS, layer="blocks.1", edit=edit)
    handle = adapter.model.get_submodule("blocks.1").register_forward_hook(
        lambda m, i, o: (o[0] + 3.0 * direction, *o[1:])
    )
    try:
        wants = [reference(adapter.model, s) for s in SEQS]
    finally:
        handle.remove()
    plain = nucleotide_log_probs(adapter, SEQS)
    for rows, want, clean in zip(got, wants, plain):
        np.testing.assert_allclose(rows[1:], want[1:], atol=1e-5)
        assert np.abs(rows[1:] - clean[1:]).max() > 1e-3  # the edit did something


def test_next_log_probs_is_the_row_after_the_prefix(tiny_model_dir):
    adapter = adapter_for(tiny_model_dir)
    full = nucleotide_log_probs(adapter, SEQS)
    nxt = next_log_probs(adapter, [s[:10] for s in SEQS])
    np.testing.assert_allclose(nxt, np.stack([rows[10] for rows in full]), atol=1e-5)
    with pytest.raises(InputError, match="prefix is empty"):
        next_log_probs(adapter, [""])


def test_masked_model_is_refused(tiny_model_dir):
    adapter = adapter_for(tiny_model_dir)
    adapter.causal = False
    with pytest.raises(InputError, match="autoregressive"):
        nucleotide_log_probs(adapter, SEQS)
