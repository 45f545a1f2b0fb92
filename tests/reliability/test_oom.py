"""CUDA out-of-memory (#22): halve the batch and retry, down to one unit, then one clear error.

The error is injected on the CPU: the model's forward, the SAE's encode or the AUROC ranking raise
`torch.cuda.OutOfMemoryError` (with torch's own message text) for batches above a size. Every stage
must then give the same bytes as an uninterrupted run; SAE training, which splits a step into
micro-batches with gradient accumulation, must stay within float-summation distance of it.
"""

from __future__ import annotations

import filecmp

import numpy as np
import pytest
import torch
from sae_unit_settings import unit_settings

from dnalens.oom import HalvingBatch, OutOfGpuMemoryError, memory_needed

# The text torch's caching allocator writes (c10/cuda/CUDACachingAllocator.cpp), sizes as it formats them.
TORCH_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.50 GiB. GPU 0 has a total capacity of 79.19 GiB of which "
    "1.12 GiB is free. Including non-PyTorch memory, this process has 78.06 GiB memory in use. Of the "
    "allocated memory 76.80 GiB is allocated by PyTorch, and 0.75 GiB is reserved by PyTorch but "
    "unallocated."
)
NEEDED_GB = (2.5 + 78.06) * 2**30 / 1e9  # in use + requested, in the GB the message prints: 86.5


def oom() -> torch.cuda.OutOfMemoryError:
    return torch.cuda.OutOfMemoryError(TORCH_MESSAGE)


# ---- the helper ---------------------------------------------------------------------------------------


def test_halving_covers_every_unit_once_in_order_and_keeps_the_size():
    seen, calls = [], []

    def fn(a, b):
        calls.append(b - a)
        if b - a > 3:
            raise oom()
        seen.extend(range(a, b))

    batch = HalvingBatch(16)
    batch.chunks(21, fn, lambda a, b, exc: AssertionError("must not fail"))
    assert seen == list(range(21))
    assert calls == [16, 8, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1] and batch.size == 2 and batch.halvings == 3


def test_other_errors_pass_through_and_one_unit_fails_with_the_memory_needed():
    with pytest.raises(ValueError):
        HalvingBatch(4).run(lambda size: (_ for _ in ()).throw(ValueError("not memory")), lambda s, e: e)
    assert memory_needed(oom()) == (int(2.5 * 2**30) + int(78.06 * 2**30), int(79.19 * 2**30))
    from dnalens.oom import oom_error

    batch = HalvingBatch(8)
    with pytest.raises(OutOfGpuMemoryError) as err:
        batch.run(
            lambda size: (_ for _ in ()).throw(oom()),
            lambda size, exc: oom_error("one window of 50,000 nt", exc, halved_from=batch.initial, fix="x"),
        )
    assert err.value.message == (
        f"CUDA out of memory even for one window of 50,000 nt (batch halved from 8 to 1): "
        f"it needs at least {NEEDED_GB:.1f} GB of the GPU's 85.0 GB. Fix: x"
    )


# ---- the sample -----------------------------------------------------------------------------------------


@pytest.fixture(params=["equal", "mixed"])
def genome(tmp_path, request):
    """14 windows: all 50 nt (tiled windows), or 40-70 nt (padded to the longest in a batch)."""
    from dnalens.formats.window_table import Window, write_windows_bed

    rng = np.random.default_rng(7)
    fa = tmp_path / "g.fa"
    fa.write_text(">chr\n" + "".join(rng.choice(list("ACGT"), 900)) + "\n")
    length = (lambda i: 50) if request.param == "equal" else (lambda i: 40 + 10 * (i % 4))
    wins = [Window("chr", s, s + length(i), "+" if i % 3 else "-", f"w{i}") for i, s in enumerate(range(0, 840, 60))]
    write_windows_bed(wins, tmp_path / "windows.bed")
    return fa, tmp_path / "windows.bed", request.param


def _failing_adapter(spec, max_windows=None, max_length=None):
    """The real adapter, whose forward raises CUDA OOM above `max_windows` windows or `max_length` nt."""
    from dnalens.models.base import load_model

    adapter = load_model(spec)
    real = adapter.activations
    calls = []

    def activations(seqs, layers, trim=(0, 0)):
        calls.append(len(seqs))
        if (max_windows and len(seqs) > max_windows) or (max_length and max(map(len, seqs)) > max_length):
            raise oom()
        return real(seqs, layers, trim)

    adapter.activations = activations
    return adapter, calls


def test_sample_halves_to_one_window_and_writes_the_same_bytes(genome, tiny_model_dir, tmp_path):
    """Equal-length windows: the same bytes. Mixed lengths: a window is padded to the longest of its batch,
    the padded length sets the FFT length of the model's long convolutions, and so a different batch
    changes float32 rounding (measured: 3 of 24,000 values one float16 step apart); nothing more."""
    from dnalens.formats.activation_shards import iter_shards
    from dnalens.sample.stage import ExtractSettings, run_sample

    fa, bed, lengths = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 8, "rc_pool": "concat"}
    settings = ExtractSettings(layers=("blocks.1", "blocks.3"), shard_tokens=300)
    run_sample(fa, bed, spec, settings, tmp_path / "plain")
    adapter, calls = _failing_adapter(spec, max_windows=1)
    run_sample(fa, bed, spec, settings, tmp_path / "oom", adapter=adapter)
    assert calls[:4] == [calls[0], 4, 2, 1] and calls[0] > 4 and set(calls[4:]) == {1}  # 1 is kept after
    for layer in settings.layers:
        names = sorted(p.name for p in (tmp_path / "plain" / layer).iterdir())
        assert names == sorted(p.name for p in (tmp_path / "oom" / layer).iterdir()) and len(names) > 3
        _, mismatch, errors = filecmp.cmpfiles(
            tmp_path / "plain" / layer, tmp_path / "oom" / layer, names, shallow=False
        )
        if lengths == "equal":
            assert not mismatch and not errors, mismatch  # the shards' bytes, their JSON and the manifest
            continue
        plain = np.concatenate([np.asarray(a) for _, a in iter_shards(tmp_path / "plain" / layer)]).astype(np.float32)
        halved = np.concatenate([np.asarray(a) for _, a in iter_shards(tmp_path / "oom" / layer)]).astype(np.float32)
        step = np.spacing(np.abs(plain).astype(np.float16)).astype(np.float32)
        assert np.all(np.abs(halved - plain) <= step) and np.mean(halved != plain) < 1e-3


@pytest.mark.parametrize("genome", ["mixed"], indirect=True)
def test_sample_window_too_long_for_the_gpu_is_one_clear_error(genome, tiny_model_dir, tmp_path):
    from dnalens.sample.stage import ExtractSettings, run_sample

    fa, bed, _ = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 4, "rc_pool": "none"}
    adapter, _ = _failing_adapter(spec, max_length=60)  # windows of 70 nt never fit
    with pytest.raises(OutOfGpuMemoryError) as err:
        run_sample(
            fa, bed, spec, ExtractSettings(layers=("blocks.1",), shard_tokens=300), tmp_path / "a", adapter=adapter
        )
    assert err.value.message.startswith(
        "CUDA out of memory even for one window of 70 nt (shard 0, windows.bed row 3)"
        " (batch halved from 4 to 1): it needs at least 86.5 GB"
    )
    assert "windows.length" in err.value.message
    assert not list((tmp_path / "a" / "blocks.1").glob("shard-*"))  # nothing partial of the failed shard


# ---- encode --------------------------------------------------------------------------------------------


def _activation_shards(path, lengths_per_shard, d=8, seed=0):
    from dnalens.formats.activation_shards import write_manifest, write_shard

    rng = np.random.default_rng(seed)
    row = 0
    for idx, lengths in enumerate(lengths_per_shard):
        arr = rng.standard_normal((sum(lengths), d)).astype(np.float16)
        write_shard(
            path,
            idx,
            arr,
            list(range(row, row + len(lengths))),
            np.concatenate([[0], np.cumsum(lengths)]).tolist(),
            {"layer": "blocks.0"},
        )
        row += len(lengths)
    write_manifest(path, {"layer": "blocks.0"})


def test_encode_halves_rows_and_writes_the_same_codes(tmp_path, monkeypatch):
    from dnalens.sae.encode import encode_activations
    from dnalens.sae.topk import TopKSAE

    _activation_shards(tmp_path / "acts", [[30, 40, 50], [70, 33], [9]])
    torch.manual_seed(0)
    sae = TopKSAE(8, 64, k=5)
    encode_activations(sae, tmp_path / "acts", tmp_path / "plain", progress=False)
    real, rows = sae.pre_activations, []

    def encode(x, bases=None):
        rows.append(x.shape[0])
        if x.shape[0] > 13:
            raise oom()
        return real(x, bases)

    monkeypatch.setattr(sae, "pre_activations", encode)
    encode_activations(sae, tmp_path / "acts", tmp_path / "oom", progress=False)
    assert max(r for r in rows if r <= 13) < 13 and rows[0] > 13
    names = sorted(p.name for p in (tmp_path / "plain").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "oom").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "plain", tmp_path / "oom", names, shallow=False)
    assert not mismatch and not errors, mismatch


def test_encode_batch_level_sae_never_splits_a_window(tmp_path, monkeypatch):
    from dnalens.sae.encode import encode_activations
    from dnalens.sae.io import load_sae

    _activation_shards(tmp_path / "acts", [[5, 9, 4], [7, 3]])
    torch.save({"W": torch.randn(8, 40), "b_enc": torch.zeros(40), "b_dec": torch.zeros(8)}, tmp_path / "sae-k_2.pt")
    sae = load_sae(tmp_path / "sae-k_2.pt")
    real = sae.pre_activations
    monkeypatch.setattr(
        sae, "pre_activations", lambda x, bases=None: (_ for _ in ()).throw(oom()) if x.shape[0] > 8 else real(x, bases)
    )
    with pytest.raises(
        OutOfGpuMemoryError,
        match=r"one window of 9 rows \(a batch-level SAE encodes a window at once\)"
        r": it needs at least 86.5 GB",
    ):
        encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)
    assert not (tmp_path / "codes").exists() and not list(tmp_path.glob(".codes*"))


# ---- SAE training --------------------------------------------------------------------------------------


def _batches(x, batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x) - batch_size + 1, batch_size):
            yield x[order[i : i + batch_size]]


@pytest.mark.parametrize("architecture", ["topk", "batchtopk", "matryoshka_batchtopk"])
def test_sae_training_splits_steps_into_micro_batches_with_the_same_result(architecture, monkeypatch):
    from dnalens.sae.base import SparseAutoencoder
    from dnalens.sae.synthetic import sparse_dictionary_data
    from dnalens.sae.training import train_sae

    torch.set_num_threads(1)
    x = torch.from_numpy(sparse_dictionary_data(4096, 16, 24, seed=3).activations)
    settings = unit_settings(
        architecture=architecture,
        expansion=4,
        k=3,
        lr=1e-3,
        tokens=256 * 30,
        batch_size=256,
        dead_after_tokens=1024,
        device="cpu",
        seed=5,
    )
    whole = train_sae(_batches(x, 256, 1), 16, settings, progress=False)
    real, sizes = SparseAutoencoder.pre_activations, []

    def pre_activations(self, x, bases=None):
        sizes.append(x.shape[0])
        if x.shape[0] > 64:
            raise oom()
        return real(self, x, bases)

    monkeypatch.setattr(SparseAutoencoder, "pre_activations", pre_activations)
    split = train_sae(_batches(x, 256, 1), 16, settings, progress=False)
    assert sizes[:2] == [256, 128] and max(s for s in sizes if s <= 64) == 64  # 4 micro-batches per step
    assert split.steps == whole.steps == 30
    for name, value in whole.sae.state_dict().items():
        got = split.sae.state_dict()[name]
        # the same codes every step; gradients summed in another order: float32 rounding only
        torch.testing.assert_close(got, value, rtol=1e-5, atol=1e-6, msg=name)  # measured: 2.3e-7 relative
    assert [row["l0"] for row in split.history] == pytest.approx([row["l0"] for row in whole.history], abs=1e-6)


def test_sae_micro_batch_step_matches_whole_batch_gradients():
    """One step, checked directly: since-fired counts, dead latents and codes' L0 equal; gradients within
    float32 rounding; BatchTopK's batch-wide cut-off found across micro-batches."""
    from dnalens.sae.batchtopk import BatchTopKSAE
    from dnalens.sae.train_step import step_gradients

    torch.manual_seed(1)
    sae = BatchTopKSAE(12, 48, k=4).train()
    x = torch.randn(200, 12) * torch.linspace(0.2, 3, 200)[:, None]  # rows of unequal norm: uneven budgets
    since = torch.randint(0, 300, (48,))
    results = {}
    for rows in (200, 37):
        r = step_gradients(sae, x, None, since, dead_after=250, aux_k_coef=1 / 32, k_aux=6, rows=rows)
        results[rows] = (r, {n: p.grad.clone() for n, p in sae.named_parameters()})
    (whole, g_whole), (micro, g_micro) = results[200], results[37]
    assert torch.equal(whole.since_fired, micro.since_fired) and torch.equal(whole.dead, micro.dead)
    assert float(whole.l0) == pytest.approx(float(micro.l0), abs=1e-6) and float(whole.l0) == pytest.approx(4.0)
    assert float(whole.smallest_code) == float(micro.smallest_code)
    for name in g_whole:
        torch.testing.assert_close(g_micro[name], g_whole[name], rtol=1e-4, atol=1e-6, msg=name)
    assert any(float(g.abs().max()) > 0 for g in g_whole.values())


# ---- the torch probe path ------------------------------------------------------------------------------


def test_torch_auroc_halves_feature_blocks_and_gives_the_same_matrix(monkeypatch):
    import scipy.sparse as sp

    from dnalens.probe import auroc_matrix, auroc_torch

    rng = np.random.default_rng(3)
    dense = rng.standard_normal((400, 23)) * (rng.random((400, 23)) < 0.2)
    dense[:, 5] = 0.0
    codes = sp.csr_matrix(dense)
    labels = rng.random((400, 4)) < 0.3
    plain = auroc_matrix(codes, labels, device="cpu-torch", max_chunk_entries=600)
    real, widths = auroc_torch._ranked_block_torch, []

    def ranked(torch_, block, device):
        widths.append(block.n_cols)
        if block.n_cols > 2:
            raise oom()
        return real(torch_, block, device)

    monkeypatch.setattr(auroc_torch, "_ranked_block_torch", ranked)
    halved = auroc_matrix(codes, labels, device="cpu-torch", max_chunk_entries=600)
    assert widths[0] > 2 and max(w for w in widths if w <= 2) == 2
    assert halved.tobytes() == plain.tobytes()
    np.testing.assert_allclose(plain, auroc_matrix(codes, labels), atol=1e-12)  # and equal to the CPU path

    monkeypatch.setattr(auroc_torch, "_ranked_block_torch", lambda *a: (_ for _ in ()).throw(oom()))
    with pytest.raises(OutOfGpuMemoryError, match=r"one feature with \d+ nonzeros over 400 tokens .*86.5 GB"):
        auroc_matrix(codes, labels, device="cpu-torch")
