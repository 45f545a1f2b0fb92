"""Corrupt intermediates (#22 point 5): a truncated or altered shard is re-made on resume, refused with one
InputError naming the file by a later reader, and old shards without sizes/checksums still read."""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from dnalens.errors import InputError
from dnalens.formats.activation_shards import iter_shards, read_manifest, write_manifest, write_shard
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.sample.stage import ExtractSettings, run_sample

LAYER = "blocks.1"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_model_dir):
    """The tiny random model, a 700-nt genome and 10 windows (several shards of 120 tokens)."""
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(5)
    (root / "g.fa").write_text(">chr\n" + "".join(rng.choice(list("ACGT"), 700)) + "\n")
    wins = [
        Window("chr", s, s + 50 + 10 * (i % 3), "+" if i % 2 == 0 else "-", f"w{i}")
        for i, s in enumerate(range(0, 600, 60))
    ]
    write_windows_bed(wins, root / "windows.bed")
    spec = {"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "none"}
    return root, spec, ExtractSettings(layers=(LAYER,), shard_tokens=120)


def sample_shards(tiny, out, **kw):
    root, spec, settings = tiny
    return run_sample(root / "g.fa", root / "windows.bed", spec, settings, out, **kw)


def tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """Every file of an undisturbed run."""
    out = tmp_path_factory.mktemp("ref") / "act"
    sample_shards(tiny, out)
    return tree(out / LAYER)


def same_run_dir(tiny, tmp_path, reference) -> Path:
    """A run whose windows.bed path equals the reference's (the manifest records it), so files compare bytewise."""
    out = tmp_path / "act"
    sample_shards(tiny, out)
    assert tree(out / LAYER) == reference  # deterministic: the comparisons below can fail
    return out / LAYER


def test_checksum_and_size_recorded(tiny, tmp_path, reference):
    d = same_run_dir(tiny, tmp_path, reference)
    manifest = read_manifest(d)
    assert len(manifest["shards"]) >= 3
    for entry in manifest["shards"]:
        npy = (d / entry["npy"]).read_bytes()
        meta = json.loads((d / entry["json"]).read_text())
        want = f"crc32:{zlib.crc32(npy):08x}"  # independent of the streamed implementation
        assert meta["npy_bytes"] == entry["npy_bytes"] == len(npy)
        assert meta["npy_checksum"] == entry["npy_checksum"] == want


def test_truncated_shard_remade_on_resume(tiny, tmp_path, reference):
    d = same_run_dir(tiny, tmp_path, reference)
    for p in d.glob("shard-*.npy"):
        os.utime(p, (1, 1))
    bad = d / "shard-00001.npy"
    with open(bad, "r+b") as fh:  # a write that stopped short
        fh.truncate(bad.stat().st_size // 2)
    sample_shards(tiny, tmp_path / "act")
    assert tree(d) == reference
    assert bad.stat().st_mtime != 1  # re-made ...
    assert (d / "shard-00000.npy").stat().st_mtime == 1 and (d / "shard-00002.npy").stat().st_mtime == 1  # ... alone


def test_flipped_byte_found_by_checksum_and_remade(tiny, tmp_path, reference, caplog):
    d = same_run_dir(tiny, tmp_path, reference)
    bad = d / "shard-00002.npy"
    data = bytearray(bad.read_bytes())
    data[-3] ^= 0x10  # same size, one activation changed
    bad.write_bytes(bytes(data))
    assert len(list(iter_shards(d))) == len(read_manifest(d)["shards"])  # readers check the size only
    with pytest.raises(InputError, match="checksum mismatch"):
        list(iter_shards(d, verify=True))
    with caplog.at_level(logging.WARNING, logger="dnalens.sample.stage"):
        sample_shards(tiny, tmp_path / "act")
    assert "re-making activation shard" in caplog.text and "shard-00002.npy" in caplog.text
    assert tree(d) == reference


def test_later_reader_names_the_truncated_shard(tiny, tmp_path, reference):
    d = same_run_dir(tiny, tmp_path, reference)
    bad = d / "shard-00001.npy"
    size = bad.stat().st_size
    with open(bad, "r+b") as fh:
        fh.truncate(size - 100)
    with pytest.raises(InputError) as err:
        list(iter_shards(d))
    msg = str(err.value)
    assert str(bad) in msg and f"expected {size} bytes, found {size - 100} bytes" in msg
    assert "rerun the workflow" in msg
    marker = tmp_path / "act" / "parts" / "part-1.json"  # the workflow's layout: the part owning shard 1
    marker.parent.mkdir()
    n = len(read_manifest(d)["shards"])
    marker.write_text(json.dumps({"part": 1, "parts": n}))
    (marker.parent / "part-0.json").write_text(json.dumps({"part": 0, "parts": n}))
    with pytest.raises(InputError, match="part-1.json"):
        list(iter_shards(d))


def test_gather_refuses_a_corrupt_part_shard_then_rerun_remakes_it(tiny, tmp_path, reference):
    out = tmp_path / "act"
    root, spec, settings = tiny
    (out / "parts").mkdir(parents=True)
    for part in (0, 1):  # what the sample_part rule runs, --done marker included
        sample_shards(tiny, out, part=part, parts=2, finalize=False)
        (out / "parts" / f"part-{part}.json").write_text(json.dumps({"part": part, "parts": 2}))
    last = sorted((out / LAYER).glob("shard-*.npy"))[-1]
    with open(last, "r+b") as fh:
        fh.truncate(10)
    with pytest.raises(InputError, match=f"{last.name}.*truncated") as err:
        sample_shards(tiny, out, compute=False)
    assert "rerun the workflow" in str(err.value)
    assert not last.exists() and not (out / "parts" / "part-1.json").exists()  # the rerun re-makes them
    assert (out / "parts" / "part-0.json").exists()
    sample_shards(tiny, out, part=1, parts=2, finalize=False)
    sample_shards(tiny, out, compute=False)
    assert tree(out / LAYER) == reference


def legacy(directory: Path) -> None:
    """Strip the new fields, as a shard directory written by an older dnalens."""
    for js in [*directory.glob("shard-*.json"), directory / "manifest.json"]:
        meta = json.loads(js.read_text())
        for entry in [meta, *meta.get("shards", [])]:
            entry.pop("npy_bytes", None)
            entry.pop("npy_checksum", None)
        js.write_text(json.dumps(meta))


def test_old_shards_without_fields_still_read_with_one_warning(tmp_path, caplog):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, 6)).astype(np.float16) for n in (7, 5, 4)]
    for idx, arr in enumerate(arrays):
        write_shard(tmp_path, idx, arr, [idx], [0, len(arr)], {"layer": LAYER})
    write_manifest(tmp_path, {"layer": LAYER})
    legacy(tmp_path)
    assert "npy_bytes" not in (tmp_path / "shard-00000.json").read_text()
    with caplog.at_level(logging.WARNING, logger="dnalens.formats.activation_shards"):
        for _ in range(2):
            got = [np.asarray(a) for _, a in iter_shards(tmp_path)]
            for a, b in zip(got, arrays, strict=True):
                np.testing.assert_array_equal(a, b)
    assert sum("carry no size/checksum" in r.getMessage() for r in caplog.records) == 1
    with open(tmp_path / "shard-00001.npy", "r+b") as fh:  # truncated old shard: its header tells
        fh.truncate(fh.seek(0, 2) - 2)
    with pytest.raises(InputError, match="shard-00001.npy.*expected .* bytes, found"):
        list(iter_shards(tmp_path))


def test_code_shards_record_files_and_merge_refuses_a_truncated_one(tmp_path):
    import torch

    from dnalens.sae.encode import encode_activations
    from dnalens.sae.parts import merge_code_parts
    from dnalens.sae.topk import TopKSAE

    rng = np.random.default_rng(1)
    for idx, n in enumerate((9, 11)):
        write_shard(tmp_path / "acts", idx, rng.normal(size=(n, 8)).astype(np.float16), [idx], [0, n], {"layer": LAYER})
    write_manifest(tmp_path / "acts", {"layer": LAYER})
    torch.manual_seed(0)
    sae = TopKSAE(8, 32, k=3)
    parts = [tmp_path / f"part-{i}" for i in (0, 1)]
    for i, p in enumerate(parts):
        encode_activations(sae, tmp_path / "acts", p, progress=False, part=i, parts=2)
    meta = json.loads((parts[1] / "shard-00001.json").read_text())
    for name, rec in meta["files"].items():
        raw = (parts[1] / name).read_bytes()
        assert rec == {"bytes": len(raw), "checksum": f"crc32:{zlib.crc32(raw):08x}"}
    merge_code_parts(parts, tmp_path / "codes", activations=tmp_path / "acts")  # intact parts merge
    bad = parts[1] / "shard-00001.values.npy"
    with open(bad, "r+b") as fh:
        fh.truncate(fh.seek(0, 2) - 4)
    with pytest.raises(InputError, match="shard-00001.values.npy.*truncated") as err:
        merge_code_parts(parts, tmp_path / "codes2", activations=tmp_path / "acts")
    assert f"delete the code part {parts[1]}" in str(err.value)
    # encode itself refuses an altered activation shard of its part (checksum verified before encoding)
    act = tmp_path / "acts" / "shard-00000.npy"
    data = bytearray(act.read_bytes())
    data[-1] ^= 1
    act.write_bytes(bytes(data))
    with pytest.raises(InputError, match="shard-00000.npy.*checksum mismatch"):
        encode_activations(sae, tmp_path / "acts", tmp_path / "part-x", progress=False, part=0, parts=2)
    encode_activations(sae, tmp_path / "acts", tmp_path / "part-y", progress=False, part=1, parts=2)  # other part: fine
