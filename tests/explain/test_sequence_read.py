"""The shared read equals a direct window pass (whole windows, no unread tail, SAE encode by hand) and a
plain forward pass for the log-likelihood; its window plan is checked against hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dnalens.errors import InputError
from dnalens.explain.sequence_read import ReadSettings, WindowRead, edge_mask, plan_reads, read_sequence, read_sequences
from dnalens.formats.window_table import reverse_complement
from dnalens.sae.row_bases import row_codes

LAYER = "blocks.2"  # conftest.py: the layer the fixtures read

REPO = Path(__file__).resolve().parents[2]


def test_plan_by_hand():
    s = ReadSettings(LAYER, window=8, trim=(2, 2))  # step 4
    assert plan_reads(20, s) == [
        WindowRead(0, 8, 0, 6),  # the left edge window merged with the first interior one
        WindowRead(4, 12, 6, 10),
        WindowRead(8, 16, 10, 14),
        WindowRead(12, 20, 14, 20),
    ]
    assert plan_reads(20, s, phase=1) == [
        WindowRead(0, 8, 0, 3),
        WindowRead(1, 9, 3, 7),
        WindowRead(5, 13, 7, 11),
        WindowRead(9, 17, 11, 15),
        WindowRead(12, 20, 15, 20),
    ]
    assert plan_reads(5, s) == [WindowRead(0, 5, 0, 5)]
    assert np.flatnonzero(edge_mask(20, s)).tolist() == [0, 1, 18, 19]
    with pytest.raises(InputError, match="keep no rows"):
        plan_reads(20, ReadSettings(LAYER, window=4, trim=(2, 2)))


@pytest.mark.parametrize("length", [1, 7, 8, 9, 11, 31, 64, 100])
@pytest.mark.parametrize("phase", [0, 1, 3, 5])
def test_plan_covers_every_base_once(length, phase):
    s = ReadSettings(LAYER, window=10, trim=(3, 2))
    plan = plan_reads(length, s, phase)
    covered = np.concatenate([np.arange(r.keep_start, r.keep_end) for r in plan])
    assert covered.tolist() == list(range(length))
    for r in plan:
        assert 0 <= r.start <= r.keep_start < r.keep_end <= r.end <= length and r.end - r.start <= 10
    interior = [r for r in plan if r.trim == (3, 2)]
    assert all(r.start % s.step == phase % s.step for r in interior) or length < 10 + phase % s.step


def _direct(adapter, sae, window: str, keep: slice) -> np.ndarray:
    """Codes of rows `keep` of one window read whole: both strand passes by hand, float16 rounding as a stored
    shard, the SAE on [own | opposite] rows with the window's trinucleotide codes."""
    with torch.no_grad():
        fwd = adapter._pass_rows([window], [LAYER])[LAYER][0]
        rev = adapter._pass_rows([reverse_complement(window)], [LAYER])[LAYER][0]
        x = torch.cat([fwd, rev.flip(0)], dim=1)[keep].half().float()
        bases = torch.from_numpy(row_codes(window, 3)[keep])
        return sae.encode(x, bases).numpy()


def _direct_ll(adapter, window: str) -> np.ndarray:
    """ln P of each observed base from one plain forward pass (log_softmax of the logits)."""
    from dnalens.models.tokenizer import encode

    ids = torch.from_numpy(encode(window)).long()[None]
    with torch.no_grad():
        logp = torch.log_softmax(adapter.model(ids).float(), -1)[0].numpy()
    out = np.full(len(window), np.nan)
    out[1:] = logp[np.arange(len(window) - 1), ids[0, 1:].numpy()]
    out[[c not in "ACGT" for c in window]] = np.nan  # no likelihood of an N
    return out


def test_read_equals_a_direct_window_pass(adapter, sae):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (150, 37)]
    seqs[0] = seqs[0][:70] + "N" + seqs[0][71:]
    settings = ReadSettings(LAYER, window=48, trim=(8, 8))
    reads = read_sequences(adapter, sae, seqs, settings, phases=[5, 0])
    for seq, phase, read in zip(seqs, [5, 0], reads):
        assert read.codes.shape == (len(seq), sae.d_sae) and read.log_likelihood.shape == (len(seq),)
        dense = read.codes.toarray()
        ll_seen = 0
        for r in plan_reads(len(seq), settings, phase):
            window = seq[r.start : r.end]
            keep = slice(r.keep_start - r.start, r.keep_end - r.start)
            want = _direct(adapter, sae, window, keep)
            np.testing.assert_allclose(dense[r.keep_start : r.keep_end], want, rtol=1e-2, atol=2e-3)
            ll = _direct_ll(adapter, window)[keep]
            np.testing.assert_allclose(read.log_likelihood[r.keep_start : r.keep_end], ll, atol=1e-4)
            ll_seen += int(np.isfinite(ll).sum())
        assert ll_seen == len(seq) - 1 - seq.count("N")  # NaN only at the first base and at N
        assert (read.codes.getnnz(axis=1) == sae.k * 2).all()  # k per strand state: every row was encoded
    one = read_sequence(adapter, sae, seqs[1], settings)
    np.testing.assert_array_equal(one.codes.toarray(), reads[1].codes.toarray())
    with pytest.raises(InputError, match="empty"):
        read_sequences(adapter, sae, ["ACGT", ""], settings)


@pytest.mark.skipif(
    not (REPO / "results/vcholerae_chr2/buffer/buffer.json").is_file(), reason="needs the demo's results (make demo)"
)
def test_region_read_equals_the_demo_genome_codes():
    """A region of V. cholerae chr2 read with flanks gives the codes the genome run stored for it (+ windows)."""
    import pandas as pd

    from dnalens.explain.inputs import GenomeDir, parse_region, region_sequence
    from dnalens.formats.codes import read_csr
    from dnalens.models.base import load_model
    from dnalens.sae.io import load_sae

    torch.set_num_threads(1)
    genome = GenomeDir.open(REPO / "results/vcholerae_chr2")
    settings = ReadSettings(genome.buffer_meta["layer"], genome.window_length(), genome.trims())
    seq = region_sequence(genome, parse_region("CP001236.1:30001-31000"), settings.step, settings.trim, 10**6)
    read = read_sequence(
        load_model({"trim": 256}), load_sae(REPO / genome.buffer_meta["sae"]), seq.read, settings, seq.phase
    )
    got = read.codes[seq.at : seq.at + len(seq.seq)].toarray()
    stored = read_csr(genome.root / "buffer", "codes", got.shape[1]).to_scipy()
    windows = pd.read_parquet(genome.root / "buffer" / "windows.parquet")
    plus = windows[(windows.strand == "+") & (windows.start + windows.read_offset < 31000)]
    plus = plus[plus.start + plus.read_offset + (plus.token_end - plus.token_start) > 30000]
    want = np.zeros_like(got)
    for w in plus.itertuples():
        first = w.start + w.read_offset
        for p in range(max(30000, first), min(31000, first + w.token_end - w.token_start)):
            want[p - 30000] = stored[w.token_start + p - first].toarray()[0]
    assert (want > 0).sum(axis=1).min() > 0
    np.testing.assert_array_equal(got, want)
