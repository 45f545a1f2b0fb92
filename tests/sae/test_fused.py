"""The fused path (model + SAE on the model's device, codes only) writes the codes that extraction to dense
shards followed by `encode_activations` writes, shard for shard; the sample holds whole, seeded windows."""

import numpy as np
import pytest
import torch

from dnalens.formats.codes import iter_code_shards, read_codes_manifest
from dnalens.formats.window_table import Window, read_windows_bed, write_windows_bed
from dnalens.models.window_pass import token_batches
from dnalens.sae.encode import encode_activations
from dnalens.sae.fused import run_fused
from dnalens.sae.row_bases import open_row_bases
from dnalens.sae.strand_shared import StrandSharedSAE
from dnalens.sae.topk import TopKSAE
from dnalens.sample.selection import rows_needed, sample_rows, write_sample_bed
from dnalens.sample.stage import ExtractSettings, run_sample


@pytest.fixture()
def genome(tmp_path):
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 900))
    fa = tmp_path / "g.fa"
    fa.write_text(">chr\n" + seq + "\n")
    wins = [
        Window("chr", s, s + 60 + 10 * (i % 3), "+" if i % 2 == 0 else "-", f"w{i}")
        for i, s in enumerate(range(0, 780, 60))
    ]
    bed = tmp_path / "windows.bed"
    write_windows_bed(wins, bed)
    return fa, bed


def _same_codes(stored, fused):
    a, b = list(iter_code_shards(stored)), list(iter_code_shards(fused))
    assert len(a) == len(b) > 1
    for (ma, ca), (mb, cb) in zip(a, b):
        assert ma["windows"] == mb["windows"] and ma["offsets"] == mb["offsets"]
        assert cb.indices.dtype == np.uint16
        np.testing.assert_array_equal(np.asarray(ca.indptr), np.asarray(cb.indptr))
        np.testing.assert_array_equal(np.asarray(ca.indices), np.asarray(cb.indices))
        np.testing.assert_allclose(np.asarray(ca.values, np.float32), np.asarray(cb.values, np.float32), rtol=2e-3)
    ma, mb = read_codes_manifest(stored), read_codes_manifest(fused)
    assert (ma["total_tokens"], ma["total_nnz"]) == (mb["total_tokens"], mb["total_nnz"])


def test_fused_codes_equal_stored_then_encoded_strand_shared_lookup(genome, tiny_model_dir, tmp_path):
    fa, bed = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 3, "rc_pool": "concat", "trim": 4}
    settings = ExtractSettings(layers=("blocks.2",), shard_tokens=200, batch_tokens=150)
    torch.manual_seed(1)
    inner = TopKSAE(16, 40, k=3)
    inner.enable_base_lookup(3)
    with torch.no_grad():
        inner.b_dec_lookup.normal_()
    sae = StrandSharedSAE(inner).eval()
    run_sample(fa, bed, spec, settings, tmp_path / "act")
    bases = open_row_bases(tmp_path / "act" / "blocks.2", bed, fa, context=3)
    encode_activations(sae, tmp_path / "act" / "blocks.2", tmp_path / "stored", progress=False, bases=bases)
    for part in (0, 1):  # scatter parts cover the same shards as the stored path's parts
        run_fused(
            fa,
            bed,
            spec,
            "sae-in-memory",
            "blocks.2",
            settings,
            tmp_path / f"fused{part}",
            part=part,
            parts=2,
            sae=sae,
            progress=False,
        )
    from dnalens.sae.parts import merge_code_parts

    merge_code_parts([tmp_path / "fused0", tmp_path / "fused1"], tmp_path / "fused")
    _same_codes(tmp_path / "stored", tmp_path / "fused")


def test_fused_goodfire_budget_per_window(genome, tiny_model_dir, tmp_path):
    fa, bed = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 2, "rc_pool": "none", "trim": 2}
    settings = ExtractSettings(layers=("blocks.1",), shard_tokens=250, batch_tokens=10_000)
    torch.manual_seed(2)
    torch.save({"W": torch.randn(16, 64), "b_enc": torch.zeros(64), "b_dec": torch.zeros(16)}, tmp_path / "sae-k_2.pt")
    from dnalens.sae.io import load_sae

    sae = load_sae(tmp_path / "sae-k_2.pt")
    run_sample(fa, bed, spec, settings, tmp_path / "act")
    encode_activations(sae, tmp_path / "act" / "blocks.1", tmp_path / "stored", progress=False)
    summary = run_fused(
        fa, bed, spec, tmp_path / "sae-k_2.pt", "blocks.1", settings, tmp_path / "fused", progress=False
    )
    _same_codes(tmp_path / "stored", tmp_path / "fused")
    assert summary["fused"] and summary["indices_dtype"] == "uint16"
    kept = sum(w.length - 2 for w in read_windows_bed(bed))
    assert summary["total_nnz"] == 2 * kept  # BatchTopK: k x positions per window


def test_token_batches_pack_by_padded_tokens():
    assert token_batches([100, 100, 100, 100], 250) == [(0, 2), (2, 4)]
    assert token_batches([50, 120, 50], 240) == [(0, 2), (2, 3)]  # 2 x 120 fits, 3 x 120 does not
    assert token_batches([500, 10], 100) == [(0, 1), (1, 2)]  # a window over budget runs alone
    assert token_batches([], 100) == []


def test_sample_is_seeded_whole_windows_both_strands_and_sized(tmp_path):
    assert rows_needed(900, 0.1, False) == 1000 and rows_needed(1800, 0.1, True) == 1000
    keys = [(c, s, s + 10) for c in ("a", "b") for s in range(0, 500, 10) for _ in (0, 1)]  # 200 rows, 2 strands
    kept = [8] * len(keys)
    rows = sample_rows(keys, kept, 400, 0.95, seed=7)
    assert 400 <= 8 * rows.size < 400 + 16 and np.all(np.diff(rows) > 0)
    assert {keys[r] for r in rows} == {keys[r] for r in rows if r % 2 == 0}  # both strands or neither
    assert rows.size == len({keys[r] for r in rows}) * 2
    assert np.array_equal(rows, sample_rows(keys, kept, 400, 0.95, seed=7))
    assert not np.array_equal(rows, sample_rows(keys, kept, 400, 0.95, seed=8))
    contigs = {keys[r][0] for r in rows}
    assert contigs == {"a", "b"}  # spread over the genome, not a prefix
    assert sample_rows(keys, kept, int(0.95 * 1600), 0.95, seed=7).size == 200  # near-whole -> whole


def test_sample_bed_lines_in_order(genome, tmp_path):
    _, bed = genome
    out = tmp_path / "sample.bed"
    summary = write_sample_bed(
        bed, out, trim=(0, 0), tokens=300, holdout_fraction=0.0, strand_shared=False, coverage=0.95, seed=0
    )
    lines, sampled = bed.read_text().splitlines(), out.read_text().splitlines()
    assert set(sampled) <= set(lines) and sampled == [l for l in lines if l in set(sampled)]
    assert summary["tokens"] >= 300 and not summary["whole_genome"]


def test_whole_genome_sample_is_reused_not_recomputed(genome, tiny_model_dir, tmp_path, monkeypatch):
    fa, bed = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 2, "rc_pool": "none", "trim": 2}
    settings = ExtractSettings(layers=("blocks.1",), shard_tokens=250)
    torch.manual_seed(4)
    sae = TopKSAE(16, 32, k=3).eval()
    run_sample(fa, bed, spec, settings, tmp_path / "act")
    encode_activations(sae, tmp_path / "act" / "blocks.1", tmp_path / "stored", progress=False)
    import dnalens.models.base as base

    real_load = base.load_model
    monkeypatch.setattr(base, "load_model", lambda spec: pytest.fail("model loaded with every shard stored"))
    reuse = run_fused(
        fa,
        bed,
        spec,
        "mem",
        "blocks.1",
        settings,
        tmp_path / "reused",
        sae=sae,
        activations=tmp_path / "act" / "blocks.1",
        progress=False,
    )
    assert reuse["reused_dense_shards"] == len(reuse["shards"]) > 1
    _same_codes(tmp_path / "stored", tmp_path / "reused")
    monkeypatch.setattr(base, "load_model", real_load)
    # a sample of other windows (a subset: same row numbers, other windows) is never mistaken for them
    sub = tmp_path / "sub.bed"
    sub.write_text("".join(bed.read_text().splitlines(keepends=True)[3:]))
    run_sample(fa, sub, spec, settings, tmp_path / "subact")
    other = run_fused(
        fa,
        bed,
        spec,
        "mem",
        "blocks.1",
        settings,
        tmp_path / "recomputed",
        sae=sae,
        activations=tmp_path / "subact" / "blocks.1",
        progress=False,
    )
    assert other["reused_dense_shards"] == 0
    _same_codes(tmp_path / "stored", tmp_path / "recomputed")


def _goodfire(tmp_path):
    torch.manual_seed(2)
    torch.save({"W": torch.randn(16, 64), "b_enc": torch.zeros(64), "b_dec": torch.zeros(16)}, tmp_path / "sae-k_2.pt")
    return tmp_path / "sae-k_2.pt"


def test_fused_out_of_memory_halves_to_one_window_with_the_same_codes(genome, tiny_model_dir, tmp_path, monkeypatch):
    from dnalens.oom import OutOfGpuMemoryError
    from dnalens.sae import fused

    fa, bed = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 4, "rc_pool": "none", "trim": 2}
    settings = ExtractSettings(layers=("blocks.1",), shard_tokens=250, batch_tokens=10_000)
    sae_file = _goodfire(tmp_path)
    run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "whole", progress=False)
    real, seen = fused.device_rows, []

    def device_rows(adapter, seqs, layer, trim):  # a GPU that holds one window at a time
        seen.append(len(seqs))
        if len(seqs) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.")
        return real(adapter, seqs, layer, trim)

    monkeypatch.setattr(fused, "device_rows", device_rows)
    run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "halved", progress=False)
    assert max(seen) > 1 and seen[-1] == 1 and seen.count(1) == len(read_windows_bed(bed))
    for (ma, ca), (mb, cb) in zip(
        iter_code_shards(tmp_path / "whole"), iter_code_shards(tmp_path / "halved"), strict=True
    ):
        assert ma["windows"] == mb["windows"]
        np.testing.assert_array_equal(np.asarray(ca.indices), np.asarray(cb.indices))
        # one window per batch pads differently (the long convolutions' FFT length): float16 steps at most
        np.testing.assert_allclose(np.asarray(ca.values, np.float32), np.asarray(cb.values, np.float32), rtol=2e-3)

    monkeypatch.setattr(
        fused,
        "device_rows",
        lambda *a: (_ for _ in ()).throw(
            torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB.")
        ),
    )
    with pytest.raises(
        OutOfGpuMemoryError, match=r"one window of 60 nt .*halved from 10,000 tokens.*needs at least 3\.2 GB"
    ):
        run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()


def test_fused_sigterm_keeps_finished_shards_and_the_rerun_encodes_only_the_rest(
    genome, tiny_model_dir, tmp_path, monkeypatch
):
    import os
    import signal

    from dnalens import preemption
    from dnalens.sae import fused

    fa, bed = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 4, "rc_pool": "none", "trim": 2}
    settings = ExtractSettings(layers=("blocks.1",), shard_tokens=250, batch_tokens=10_000)
    sae_file = _goodfire(tmp_path)
    run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "plain", progress=False)
    n_shards = read_codes_manifest(tmp_path / "plain")["shards"]
    real, calls, fired = fused.device_rows, [], []

    def device_rows(adapter, seqs, layer, trim):
        calls.append(len(seqs))
        if len(calls) == 2 and not fired:  # SIGTERM while shard 1 runs: it finishes, shard 2 never starts
            fired.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(adapter, seqs, layer, trim)

    monkeypatch.setattr(fused, "device_rows", device_rows)
    previous = signal.getsignal(signal.SIGTERM)
    preemption.install()
    try:
        with pytest.raises(preemption.Preempted):
            run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "codes", progress=False)
        assert not (tmp_path / "codes").exists() and (tmp_path / ".codes.resume").is_dir()
        calls.clear()
        run_fused(fa, bed, spec, sae_file, "blocks.1", settings, tmp_path / "codes", progress=False)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(calls) == len(n_shards) - 2 and not (tmp_path / ".codes.resume").exists()  # shards 0, 1 kept
    for name in sorted(p.name for p in (tmp_path / "plain").iterdir()):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "codes" / name).read_bytes(), name
