"""The torch probe path ("cpu-torch": torch kernels on the CPU) against the numpy path.

Oracle: the numpy path itself, whose kernels other tests check against brute force and sklearn. The
whole stage runs both ways on genome-like input that reaches every kernel (two read strands, frame-matched
controls, multi-run and id-less instances, float16-valued codes with ties, several feature blocks) and
every file of the probe directory is compared: exact, except `mean_active` (float64 sums in another
order, 1e-12 relative). The torch run must not touch a numpy kernel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dnalens.formats.probe_dir import write_probe_dir
from dnalens.probe.backend import feature_statistics
from dnalens.probe.inputs import ProbeInputs
from dnalens.probe.settings import ProbeSettings
from dnalens.probe.stage import run_probe

from .synthetic import frame_inputs, planted_inputs

torch = pytest.importorskip("torch")


def mixed_inputs(n: int = 24_000) -> ProbeInputs:
    """frame_inputs (CDS, stop codons, codon positions, sequence) + planted_inputs' concepts and features,
    on two read strands; genes as two-run instances, some island positives without an id."""
    frame = frame_inputs(seed=4, n=n, gene=600, spacing=2000)
    planted, _, _ = planted_inputs(seed=2, n=n)
    instances = np.asarray(planted.instances).copy()
    gene = instances[:, 0]
    gene[gene >= 0] //= 2  # neighbouring intervals share an id: spliced, multi-run instances
    island = planted.label_names.index("island")
    instances[::7, island] = -1  # positives without an id: instances of their own
    labels = np.hstack([frame.labels, planted.labels])
    instances = np.hstack([np.full(frame.labels.shape, -1, np.int32), instances])
    values = sp.hstack([frame.codes, planted.codes, sp.csr_matrix((n, 3))]).toarray()  # 3 never-firing
    values[:, 5] = np.where(np.arange(n) % 2 == 0, 0.25, values[:, 5])  # a dense feature full of ties
    values = values.astype(np.float16).astype(np.float32)  # buffer precision: many ties
    minus = np.arange(n) >= n // 2
    return ProbeInputs(
        codes=sp.csr_matrix(values),
        labels=labels,
        label_names=list(frame.label_names) + list(planted.label_names),
        instances=instances,
        token_contig=np.zeros(n, np.int64),
        token_position=np.where(minus, n - 1 - np.arange(n), np.arange(n)).astype(np.int64),
        token_minus=minus,
        contig_names=["chr"],
        contig_lengths={"chr": n},
        sequence=frame.sequence,
        edge_distance=frame.edge_distance,
    )


def _forbid_numpy_kernels(monkeypatch) -> None:
    from dnalens.probe import auroc, f1

    def forbidden(*args, **kwargs):
        raise AssertionError("a numpy kernel ran on the torch path")

    monkeypatch.setattr(auroc, "rank_block", forbidden)  # every numpy rank (train, test, nulls, controls)
    monkeypatch.setattr(f1, "_levels", forbidden)  # the numpy F1 counts


def test_whole_probe_stage_torch_equals_numpy(tmp_path, monkeypatch):
    inputs = mixed_inputs()
    base = {
        "n_null": 30,
        "min_null_draws": 0,
        "probes": False,
        "block_size": 2000,
        "test_fraction": 0.3,
        "feature_block_entries": 20_000,
    }
    numpy_path = run_probe(inputs, ProbeSettings(**base))
    with monkeypatch.context() as m:
        _forbid_numpy_kernels(m)
        torch_path = run_probe(inputs, ProbeSettings(**base, device="cpu-torch"))
    summary = numpy_path.summary
    assert summary["n_annotated_pairs"] > 0 and summary["n_f1_supported_pairs"] > 0
    assert "stop_codon" in summary["controls"]
    for name, result in (("numpy", numpy_path), ("torch", torch_path)):
        result.summary["seconds"] = 0.0
        write_probe_dir(result, tmp_path / name)
    for table in ("feature_concept", "features", "concepts", "probes"):
        a = pd.read_parquet(tmp_path / "numpy" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "torch" / f"{table}.parquet")
        if "mean_active" in a:
            np.testing.assert_allclose(b.pop("mean_active"), a.pop("mean_active"), rtol=1e-12, atol=0)
        pd.testing.assert_frame_equal(b, a, check_exact=True)
    assert (tmp_path / "numpy" / "split.json").read_text() == (tmp_path / "torch" / "split.json").read_text()
    s_numpy, s_torch = (json.loads((tmp_path / p / "summary.json").read_text()) for p in ("numpy", "torch"))
    assert s_torch["settings"].pop("device") == "cpu-torch" and s_numpy["settings"].pop("device") == "cpu"
    assert s_torch == s_numpy


def test_feature_statistics_torch_equal_numpy():
    rng = np.random.default_rng(0)
    dense = np.where(rng.random((300, 9)) < 0.2, rng.normal(0.5, 1.0, (300, 9)), 0.0).astype(np.float32)
    dense[:, 2] = 0.0  # empty column
    dense[:, 4] = -np.abs(dense[:, 4])  # only negative values: max activation 0
    csc = sp.csc_matrix(dense)
    csc.data[:5] = 0.0  # explicit zeros count neither as active nor as nonzero
    want = feature_statistics(csc)
    got = feature_statistics(csc, "cpu-torch")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=0)
    assert got[1][2] == got[1][4] == 0.0 and got[0][2] == 0.0


def test_torch_f1_curves_equal_numpy_in_halved_pieces(monkeypatch):
    """Several column pieces (few pattern bins) and a CUDA OOM on wide pieces: the same counts."""
    from dnalens.probe import backend, f1_torch, torch_shared
    from dnalens.probe.chunks import DEFAULT_CHUNK_ENTRIES
    from dnalens.probe.f1 import domain_f1_curves, prepare_f1_labels

    inputs = mixed_inputs(8000)
    rows = np.sort(np.random.default_rng(1).choice(8000, 5000, replace=False))
    prepared = prepare_f1_labels(inputs.labels, inputs.instances, rows)
    assert prepared.runs.concept_of_multi.size and prepared.runs.singles is not None
    thresholds = (0.0, 0.15, 0.5, 0.8)
    want = domain_f1_curves(inputs.codes, prepared, None, thresholds, rows=rows)
    widths = []
    real = f1_torch._region_hits

    def region_hits(torch_, seg, tok, n_seg, n_l, r):
        widths.append(n_seg)
        if n_seg > 5:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB.")
        return real(torch_, seg, tok, n_seg, n_l, r)

    monkeypatch.setattr(torch_shared, "PATTERN_BINS", 40 * prepared.concepts.patterns.n_patterns)
    monkeypatch.setattr(f1_torch, "_region_hits", region_hits)
    chunk = {"rows": rows, "device": "cpu-torch", "max_chunk_entries": DEFAULT_CHUNK_ENTRIES}
    got = backend.domain_f1_curves(inputs.codes, prepared, None, thresholds, None, **chunk)
    assert max(widths) > 5 and max(w for w in widths if w <= 5) <= 5
    for field in ("on", "true_pos", "hit_instances", "n_pos", "n_instances", "best_index", "thresholds"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=field)


def test_torch_rank_routes_agree_with_numpy_ranks():
    """float16-valued codes are ranked by counting, others by two sorts: the same R as `ranks.rank_block`."""
    from dnalens.probe import auroc_torch
    from dnalens.probe.chunks import FeatureChunker
    from dnalens.probe.ranks import rank_block

    rng = np.random.default_rng(7)
    dense = np.where(rng.random((500, 6)) < 0.3, np.round(rng.normal(0, 2, (500, 6)), 1), 0.0)  # ties, negatives
    for values, route in ((dense.astype(np.float16).astype(np.float32), "counting"), (dense + 1e-9, "sorts")):
        block = next(iter(FeatureChunker(sp.csc_matrix(values))))
        data, cols = torch.as_tensor(block.data), torch.as_tensor(block.cols)
        counted = auroc_torch._counting_positions_torch(torch, data, cols, block.n_cols)
        assert (counted is not None) == (route == "counting")
        got = auroc_torch._ranked_block_torch(torch, block, "cpu")
        np.testing.assert_array_equal(got.values.numpy(), rank_block(block).values)
        if counted is not None:
            np.testing.assert_array_equal(
                counted.numpy(), auroc_torch._sorted_positions_torch(torch, data, cols).numpy()
            )
