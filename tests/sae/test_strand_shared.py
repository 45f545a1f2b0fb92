"""One SAE for both strand passes (sae.strand_shared): reverse-complement lookup codes against the codes of
the reverse-complement read, encode/decode against the per-strand SAE applied by hand, training recovers a
planted per-strand dictionary, and the SAELens round trip keeps the per-strand width."""

import json

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.errors import InputError
from dnalens.formats.window_table import reverse_complement
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.io import load_sae, save_sae
from dnalens.sae.row_bases import reverse_complement_codes, row_codes
from dnalens.sae.strand_shared import StrandSharedSAE, strand_states
from dnalens.sae.synthetic import matched_cosine, sparse_dictionary_data
from dnalens.sae.topk import TopKSAE
from dnalens.sae.training import finalize, train_sae


@pytest.mark.parametrize("context", [1, 3, 5])
def test_reverse_complement_codes_are_the_codes_of_the_reverse_read(context):
    seq = "AACGTTNGCATTGACN"
    own = row_codes(seq, context)
    other = row_codes(reverse_complement(seq), context)[::-1]  # row r of the reverse read sits at n-1-r
    np.testing.assert_array_equal(reverse_complement_codes(own, context), other)
    as_tensor = reverse_complement_codes(torch.from_numpy(np.ascontiguousarray(own)), context)
    assert torch.equal(as_tensor, torch.from_numpy(np.ascontiguousarray(other)).long())
    if context == 3:  # by hand: ACG centred on C -> its reverse complement CGT centred on G
        acg = 0 + 5 * 1 + 25 * 2
        assert int(reverse_complement_codes(np.array([acg]), 3)[0]) == 1 + 5 * 2 + 25 * 3


def _lookup_topk(d: int, m: int, k: int) -> TopKSAE:
    torch.manual_seed(0)
    sae = TopKSAE(d, m, k=k)
    sae.enable_base_lookup(3)
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_dec_lookup.normal_()
    return sae.eval()


def test_encode_and_decode_apply_the_strand_sae_to_each_half():
    inner = _lookup_topk(4, 6, 2)
    sae = StrandSharedSAE(inner)
    x = torch.randn(9, 8)
    bases = torch.from_numpy(row_codes("ACGTNACGT", 3))
    other = reverse_complement_codes(bases, 3)
    own_codes, other_codes = inner.encode(x[:, :4], bases), inner.encode(x[:, 4:], other)
    codes = sae.encode(x, bases)
    torch.testing.assert_close(codes, torch.cat([own_codes, other_codes], dim=1))
    torch.testing.assert_close(
        sae.decode(codes, bases), torch.cat([inner.decode(own_codes, bases), inner.decode(other_codes, other)], dim=1)
    )
    assert (sae.d_in, sae.d_sae, sae.k, sae.lookup_context) == (8, 12, 2, 3)
    with pytest.raises(ValueError, match="width 8"):
        sae.encode(torch.randn(3, 4), bases[:3])


def test_batch_level_encode_ranks_both_halves_together():
    """Without a threshold BatchTopK keeps k x (2 n) values over all per-strand states, as in training."""
    torch.manual_seed(1)
    inner = BatchTopKSAE(4, 6, k=2).eval()
    sae = StrandSharedSAE(inner)
    x = torch.randn(5, 8)
    both = inner.encode(torch.cat([x[:, :4], x[:, 4:]]))
    torch.testing.assert_close(sae.encode(x), torch.cat([both[:5], both[5:]], dim=1))
    assert int((sae.encode(x) > 0).sum()) == 2 * 10


def test_strand_states_stack_halves_with_reverse_codes():
    x = torch.arange(12.0).reshape(3, 4)
    bases = torch.tensor([0, 7, 124])
    states, codes = strand_states((x, bases), 3)
    torch.testing.assert_close(states, torch.tensor([[0.0, 1], [4, 5], [8, 9], [2, 3], [6, 7], [10, 11]]))
    assert codes.tolist() == [0, 7, 124, *reverse_complement_codes(bases, 3).tolist()]
    with pytest.raises(ValueError, match="even width"):
        strand_states(torch.zeros(2, 3), 0)


def test_training_recovers_a_planted_per_strand_dictionary(tmp_path):
    """Rows = [state, another state] of one 24-feature dictionary: the strand SAE (32 latents) finds it."""
    data = sparse_dictionary_data(24_000, 16, 24, mean_active=2.0, noise=0.0, seed=3)
    rng = np.random.default_rng(0)
    rows = np.concatenate([data.activations, data.activations[rng.permutation(len(data.activations))]], axis=1)
    settings = unit_settings(
        architecture="topk",
        expansion=2,
        k=2,
        tokens=24_000 * 20,
        batch_size=1024,
        lr=4e-3,
        device="cpu",
        strand_shared=True,
        init_b_dec="mean",
    )
    assert settings.rows_per_batch == 512

    def batches():
        while True:
            for i in range(0, len(rows), settings.rows_per_batch):
                yield torch.from_numpy(rows[i : i + settings.rows_per_batch])

    sae = finalize(train_sae(batches(), 32, settings, progress=False))
    assert isinstance(sae, StrandSharedSAE) and sae.strand_sae.d_in == 16 and sae.d_sae == 64
    cos = matched_cosine(data.directions, sae.strand_sae.W_dec.detach().numpy())
    assert np.median(cos) > 0.95 and (cos > 0.9).mean() >= 0.8

    save_sae(sae, tmp_path / "ss")
    cfg = json.loads((tmp_path / "ss" / "cfg.json").read_text())
    assert cfg["d_in"] == 16 and cfg["d_sae"] == 32 and cfg["metadata"]["dnalens"]["strand_shared"] is True
    loaded = load_sae(tmp_path / "ss")
    x = torch.from_numpy(rows[:64])
    assert isinstance(loaded, StrandSharedSAE)
    torch.testing.assert_close(loaded.encode(x), sae.encode(x))
    with pytest.raises(InputError, match="even width"):
        train_sae(iter([torch.zeros(4, 3)]), 3, settings, progress=False)


def test_setting_must_be_a_boolean():
    with pytest.raises(InputError, match="strand_shared"):
        unit_settings(strand_shared="yes")
    assert unit_settings(batch_size=4096).rows_per_batch == 4096
