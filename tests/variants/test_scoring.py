"""Δ log-likelihood and latent changes of a hand-computed 3-variant case against a direct forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnalens.formats.window_table import reverse_complement
from dnalens.models.base import load_model
from dnalens.sae.strand_shared import StrandSharedSAE
from dnalens.sae.topk import TopKSAE
from dnalens.variants.latent_changes import LatentReader
from dnalens.variants.scoring import both_strands, read_rows, run_passes
from dnalens.variants.settings import VariantSettings
from dnalens.variants.stage import score_alleles
from dnalens.variants.vcf_input import Allele
from dnalens.variants.windows import plan_windows

LAYER = "blocks.2"


@pytest.fixture(scope="module")
def adapter(tiny_model_dir):
    return load_model({"family": "tiny", "path": str(tiny_model_dir), "rc_pool": "concat", "batch_size": 3})


@pytest.fixture(scope="module")
def genome():
    rng = np.random.default_rng(7)
    return {"c": "".join(rng.choice(list("ACGT"), 400))}


def _by_hand_ll(adapter, seq: str) -> float:
    """Sum over positions 1.. of ln P(base | prefix) from the model's own logits (no nnsight, no batching)."""
    ids, _, _ = adapter.encode([seq])
    with torch.no_grad():
        logp = torch.log_softmax(adapter.model(ids).float(), dim=-1)[0]
    return float(sum(logp[i - 1, ids[0, i]] for i in range(1, len(seq))))


def _alleles(genome):
    s = genome["c"]
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    return [
        Allele(0, 0, "c", 151, "a", s[150], other[s[150]]),  # SNVs 20 nt apart: one shared window
        Allele(1, 0, "c", 171, "b", s[170], other[s[170]]),
        Allele(2, 0, "c", 301, "d", s[300:302], s[300]),  # a 1-nt deletion (VCF-padded)
    ]


def test_three_variants_match_a_direct_forward_pass(adapter, genome):
    torch.manual_seed(1)
    sae = StrandSharedSAE(TopKSAE(16, 8, k=3)).eval()
    reader = LatentReader(sae, "concat", {0: "CDS"}, strand_shared=True, top_n=8)
    settings = VariantSettings(window=128, shared_span=40, latent_window=4, top_latents=8, batch_size=3)
    alleles = _alleles(genome)
    windows = plan_windows(alleles, {"c": 400}, frozenset(), settings.window, settings.shared_span)
    assert [w.alleles for w in windows] == [(0, 1), (2,)]
    scores, passes = score_alleles(adapter, LAYER, reader, genome, alleles, windows, {"c": 400}, settings)
    assert passes == 2 * 3 + 2 * 2  # two per alt allele + two per reference window
    for i, a in enumerate(alleles):
        row = scores[i]
        start, end = row["window_start"], row["window_end"]
        ref = genome["c"][start:end]
        off = a.start - start
        assert ref[off : off + len(a.ref)] == a.ref and abs(row["offset_from_centre"]) <= 20
        alt = ref[:off] + a.alt + ref[off + len(a.ref) :]
        fwd = _by_hand_ll(adapter, alt) - _by_hand_ll(adapter, ref)
        rc = _by_hand_ll(adapter, reverse_complement(alt)) - _by_hand_ll(adapter, reverse_complement(ref))
        assert row["delta_ll_fwd"] == pytest.approx(fwd, abs=2e-3)
        assert row["delta_ll_rc"] == pytest.approx(rc, abs=2e-3)
        assert row["delta_ll"] == pytest.approx((fwd + rc) / 2, abs=2e-3)
        if i == 0:
            _check_latents_by_hand(adapter, sae, row, ref, alt, off)


def _check_latents_by_hand(adapter, sae, row, ref, alt, off):
    """Codes from adapter.activations (its own strand pooling) + the SAE, summed over ±4 nt, Δ per read."""

    def codes(seq, strand):
        read = seq if strand == "+" else reverse_complement(seq)
        rows = adapter.activations([read], [LAYER])[LAYER][0].astype(np.float16).astype(np.float32)
        if strand == "-":
            rows = rows[::-1].copy()  # back to genome order
        with torch.no_grad():
            return sae.encode(torch.from_numpy(rows[off - 4 : off + 5]))[:, :8].numpy().sum(0)

    d_fwd = codes(alt, "+") - codes(ref, "+")
    d_rc = codes(alt, "-") - codes(ref, "-")
    agg = (d_fwd + d_rc) / 2
    top = [t.split(":") for t in row["top_latents"].split(";")]
    assert top, "a substitution next to the window centre changes some latent"
    latent, label, value = int(top[0][0]), top[0][1], float(top[0][2])
    assert latent == int(np.argmax(np.abs(agg)))
    assert value == pytest.approx(agg[latent], rel=1e-2, abs=1e-3)
    assert label == ("CDS" if latent == 0 else "")
    fwd_values = [float(v) for v in row["top_delta_fwd"].split(";")]
    assert fwd_values[0] == pytest.approx(d_fwd[latent], rel=1e-2, abs=1e-3)


def test_pooled_reads_equal_the_adapters_activations(adapter, genome):
    seq = genome["c"][:96]
    reads = run_passes(adapter, both_strands([seq]), LAYER)
    idx = np.arange(96)
    plus = read_rows(reads[0].rows, reads[1].rows, idx, "concat").numpy()
    expected = adapter.activations([seq], [LAYER])[LAYER][0].astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(plus, expected)
    minus = read_rows(reads[0].rows, reads[1].rows, idx, "concat", strand="-").numpy()
    rc = adapter.activations([reverse_complement(seq)], [LAYER])[LAYER][0].astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(minus, rc[::-1])
