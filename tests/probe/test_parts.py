"""Scattered probe stage (probe/parts.py): parts + linear-probe job + gather write the single job's
probe directory byte for byte, whatever the number of parts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dnalens.cli import main
from dnalens.errors import InputError
from dnalens.formats.feature_columns import feature_bounds
from dnalens.probe.parts import part_bounds

from .synthetic import frame_inputs

N_TOKENS = 30_000
SETTINGS = {
    "block_size": 1500,
    "test_fraction": 0.3,
    "n_null": 40,
    "min_null_draws": 0,
    "probe_max_iter": 30,
    "probe_max_tokens": 5_000,
    "control_negatives": 2_000,
    "min_repeat_length": 200,
}


@pytest.fixture(scope="module")
def frame_buffer(tmp_path_factory):
    """frame_inputs (CDS, stop codons with a frame-matched control, codon positions, a reading-frame and a
    stop-codon feature, noise) as an on-disk buffer with a dense twin, + its FASTA (sequence baselines)."""
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.codes import CsrArrays

    root = tmp_path_factory.mktemp("frame")
    inputs = frame_inputs(seed=3, n=N_TOKENS)
    n = inputs.n_tokens
    codes = inputs.codes.tocsr()
    starts = np.arange(0, n, 1000)
    windows = pd.DataFrame(
        {
            "row": np.arange(starts.size),
            "contig": "chr",
            "start": starts,
            "end": starts + 1000,
            "strand": "+",
            "name": [f"w{i}" for i in range(starts.size)],
            "token_start": starts,
            "token_end": starts + 1000,
            "read_offset": 0,
        }
    )
    dense = (inputs.codes @ np.random.default_rng(1).normal(size=(codes.shape[1], 8))).astype(np.float16)
    buffer = ActivationBuffer(
        codes=CsrArrays(codes.indptr.astype(np.int64), codes.indices, codes.data.astype(np.float16), codes.shape[1]),
        labels_packed=np.packbits(np.asarray(inputs.labels, bool), axis=1),
        label_names=inputs.label_names,
        instances=np.zeros((n, 0), np.int32),
        instance_names=[],
        windows=windows,
        dense=np.asarray(dense),
        meta={"genome": "frame"},
    ).save(root / "buffer")
    fasta = root / "genome.fa"
    fasta.write_text(">chr\n" + "".join("ACGT"[b] for b in inputs.sequence["chr"]) + "\n")
    nnz = np.bincount(codes.indices, minlength=codes.shape[1])
    return buffer, fasta, nnz


def _probe(buffer, fasta, settings: dict, *args, code: int = 0, command: str = "probe") -> None:
    base = [command, "--buffer", str(buffer), "--fasta", str(fasta), "--settings", json.dumps(settings)]
    assert main([*base, *map(str, args)]) == code


def _merge(buffer, fasta, settings: dict, paths, linear, out, code: int = 0) -> None:
    """`dnalens probe-merge PARTS --linear L ...` (the workflow's gather rule `probe`)."""
    _probe(buffer, fasta, settings, *paths, "--linear", linear, "--out", out, code=code, command="probe-merge")


def _scattered(buffer, fasta, settings: dict, parts: int, work) -> dict[str, bytes]:
    settings = {**settings, "parts": parts}
    paths = [work / f"part-{i}.npz" for i in range(parts)]
    for i, path in enumerate(paths):
        _probe(buffer, fasta, settings, "--part", i, "--parts", parts, "--part-out", path)
    _probe(buffer, fasta, settings, "--linear-out", work / "linear")
    _merge(buffer, fasta, settings, paths, work / "linear", work / "probe")
    return {p.name: p.read_bytes() for p in sorted((work / "probe").iterdir())}


def test_parts_write_the_single_jobs_probe_directory_byte_for_byte(frame_buffer, tmp_path, capsys):
    buffer, fasta, nnz = frame_buffer
    settings = {**SETTINGS, "feature_block_entries": int(nnz.sum() // 5)}  # >= 5 feature blocks to spread
    assert len(feature_bounds(nnz, settings["feature_block_entries"])) >= 5
    _probe(buffer, fasta, settings, "--out", tmp_path / "single")
    single = {p.name: p.read_bytes() for p in sorted((tmp_path / "single").iterdir())}
    summary = json.loads(single["summary.json"])
    assert summary["controls"]["stop_codon"]["kind"] == "frame-matched"  # controls, baselines, dense probe: all in
    assert summary["dense_probe"] != "none" and "kmer3" in summary["baselines"]
    assert (pd.read_parquet(tmp_path / "single" / "probes.parquet")["input"] == "dense").any()
    q = pd.read_parquet(tmp_path / "single" / "feature_concept.parquet")["q"]
    assert q.notna().all() and q.nunique() > 10  # pooled nulls and BH over all pairs: real numbers to match
    for parts in (1, 3):
        work = tmp_path / f"parts{parts}"
        work.mkdir()
        assert _scattered(buffer, fasta, settings, parts, work) == single, parts
    # a part from a run with other settings is refused, not merged
    other = {**settings, "parts": 3, "seed": 1}
    stale = tmp_path / "parts3" / "part-1.npz"
    _probe(buffer, fasta, other, "--part", 1, "--parts", 3, "--part-out", stale)
    paths = [tmp_path / "parts3" / f"part-{i}.npz" for i in range(3)]
    linear = tmp_path / "parts3" / "linear"
    _merge(buffer, fasta, {**settings, "parts": 3}, paths, linear, tmp_path / "x", code=2)
    assert "another run" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_part_bounds_are_runs_of_whole_blocks_balanced_by_values():
    nnz = np.array([5, 5, 5, 5, 30, 10, 10, 10, 10, 10])
    blocks = feature_bounds(nnz, 10)  # (0,2) (2,4) (4,5) (5,6) ... (9,10)
    starts = {a for a, _ in blocks} | {10}
    for parts in (1, 2, 3, 4, 7):
        bounds = part_bounds(nnz, 10, parts)
        assert len(bounds) == parts and bounds[0][0] == 0 and bounds[-1][1] == 10
        assert all(a == b_prev for (_, b_prev), (a, _) in zip(bounds, bounds[1:]))
        assert all(a in starts and b in starts for a, b in bounds)
    assert part_bounds(nnz, 10, 2) == [(0, 5), (5, 10)]  # 50 | 50 values
    assert part_bounds(nnz, 10, 1) == [(0, 10)]
    assert sum(b > a for a, b in part_bounds(nnz, 10, 20)) == len(blocks)  # one non-empty part per block at most
    with pytest.raises(InputError):
        part_bounds(nnz, 10, 0)
