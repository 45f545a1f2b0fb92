import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dnalens.errors import InputError
from dnalens.formats.window_table import reverse_complement
from dnalens.models.base import load_model
from dnalens.models.tokenizer import encode

SEQS = ["ACGTTGCAAGGCTTAACGATCGATCGGGATCCAT", "TTGACAGCTAGCTCAGTCCTAGG"]


def ids_for(model, seq):
    """Token ids on the model's device (CUDA when the adapter put it there)."""
    return torch.from_numpy(encode(seq))[None].to(next(model.parameters()).device)


def hook_outputs(model, path, seq):
    """Independent reference: a plain PyTorch forward hook on the module."""
    saved = {}
    handle = model.get_submodule(path).register_forward_hook(
        lambda m, i, o: saved.__setitem__("x", (o[0] if isinstance(o, tuple) else o).detach().clone())
    )
    with torch.no_grad():
        model(ids_for(model, seq))
    handle.remove()
    return saved["x"][0].float().cpu().numpy()


def plain(directory, **kw):
    # float32 on any device: the references below are exact float32 computations
    return load_model({"family": "tiny", "path": str(directory), "rc_pool": "none", "dtype": "float32", **kw})


def test_nnsight_capture_equals_forward_hook(tiny_model_dir):
    adapter = plain(tiny_model_dir)
    acts = adapter.activations(SEQS, ["blocks.1", "blocks.2.mlp.l3"])
    for path in ("blocks.1", "blocks.2.mlp.l3"):
        for seq, arr in zip(SEQS, acts[path]):
            assert arr.shape == (len(seq), 16)
            np.testing.assert_allclose(arr, hook_outputs(adapter.model, path, seq), atol=1e-5)


def test_rc_pool_flips_reverse_pass_back_to_read_order(tiny_model_dir):
    single = plain(tiny_model_dir)
    assert load_model(tiny_model_dir).spec.rc_pool == "concat"  # auto: tiny reads both strands
    cat = plain(tiny_model_dir, rc_pool="concat")
    mean = plain(tiny_model_dir, rc_pool="mean")
    seq = SEQS[0]
    fwd = hook_outputs(single.model, "blocks.2", seq)
    rev = hook_outputs(single.model, "blocks.2", reverse_complement(seq))[::-1]
    np.testing.assert_allclose(cat.activations([seq], ["blocks.2"])["blocks.2"][0], np.hstack([fwd, rev]), atol=1e-5)
    np.testing.assert_allclose(mean.activations([seq], ["blocks.2"])["blocks.2"][0], (fwd + rev) / 2, atol=1e-5)
    assert cat.d_model("blocks.2") == 32 and single.d_model("blocks.2") == 16


def test_trimmed_passes_stop_at_the_last_kept_row(tiny_model_dir, monkeypatch):
    """A causal byte-level model reads each pass only up to the last row the trims keep: the kept rows
    equal a forward hook on the whole sequence (up to rounding) and the model saw the shorter sequences."""
    cat = plain(tiny_model_dir, rc_pool="concat")
    seq, trim = SEQS[0], (5, 5)
    read = []
    original = cat.encode
    monkeypatch.setattr(cat, "encode", lambda seqs: read.extend(len(s) for s in seqs) or original(seqs))
    got = cat.activations([seq], ["blocks.2"], trim)["blocks.2"][0]
    assert read == [len(seq) - 5, len(seq) - 5]  # forward and reverse-complement pass, each 5 nt short
    fwd = hook_outputs(cat.model, "blocks.2", seq)
    rev = hook_outputs(cat.model, "blocks.2", reverse_complement(seq))[::-1]
    np.testing.assert_allclose(got[5:-5], np.hstack([fwd, rev])[5:-5], atol=1e-5)
    assert got.shape == (len(seq), 32) and not got[-5:, :16].any()  # rows no pass read: zero
    # what may be skipped: the trim end on a single pass, the smaller trim with both strands, nothing when
    # the model is not causal or a token can span the cut
    assert plain(tiny_model_dir).unread_tail((0, 7)) == 7 and cat.unread_tail((3, 7)) == 3
    cat.causal = False
    assert cat.unread_tail((5, 5)) == 0
    cat.causal, cat.one_token_per_nucleotide = True, False
    assert cat.unread_tail((5, 5)) == 0


def test_spliced_loss_matches_manual_cross_entropy(tiny_model_dir):
    adapter = plain(tiny_model_dir)
    total, count = 0.0, 0
    for seq in SEQS:
        ids = ids_for(adapter.model, seq)
        with torch.no_grad():
            logits = adapter.model(ids)
        total += float(F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum"))
        count += len(seq) - 1
    clean = adapter.spliced_loss(SEQS, "blocks.1")
    assert clean == pytest.approx(total / count, rel=1e-5)
    assert adapter.spliced_loss(SEQS, "blocks.1", replace=lambda x: x) == pytest.approx(clean, rel=1e-6)
    # reference for a real replacement: a forward hook that returns the replaced tuple
    handle = adapter.model.get_submodule("blocks.1").register_forward_hook(lambda m, i, o: (o[0] * 0.5, *o[1:]))
    total, count = 0.0, 0
    for seq in SEQS:
        ids = ids_for(adapter.model, seq)
        with torch.no_grad():
            logits = adapter.model(ids)
        total += float(F.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum"))
        count += len(seq) - 1
    handle.remove()
    spliced = adapter.spliced_loss(SEQS, "blocks.1", replace=lambda x: x * 0.5)
    assert spliced == pytest.approx(total / count, rel=1e-5) and abs(spliced - clean) > 1e-5


def test_unknown_layer_and_family_are_input_errors(tiny_model_dir):
    adapter = load_model(tiny_model_dir)
    with pytest.raises(InputError, match="blocks.9"):
        adapter.activations(SEQS, ["blocks.9"])
    with pytest.raises(InputError, match="model.family must be one of tiny, evo2, evo2_standin, hf"):
        load_model({"family": "nope"})


class VortexStandIn(torch.nn.Module):
    """vortex StripedHyena's names and tuple outputs: forward returns (logits, inference_params)."""

    def __init__(self, tiny):
        super().__init__()
        self.embedding_layer, self.blocks, self.norm = tiny.embedding_layer, tiny.blocks, tiny.norm

    def forward(self, ids):
        x = self.embedding_layer(ids)
        for block in self.blocks:
            x, _ = block(x)
        return F.linear(self.norm(x), self.embedding_layer.weight), None


def test_evo2_adapter_on_vortex_stand_in_with_tag(tiny_model_dir):
    from dnalens.models.base import ModelSpec
    from dnalens.models.evo2 import Evo2Adapter
    from dnalens.models.tiny_adapter import load_tiny_module

    tiny = load_tiny_module(tiny_model_dir).eval()
    tag = "|D__BACTERIA|"
    adapter = Evo2Adapter.from_module(VortexStandIn(tiny), ModelSpec(family="evo2", tag=tag, dtype="float32"))
    # the stand-in shares tiny's modules: wherever the adapter put them, `tiny` is there too
    got = adapter.activations(SEQS, ["blocks.3"])["blocks.3"]
    for seq, arr in zip(SEQS, got):
        want = hook_outputs(tiny, "blocks.3", tag + seq)[len(tag) :]
        assert arr.shape == (len(seq), 16)
        np.testing.assert_allclose(arr, want, atol=1e-5)
    # loss is scored on nucleotide tokens only (targets after the tag)
    ids = ids_for(tiny, tag + SEQS[1])
    with torch.no_grad():
        logits = tiny(ids)
    n = len(tag)
    want = float(F.cross_entropy(logits[0, n - 1 : -1], ids[0, n:]))
    assert adapter.spliced_loss([SEQS[1]], "blocks.3") == pytest.approx(want, rel=1e-5)


def test_evo2_without_package_names_the_extra():
    with pytest.raises(InputError, match=r"dnalens\[evo2\]"):
        load_model({"family": "evo2", "name": "evo2_7b_262k"})


def test_rc_partners_finds_each_reverse_complement_or_none():
    from dnalens.models.base import rc_partners

    a, b = "AACGT", "GGATC"
    seqs = [a, reverse_complement(a), b, reverse_complement(b), "ACGT"]  # ACGT is its own reverse complement
    assert rc_partners(seqs, [reverse_complement(s) for s in seqs]) == [1, 0, 3, 2, 4]
    assert rc_partners([a, b], [reverse_complement(a), reverse_complement(b)]) is None


def test_both_strand_windows_share_one_pass_with_the_same_bytes(tiny_model_dir, monkeypatch):
    """A window and its reverse complement in one batch: the rc pass is the forward pass permuted, so
    half the forward passes give the very bytes of running both (reference: each pass run on its own)."""
    import dnalens.models.base as base

    cat = plain(tiny_model_dir, rc_pool="concat")
    seqs = [SEQS[0], reverse_complement(SEQS[0]), SEQS[1][:20], reverse_complement(SEQS[1][:20])]
    calls = []
    real = cat.capture
    monkeypatch.setattr(cat, "capture", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = cat.activations(seqs, ["blocks.2"])["blocks.2"]
    assert len(calls) == 1
    monkeypatch.setattr(base, "rc_partners", lambda seqs, rc: None)  # the two-pass path
    want = cat.activations(seqs, ["blocks.2"])["blocks.2"]
    assert len(calls) == 3
    for g, w in zip(got, want):
        assert g.tobytes() == w.tobytes()
    # the minus window's rows are the plus window's, flipped, with the strand halves swapped
    np.testing.assert_array_equal(got[1], np.hstack([got[0][::-1, 16:], got[0][::-1, :16]]))
