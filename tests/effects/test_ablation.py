"""The ablation h' = h - a*d against a hand-built torch forward hook on a tiny random model (both code paths)."""

import numpy as np
import pytest
import torch

from dnalens.effects.ablation import AblationRun, Intervention, WindowRead
from dnalens.effects.directions import FORWARD, REVERSE, Part
from dnalens.formats.window_table import reverse_complement
from dnalens.models.base import load_model
from dnalens.sae.strand_shared import StrandSharedSAE

from .helpers import hooked_pass, mean_delta_bits, random_seq, relu_sae

LAYER, L, START, N = "blocks.1", 120, 10, 100


def adapter(model_dir, pool):
    spec = {"family": "tiny", "path": str(model_dir), "rc_pool": pool, "dtype": "float32", "batch_size": 2}
    return load_model({**spec, "device": "cpu"})


def window(seq):
    label = np.zeros(N, bool)
    label[::3] = True
    return WindowRead(seq, START, N, {"lab": label})


def run(ad, sae, iv, seq, trims, short_path):
    ablation = AblationRun(ad, sae, LAYER, [iv], trims=trims)
    if not short_path:  # the nnsight pass (what every model without the vortex layout gets)
        ablation.log_probs.tail, ablation.log_probs.verified = None, True
    assert (ablation.log_probs.tail is not None) == short_path
    ablation.add_batch([window(seq)])
    return ablation.tallies[iv.key]


def centre(sae, states):
    """b_dec at the states' mean, so random encoder rows fire on part of the positions, not all or none."""
    with torch.no_grad():
        sae.b_dec.copy_(states.mean(0))


def firing(codes):
    share = (codes > 0).float().mean(0)
    picks = torch.nonzero((share > 0.2) & (share < 0.8)).flatten()
    assert picks.numel(), "no latent fires on a fair share of positions"
    return int(picks[0])


@pytest.mark.parametrize("short_path", [True, False])
def test_forward_ablation_equals_a_hook(tiny_model_dir, short_path):
    ad = adapter(tiny_model_dir, "none")
    sae = relu_sae(16, 8, seed=1)
    seq = random_seq(L, 3)
    hidden, ll_clean = hooked_pass(ad.model, LAYER, seq)
    kept = np.arange(START, START + N)
    centre(sae, hidden[kept])
    codes = sae.encode(hidden[kept].half().float()).detach()
    f = firing(codes)
    a = codes[:, f].numpy()
    d = sae.W_dec[f].detach()
    edits = {int(p): float(c) * d for p, c in zip(kept, a) if c > 0}
    _, ll_edit = hooked_pass(ad.model, LAYER, seq, edits)
    fire = kept[a > 0]
    first = np.argmax(a > 0)
    elsewhere = kept[(a == 0) & (np.arange(N) > first)]
    iv = Intervention("x", f, (Part(FORWARD, d.numpy()),), "lab")
    tally = run(ad, sae, iv, seq, (START, 0), short_path)
    assert tally.mean("fire") == pytest.approx(mean_delta_bits(ll_edit, ll_clean, fire), abs=1e-5)
    assert tally.mean("elsewhere") == pytest.approx(mean_delta_bits(ll_edit, ll_clean, elsewhere), abs=1e-5)
    assert tally.mean("label") == pytest.approx(mean_delta_bits(ll_edit, ll_clean, kept[::3]), abs=1e-5)
    assert abs(tally.mean("fire")) > 1e-3  # the ablation did something measurable
    assert tally.counts["fire"] == fire.size - (fire[-1] + 1 >= L)  # the last base predicts nothing


@pytest.mark.parametrize("short_path", [True, False])
def test_opposite_strand_latent_is_removed_in_the_reverse_pass(tiny_model_dir, short_path):
    """Strand-shared dictionary, rc_pool concat: feature n + j is atom j read on the reverse-complement pass, so
    its ablation edits that pass at the mirrored positions and its predictions are the ones scored."""
    ad = adapter(tiny_model_dir, "concat")
    sae = StrandSharedSAE(relu_sae(16, 8, seed=2))
    seq = random_seq(L, 4)
    rc = reverse_complement(seq)
    fwd_hidden, _ = hooked_pass(ad.model, LAYER, seq)
    rev_hidden, ll_clean = hooked_pass(ad.model, LAYER, rc)
    kept = np.arange(START, START + N)
    mirrored = L - 1 - kept
    centre(sae.strand_sae, torch.cat([fwd_hidden[kept], rev_hidden[mirrored]]))
    rows = torch.cat([fwd_hidden[kept], rev_hidden[mirrored]], dim=1).half().float()
    codes = sae.encode(rows).detach()
    j = firing(codes[:, 8:])
    a = codes[:, 8 + j].numpy()
    d = sae.strand_sae.W_dec[j].detach()
    edits = {int(p): float(c) * d for p, c in zip(mirrored, a) if c > 0}
    _, ll_edit = hooked_pass(ad.model, LAYER, rc, edits)
    iv = Intervention("x", 8 + j, (Part(REVERSE, d.numpy()),), "lab")
    tally = run(ad, sae, iv, seq, (START, START), short_path)
    assert tally.mean("fire") == pytest.approx(mean_delta_bits(ll_edit, ll_clean, mirrored[a > 0]), abs=1e-5)
    assert tally.mean("label") == pytest.approx(mean_delta_bits(ll_edit, ll_clean, mirrored[::3]), abs=1e-5)
    assert abs(tally.mean("fire")) > 1e-3
