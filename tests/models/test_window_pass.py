"""The window pass (models/window_pass.py), the one piece that runs the model over windows for the SAE sample
and the genome-wide encode: its rows against per-pass forward hooks pooled by hand, the dense sample's and
the encode's rows byte for byte, and the batching (windows or padded tokens), OOM halving and row check
against hand-worked cases."""

import numpy as np
import pytest
import torch

from dnalens.errors import InputError
from dnalens.formats.window_table import Window, reverse_complement
from dnalens.genome.fasta import open_fasta
from dnalens.models.base import load_model
from dnalens.models.window_pass import device_rows, host_rows, kept_rows, pass_shard, token_offsets
from dnalens.oom import HalvingBatch

RNG = np.random.default_rng(11)
SEQ = "".join(RNG.choice(list("ACGT"), 40))


def _hook(model, path, seq):
    """Independent reference: a plain forward hook on the module, one sequence alone."""
    saved = {}
    handle = model.get_submodule(path).register_forward_hook(lambda m, i, o: saved.__setitem__("x", o[0].detach()))
    ids = torch.tensor([[ord(c) for c in seq]], device=next(model.parameters()).device)
    with torch.no_grad():
        model(ids)
    handle.remove()
    return saved["x"][0].float().cpu().numpy()


@pytest.mark.parametrize("pool", ["none", "mean", "concat"])
@pytest.mark.parametrize("pairs", [True, False], ids=["strand-pairs", "one-strand"])
def test_rows_are_the_pooled_kept_rows_and_both_routes_give_the_same_bytes(tiny_model_dir, pool, pairs):
    adapter = load_model({"family": "tiny", "path": str(tiny_model_dir), "rc_pool": pool, "dtype": "float32"})
    seqs = [SEQ, reverse_complement(SEQ), SEQ[:25]]  # strand pairs: one pass serves both (models.base.rc_partners)
    seqs += [reverse_complement(SEQ[:25])] if pairs else []
    trim = (3, 3 if pool != "none" else 0)
    want = []
    for seq in seqs:
        fwd = _hook(adapter.model, "blocks.2", seq)
        rev = _hook(adapter.model, "blocks.2", reverse_complement(seq))[::-1]
        pooled = {"none": fwd, "mean": (fwd + rev) / 2, "concat": np.hstack([fwd, rev])}[pool]
        want.append(pooled[trim[0] : len(seq) - trim[1]])
    want = np.concatenate(want)
    on_device = device_rows(adapter, seqs, "blocks.2", trim)
    dense = host_rows(adapter, seqs, ["blocks.2"], trim)["blocks.2"]
    assert dense.dtype == np.float16 and dense.shape == want.shape == tuple(on_device.shape)
    # rows read only up to the last kept one: equal to whole passes up to float16 rounding
    np.testing.assert_allclose(dense.astype(np.float32), want, rtol=2e-3, atol=2e-3)
    # the encode's rows (device, float32 of float16 values) are the dense sample's bytes
    assert on_device.dtype == torch.float32 and on_device.half().cpu().numpy().tobytes() == dense.tobytes()


def test_kept_rows_trim_concatenate_and_round_like_numpy():
    a = RNG.standard_normal((9, 4)).astype(np.float32) * 3e4  # some values overflow float16
    b = np.ascontiguousarray(RNG.standard_normal((6, 4)).astype(np.float32))[::-1]  # negative strides
    got = kept_rows([a, torch.from_numpy(b.copy()), np.zeros((3, 4), np.float32)], (2, 1))  # the last: too short
    want = np.concatenate([a[2:8], b[2:5]]).astype(np.float16)
    assert got.dtype == torch.float16 and got.numpy().tobytes() == want.tobytes()


@pytest.fixture()
def shard(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">c\n" + "".join(RNG.choice(list("ACGT"), 60)) + "\n")
    lengths = [5, 7, 6, 9, 4]
    windows = [Window("c", 2 * i, 2 * i + n, "+-"[i % 2], f"w{i}") for i, n in enumerate(lengths)]
    return open_fasta(fa), windows, list(range(len(windows)))


def _rows_of(seqs, calls, trim=(1, 1)):
    """Fake model: each window's kept rows hold its length (so the step can tell windows apart)."""
    calls.append(len(seqs))
    return {"L": torch.cat([torch.full((len(s) - sum(trim), 1), float(len(s))) for s in seqs])}


def _never_too_big(a, b, exc):
    raise AssertionError("no batch should be too big")


def test_batches_by_windows_or_padded_tokens_in_order(shard):
    fasta, windows, rows = shard
    trim = (1, 1)
    offsets = token_offsets([w.length for w in windows], trim)
    assert offsets.tolist() == [0, 3, 8, 12, 19, 21]
    calls = []

    def step(kept, a, b):
        x = kept["L"][:, 0].tolist()
        assert x == sum(([float(windows[r].length)] * (windows[r].length - 2) for r in rows[a:b]), [])
        return a, b

    by_windows = pass_shard(
        fasta,
        windows,
        rows,
        trim,
        lambda s: _rows_of(s, calls),
        step,
        budget=HalvingBatch(2),
        by_tokens=False,
        too_big=_never_too_big,
    )
    assert by_windows == [(0, 2), (2, 4), (4, 5)]
    # 14 padded tokens: 2 x 7 fits, 3 x 7 does not; 6 + 9 pads to 18; 9 + 4 pads to 18
    by_tokens = pass_shard(
        fasta,
        windows,
        rows,
        trim,
        lambda s: _rows_of(s, calls),
        step,
        budget=HalvingBatch(14, minimum=9),
        by_tokens=True,
        too_big=_never_too_big,
    )
    assert by_tokens == [(0, 2), (2, 3), (3, 4), (4, 5)]


def test_out_of_memory_halves_reruns_the_batch_and_then_names_the_window(shard):
    fasta, windows, rows = shard
    calls, stepped = [], []

    def fits_one(seqs):
        if len(seqs) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB.")
        return _rows_of(seqs, calls)

    budget = HalvingBatch(4)
    out = pass_shard(
        fasta,
        windows,
        rows,
        (1, 1),
        fits_one,
        lambda kept, a, b: stepped.append((a, b)) or kept["L"].shape[0],
        budget=budget,
        by_tokens=False,
        too_big=_never_too_big,
    )
    assert out == [3, 5, 4, 7, 2] and stepped == [(i, i + 1) for i in range(5)] and budget.size == 1

    def never(seqs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    seen = []
    with pytest.raises(RuntimeError, match="window 0..1"):
        pass_shard(
            fasta,
            windows,
            rows,
            (1, 1),
            never,
            lambda *a: None,
            budget=HalvingBatch(2),
            by_tokens=False,
            too_big=lambda a, b, exc: seen.append(type(exc)) or RuntimeError(f"window {a}..{b}"),
        )
    assert seen == [torch.cuda.OutOfMemoryError]


def test_rows_that_are_not_the_kept_tokens_are_one_input_error(shard):
    fasta, windows, rows = shard
    with pytest.raises(InputError, match=r"windows 0\.\.1 gave 10 rows, expected 8") as err:
        pass_shard(
            fasta,
            windows,
            rows,
            (1, 1),
            lambda seqs: {"L": torch.zeros(sum(map(len, seqs)) - 2, 1)},  # trimmed one end only
            lambda *a: pytest.fail("a step on rows of the wrong length"),
            budget=HalvingBatch(2),
            by_tokens=False,
            too_big=_never_too_big,
        )
    assert "model.trim" in err.value.fix
