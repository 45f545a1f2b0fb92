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


def _bits(t: torch.Tensor) -> np.ndarray:
    return t.contiguous().view(torch.int32).numpy()  # NaN == NaN, -0.0 != 0.0


def test_topk_picks_are_torch_topks_with_ties_nan_and_inf():
    """The CPU path (numpy's partition) picks what torch.topk picks, also on the rows where numpy alone
    picks other members of a tie at the k-th value, and on rows with NaN or inf."""
    from dnalens.sae.topk import topk_picks

    torch.manual_seed(0)
    pre = torch.randn(400, 300)
    pre[0] = 1.0  # every value tied
    pre[1, :20], pre[1, 20:] = 2.0, -1.0
    pre[2] = torch.round(pre[2] * 2) / 2
    pre[3, 7], pre[4, :50], pre[5, 3], pre[6, :40] = float("nan"), float("nan"), float("inf"), float("inf")
    pre[7] = -pre[7].abs()  # all negative
    numpy_cols = np.sort(np.argpartition(pre.numpy(), 300 - 6, axis=1)[:, 300 - 5 :], axis=1)
    torch_cols = pre.topk(5, dim=-1).indices.sort(-1).values.numpy()
    assert (numpy_cols[:3] != torch_cols[:3]).any()  # the redo is what makes the tied rows agree
    for k in (1, 5, 32, 299, 300, 500):
        cols, vals = topk_picks(pre, k)
        want = pre.topk(min(k, 300), dim=-1, sorted=False).indices.sort(-1).values
        np.testing.assert_array_equal(cols.numpy(), want.numpy())
        np.testing.assert_array_equal(_bits(vals), _bits(pre.gather(-1, want)))


def test_cpu_pieces_tile_the_rows_without_a_one_row_piece():
    from dnalens.sae.encode import _cache_pieces

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert _cache_pieces(0, 1024, 1024, cpu) == [(0, 512), (512, 1024)]
    assert _cache_pieces(0, 1025, 1024, cpu) == [(0, 512), (512, 1025)]  # not (1024, 1025): one row is a gemv
    assert _cache_pieces(10, 523, 1024, cpu) == [(10, 523)]
    assert _cache_pieces(3, 4, 1024, cpu) == [(3, 4)]
    assert _cache_pieces(0, 1100, 1 << 16, cpu) == [(0, 512), (512, 1024), (1024, 1100)]  # at least 512 rows
    assert _cache_pieces(0, 5000, 1024, gpu) == [(0, 5000)]


def test_a_chunk_retried_after_out_of_memory_is_kept_once(monkeypatch):
    """CUDA OOM in the second CPU piece of a chunk: the chunk is halved and redone, its first piece not kept twice."""
    from dnalens.oom import HalvingBatch
    from dnalens.sae.encode import _nonzeros, encode_shard

    torch.manual_seed(4)
    sae = TopKSAE(8, 1024, k=4).eval()
    x = torch.randn(2000, 8)
    want = _nonzeros(sae.encode(x).detach())
    real, calls = sae.pre_activations, []

    def flaky(rows, bases=None):
        calls.append(len(rows))
        if len(calls) == 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB.")
        return real(rows, bases)

    monkeypatch.setattr(sae, "pre_activations", flaky)
    batch = HalvingBatch(2000, what="test chunk")
    csr, _ = encode_shard(sae, x, [0, 2000], device=torch.device("cpu"), batch=batch)
    assert batch.size == 1000 and calls[:4] == [512, 512, 512, 488]
    np.testing.assert_array_equal(np.diff(csr.indptr), want[0])
    np.testing.assert_array_equal(csr.indices, want[1])
    np.testing.assert_array_equal(csr.values, want[2].astype(np.float16))


def test_pre_activations_add_the_bias_in_place_with_the_same_sums_and_gradients():
    torch.manual_seed(5)
    sae = TopKSAE(16, 64, k=4)
    with torch.no_grad():
        sae.b_enc.normal_()
    x = torch.randn(50, 16)
    pre = sae.pre_activations(x)
    np.testing.assert_array_equal(_bits(pre.detach()), _bits(((x - sae.b_dec) @ sae.W_enc + sae.b_enc).detach()))
    pre.square().sum().backward()
    w = sae.W_enc.detach().clone().requires_grad_()
    ((x - sae.b_dec.detach()) @ w + sae.b_enc.detach()).square().sum().backward()
    torch.testing.assert_close(sae.W_enc.grad, w.grad)
