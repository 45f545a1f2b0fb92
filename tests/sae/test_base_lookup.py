"""Per-base decoder bias (sae.base_lookup): the formula against a hand-written one, its initialisation
from per-base means, the row bases of a shard against a hand-built case (− strand, trims), saving in the
SAELens layout plus one tensor, and the point of it: with a tight k, base-dominated activations need
base x feature latents without the lookup and one latent per feature with it."""

import json

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.concepts.genome_data import encode as base_codes
from dnalens.errors import InputError
from dnalens.formats.window_table import Window
from dnalens.sae.io import load_sae, save_sae
from dnalens.sae.row_bases import context_codes, shard_row_bases
from dnalens.sae.topk import TopKSAE
from dnalens.sae.training import _initialise, build_sae, finalize, train_sae


def test_encode_decode_follow_the_hand_written_formula():
    torch.manual_seed(0)
    sae = TopKSAE(4, 6, k=2)
    sae.enable_base_lookup()
    with torch.no_grad():
        sae.b_dec.normal_()
        sae.b_dec_lookup.normal_()
    x = torch.randn(7, 4)
    bases = torch.tensor([0, 1, 2, 3, 4, 0, 2], dtype=torch.uint8)
    centre = sae.b_dec + sae.b_dec_lookup[bases.long()]
    pre = (x - centre) @ sae.W_enc + sae.b_enc
    top = pre.topk(2, dim=-1)
    codes = torch.zeros_like(pre).scatter_(-1, top.indices, top.values.relu())
    torch.testing.assert_close(sae.encode(x, bases), codes)
    torch.testing.assert_close(sae.decode(codes, bases), codes @ sae.W_dec + centre)
    with pytest.raises(ValueError, match="bases"):
        sae.encode(x)
    assert sae.lookup_context == 1
    sae.enable_base_lookup(3)
    assert tuple(sae.b_dec_lookup.shape) == (125, 4) and sae.lookup_context == 3
    for bad in (True, 2, 9, -1):
        with pytest.raises(InputError, match="base_lookup"):
            unit_settings(base_lookup=bad)


def test_initialise_sets_each_base_mean():
    s = unit_settings(k=1, expansion=1, init_b_dec="mean", normalize="none", base_lookup=1, device="cpu")
    sae = build_sae(s, 3)
    x = torch.tensor([[1.0, 0, 0], [3, 0, 0], [0, 2, 0], [0, 0, 5]])
    bases = torch.tensor([0, 0, 2, 3], dtype=torch.uint8)
    with torch.no_grad():
        _initialise(sae, x, s, bases)
    mean = x.mean(0)
    torch.testing.assert_close(sae.b_dec.detach(), mean)
    expected = torch.stack(
        [
            torch.tensor([2.0, 0, 0]) - mean,
            torch.zeros(3),
            torch.tensor([0, 2.0, 0]) - mean,
            torch.tensor([0, 0, 5.0]) - mean,
            torch.zeros(3),
        ]
    )
    expected[1] = 0.0
    expected[4] = 0.0
    torch.testing.assert_close(sae.b_dec_lookup.detach(), expected)


def test_shard_row_bases_follow_read_order_and_trims():
    fasta = {"chr1": "AACGTTGCAN"}  # window_sequence only slices records: a str stands in for pyfaidx
    windows = [Window("chr1", 0, 5, "+", "w0"), Window("chr1", 4, 10, "-", "w1")]
    # w0 reads AACGT -> ACG kept; w1 reads revcomp(TTGCAN) = NTGCAA -> TGCA kept (1 trimmed each end)
    meta = {"windows": [0, 1], "offsets": [0, 3, 7], "trim_start": 1, "trim_end": 1, "shard": 0}
    assert shard_row_bases(meta, windows, fasta).tolist() == [0, 1, 2, 3, 2, 1, 0]
    assert base_codes("acgtRN").tolist() == [0, 1, 2, 3, 4, 4]
    # centred trinucleotides, code = b(i-1) + 5 b(i) + 25 b(i+1); the trimmed ends are still neighbours
    assert context_codes(np.array([0, 1, 2], np.uint8), 3).tolist() == [4 + 0 + 25, 0 + 5 + 50, 1 + 10 + 100]
    assert shard_row_bases(meta, windows, fasta, context=3)[:3].tolist() == [0 + 0 + 25, 0 + 5 + 50, 1 + 10 + 75]
    with pytest.raises(ValueError, match="odd"):
        context_codes(np.zeros(3, np.uint8), 2)
    meta["offsets"] = [0, 3, 9]  # rows that the FASTA cannot account for
    with pytest.raises(InputError, match="kept bases"):
        shard_row_bases(meta, windows, fasta)


def _base_times_feature_data(n: int, seed: int):
    """x = E[base] + a * D[feature]: 4 base offsets (norm 3) and 8 features, one per row, all orthogonal in
    16 dimensions. With k = 1 and 16 latents, an SAE without the lookup would need a latent per base x
    feature pair (32); with it, one per feature (8)."""
    rng = np.random.default_rng(seed)
    dirs = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    bases = rng.integers(0, 4, n)
    feature = rng.integers(0, 8, n)
    x = 3.0 * dirs[bases] + rng.uniform(0.5, 1.5, n)[:, None] * dirs[4 + feature]
    x += 0.01 * rng.normal(size=x.shape)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(bases.astype(np.uint8)), feature


def _fvu(sae, x, bases):
    with torch.no_grad():
        recon = sae(x, bases if sae.needs_bases else None)
    return float((recon - x).pow(2).sum() / (x - x.mean(0)).pow(2).sum())


def test_lookup_frees_latents_from_encoding_the_base(tmp_path):
    torch.set_num_threads(1)
    x, bases, feature = _base_times_feature_data(8192, 0)

    def batches(with_bases):
        g = torch.Generator().manual_seed(1)
        while True:
            order = torch.randperm(len(x), generator=g)
            for i in range(0, len(x) - 255, 256):
                rows = order[i : i + 256]
                yield (x[rows], bases[rows]) if with_bases else x[rows]

    fvu, saes = {}, {}
    for lookup in (False, True):
        s = unit_settings(
            expansion=1,
            k=1,
            lr=3e-3,
            tokens=256 * 400,
            batch_size=256,
            dead_after_tokens=10_000,
            device="cpu",
            seed=0,
            base_lookup=int(lookup),
        )
        saes[lookup] = finalize(train_sae(batches(lookup), 16, s, progress=False))
        fvu[lookup] = _fvu(saes[lookup], x, bases)
    # measured: without the lookup 0.118, with it 0.001
    assert fvu[True] < 0.01 and fvu[False] > 0.08, fvu
    # each planted feature has one latent that fires exactly on it, whatever the base
    codes = saes[True].encode(x, bases).numpy()
    for j in range(8):
        on = feature == j
        best = max(range(codes.shape[1]), key=lambda c: ((codes[:, c] > 0) == on).mean())
        assert ((codes[:, best] > 0) == on).mean() > 0.99, j

    save_sae(saes[True], tmp_path / "sae")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["architecture"] == "topk" and cfg["d_in"] == 16
    back = load_sae(tmp_path / "sae")
    assert back.needs_bases
    torch.testing.assert_close(back.b_dec_lookup, saes[True].b_dec_lookup)
    torch.testing.assert_close(back.encode(x[:64], bases[:64]), saes[True].encode(x[:64], bases[:64]))
