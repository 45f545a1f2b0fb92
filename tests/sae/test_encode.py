"""`encode_activations`: per-token SAEs in chunks, batch-level (Goodfire) SAEs one window at a time."""

import json

import numpy as np
import torch

from dnalens.formats.activation_shards import write_manifest, write_shard
from dnalens.formats.codes import iter_code_shards
from dnalens.sae.batchtopk import batch_topk
from dnalens.sae.encode import encode_activations
from dnalens.sae.io import load_sae
from dnalens.sae.topk import TopKSAE


def _shards(path, lengths_per_shard, d=8, seed=0):
    rng = np.random.default_rng(seed)
    arrays, row = [], 0
    for idx, lengths in enumerate(lengths_per_shard):
        arr = rng.standard_normal((sum(lengths), d)).astype(np.float16)
        rows = list(range(row, row + len(lengths)))
        row += len(lengths)
        write_shard(path, idx, arr, rows, np.concatenate([[0], np.cumsum(lengths)]).tolist(), {"layer": "blocks.0"})
        arrays.append(arr)
    write_manifest(path, {"layer": "blocks.0"})
    return arrays


def test_goodfire_budget_is_per_window(tmp_path):
    lengths = [[5, 9, 4], [7, 3]]
    arrays = _shards(tmp_path / "acts", lengths)
    W = torch.randn(8, 40)
    torch.save({"W": W, "b_enc": torch.zeros(40), "b_dec": torch.zeros(8)}, tmp_path / "sae-k_2.pt")
    sae = load_sae(tmp_path / "sae-k_2.pt")
    summary = encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)
    assert summary["total_tokens"] == 28 and summary["n_features"] == 40
    for (meta, csr), arr, lens in zip(iter_code_shards(tmp_path / "codes"), arrays, lengths):
        dense = csr.to_scipy().toarray()
        for a, b in zip(meta["offsets"][:-1], meta["offsets"][1:]):
            window = torch.from_numpy(arr[a:b].astype(np.float32))
            want = batch_topk(window @ W, 2).numpy()
            np.testing.assert_allclose(dense[a:b], want.astype(np.float16), rtol=1e-3, atol=1e-3)
            assert np.count_nonzero(dense[a:b]) == 2 * (b - a)


def test_per_token_sae_matches_direct_encode(tmp_path):
    arrays = _shards(tmp_path / "acts", [[6, 6], [10]])
    torch.manual_seed(0)
    sae = TopKSAE(8, 32, k=3)
    encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)
    got = np.vstack([csr.to_scipy().toarray() for _, csr in iter_code_shards(tmp_path / "codes")])
    want = sae.encode(torch.from_numpy(np.vstack(arrays).astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(got, want.astype(np.float16), rtol=1e-3, atol=1e-3)
    manifest = json.loads((tmp_path / "codes" / "manifest.json").read_text())
    assert manifest["total_nnz"] == np.count_nonzero(got) and manifest["layer"] == "blocks.0"


def test_topk_sparse_picks_equal_the_dense_codes_nonzeros():
    """The TopK fast path (no dense block) returns exactly what scanning the dense codes returns, with a
    lookup SAE's bases too and with rows whose picks are all negative (ReLU zeros dropped)."""
    from dnalens.sae.encode import _nonzeros, _topk_nonzeros

    torch.manual_seed(3)
    sae = TopKSAE(8, 40, k=5).eval()
    sae.enable_base_lookup(1)
    with torch.no_grad():
        sae.b_dec_lookup.normal_()
        x = torch.randn(300, 8)
        sae.b_enc.fill_(-0.5)  # some rows keep fewer than k positive picks: ReLU zeros are dropped
        bases = torch.randint(0, 5, (300,))
        want = _nonzeros(sae.encode(x, bases))
        got = _topk_nonzeros(sae, x, bases)
    assert want[0].min() < 5 and want[0].max() == 5
    for a, b in zip(want, got):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
