import json

import numpy as np
import pytest

from dnalens.formats.activation_shards import (
    iter_shards,
    iter_token_batches,
    read_manifest,
    window_token_ranges,
    write_manifest,
    write_shard,
)


def make(tmp_path, sizes=((3, 4), (5,), (2, 2, 2))):
    rng = np.random.default_rng(0)
    arrays, row = [], 0
    for idx, lens in enumerate(sizes):
        arr = rng.normal(size=(sum(lens), 6)).astype(np.float16)
        offsets = np.concatenate([[0], np.cumsum(lens)]).tolist()
        write_shard(tmp_path, idx, arr, list(range(row, row + len(lens))), offsets, {"layer": "blocks.1"})
        row += len(lens)
        arrays.append(arr)
    write_manifest(tmp_path, {"layer": "blocks.1", "model": {"family": "tiny"}})
    return np.concatenate(arrays)


def test_roundtrip_manifest_and_window_ranges(tmp_path):
    full = make(tmp_path)
    manifest = read_manifest(tmp_path)
    assert manifest["total_tokens"] == len(full) == 18 and len(manifest["shards"]) == 3
    got = np.concatenate([np.asarray(a) for _, a in iter_shards(tmp_path)])
    np.testing.assert_array_equal(got, full)
    meta = json.loads((tmp_path / "shard-00001.json").read_text())
    assert meta["windows"] == [2] and meta["offsets"] == [0, 5] and meta["dtype"] == "float16" and meta["d"] == 6
    ranges = window_token_ranges(tmp_path)
    assert ranges[0] == (0, 3) and ranges[2] == (7, 12) and ranges[5] == (16, 18)
    assert np.load(tmp_path / "shard-00000.npy", allow_pickle=False).dtype == np.float16


def test_token_batches_cover_every_token_once(tmp_path):
    full = make(tmp_path).astype(np.float32)
    plain = list(iter_token_batches(tmp_path, batch_tokens=6))
    assert [len(b) for b in plain] == [6, 6, 6]
    assert [len(b) for b in iter_token_batches(tmp_path, batch_tokens=7)] == [7, 7, 4]
    np.testing.assert_array_equal(np.concatenate(plain), full)
    shuffled = np.concatenate(list(iter_token_batches(tmp_path, 6, shuffle_seed=1)))
    assert not np.array_equal(shuffled, full)
    assert sorted(map(tuple, shuffled.tolist())) == sorted(map(tuple, full.tolist()))
    again = np.concatenate(list(iter_token_batches(tmp_path, 6, shuffle_seed=1)))
    np.testing.assert_array_equal(again, shuffled)


def test_incomplete_shard_without_marker_is_ignored(tmp_path):
    make(tmp_path)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "shard-00002.json").unlink()  # killed between .npy and .json
    assert [m["shard"] for m, _ in iter_shards(tmp_path)] == [0, 1]


def test_bad_offsets_rejected(tmp_path):
    with pytest.raises(ValueError):
        write_shard(tmp_path, 0, np.zeros((4, 2)), [0, 1], [0, 3, 5], {})
