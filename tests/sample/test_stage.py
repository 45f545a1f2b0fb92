import os

import numpy as np
import pytest

from dnalens.formats.activation_shards import iter_shards, read_manifest
from dnalens.formats.window_table import Window, reverse_complement, write_windows_bed
from dnalens.models.base import load_model
from dnalens.sample.stage import ExtractSettings, plan_shards, run_sample


@pytest.fixture()
def genome(tmp_path):
    rng = np.random.default_rng(5)
    seq = "".join(rng.choice(list("ACGT"), 700))
    fa = tmp_path / "g.fa"
    fa.write_text(">chr\n" + seq + "\n")
    wins = [
        Window("chr", s, s + 50 + 10 * (i % 3), "+" if i % 2 == 0 else "-", f"w{i}")
        for i, s in enumerate(range(0, 600, 60))
    ]
    bed = tmp_path / "windows.bed"
    write_windows_bed(wins, bed)
    return fa, bed, seq, wins


def expected(adapter, seq, wins, layer, trim=(0, 0)):
    seqs = [seq[w.start : w.end] if w.strand == "+" else reverse_complement(seq[w.start : w.end]) for w in wins]
    return adapter.activations(seqs, [layer], trim)[layer]


def test_shards_equal_direct_activations_in_window_order(genome, tiny_model_dir, tmp_path):
    fa, bed, seq, wins = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "batch_size": 3, "rc_pool": "none"}
    settings = ExtractSettings(layers=("blocks.1", "blocks.3"), shard_tokens=150)
    run_sample(fa, bed, spec, settings, tmp_path / "act")
    adapter = load_model(spec)
    for layer in settings.layers:
        want = np.concatenate(expected(adapter, seq, wins, layer)).astype(np.float16)
        metas, arrays = zip(*iter_shards(tmp_path / "act" / layer))
        np.testing.assert_array_equal(np.concatenate(arrays), want)
        assert [w for m in metas for w in m["windows"]] == list(range(len(wins)))
        assert len(metas) == len(plan_shards([w.length for w in wins], 150, (0, 0))) > 1
        assert read_manifest(tmp_path / "act" / layer)["total_tokens"] == sum(w.length for w in wins)


def test_resume_recomputes_only_missing_shards_and_trim(genome, tiny_model_dir, tmp_path):
    fa, bed, seq, wins = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir), "trim": 4, "rc_pool": "mean"}
    settings = ExtractSettings(layers=("blocks.2",), shard_tokens=100, dense_twin=True)
    out = tmp_path / "act"
    run_sample(fa, bed, spec, settings, out)
    d = out / "blocks.2"
    first = np.concatenate([np.asarray(a) for _, a in iter_shards(d)])
    (d / "shard-00001.json").unlink()  # as if killed before the marker was written
    os.utime(d / "shard-00000.npy", (1, 1))
    run_sample(fa, bed, spec, settings, out)
    assert os.stat(d / "shard-00000.npy").st_mtime == 1  # complete shard skipped
    np.testing.assert_array_equal(np.concatenate([np.asarray(a) for _, a in iter_shards(d)]), first)
    manifest = read_manifest(d)
    assert manifest["trim_start"] == 4 and manifest["trim_end"] == 4  # rc_pool: both ends start a pass
    assert manifest["total_tokens"] == sum(w.length - 8 for w in wins)
    adapter = load_model(spec)
    want = np.concatenate([a[4:-4] for a in expected(adapter, seq, wins, "blocks.2", (4, 4))]).astype(np.float16)
    np.testing.assert_array_equal(first, want)
    # the passes stopped 4 nt early (causal model): the kept rows are the whole passes' up to rounding
    whole = np.concatenate([a[4:-4] for a in expected(adapter, seq, wins, "blocks.2")])
    np.testing.assert_allclose(first.astype(np.float32), whole, rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(np.load(d / "dense.npy"), first)


def test_changed_model_settings_replace_stale_shards(genome, tiny_model_dir, tmp_path):
    fa, bed, seq, wins = genome
    out = tmp_path / "act"
    run_sample(
        fa,
        bed,
        {"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "none"},
        ExtractSettings(layers=("blocks.0",)),
        out,
    )
    run_sample(
        fa,
        bed,
        {"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "concat"},
        ExtractSettings(layers=("blocks.0",)),
        out,
    )
    meta, arr = next(iter_shards(out / "blocks.0"))
    assert arr.shape[1] == 32 and meta["model"]["rc_pool"] == "concat"


def test_scatter_parts_then_gather_equals_single_run(genome, tiny_model_dir, tmp_path):
    from dnalens.errors import InputError

    fa, bed, seq, wins = genome
    spec = {"family": "tiny", "path": str(tiny_model_dir)}  # rc_pool auto = concat for tiny
    settings = ExtractSettings(layers=("blocks.1",), shard_tokens=120)
    run_sample(fa, bed, spec, settings, tmp_path / "one")
    run_sample(fa, bed, spec, settings, tmp_path / "many", part=0, parts=2, finalize=False)
    with pytest.raises(InputError, match="missing"):
        run_sample(fa, bed, spec, settings, tmp_path / "many", compute=False)
    run_sample(fa, bed, spec, settings, tmp_path / "many", part=1, parts=2, finalize=False)
    run_sample(fa, bed, spec, settings, tmp_path / "many", compute=False)
    a = np.concatenate([np.asarray(x) for _, x in iter_shards(tmp_path / "one" / "blocks.1")])
    b = np.concatenate([np.asarray(x) for _, x in iter_shards(tmp_path / "many" / "blocks.1")])
    np.testing.assert_array_equal(a, b)
    assert read_manifest(tmp_path / "many" / "blocks.1")["total_tokens"] == len(a)
