"""The Evo 2-width stand-in (family evo2_standin): vortex names, seeded weights, the Evo2Adapter code path."""

import numpy as np
import pytest
import torch
import yaml

from dnalens.errors import InputError
from dnalens.models.base import REGISTRY, family_wants_gpu, load_model
from dnalens.models.evo2 import Evo2Adapter
from dnalens.models.evo2_standin import build_standin_module, standin_width
from dnalens.settings import schema_path

SEQ = "ACGTTGCAAGGCTTAACGATCGATCGGGATCCATTTGACAGCTAGC"


def hook_output(model, path, ids):
    """Independent reference: a plain forward hook on the module (first tuple element)."""
    saved = {}
    handle = model.get_submodule(path).register_forward_hook(
        lambda m, i, o: saved.__setitem__("x", (o[0] if isinstance(o, tuple) else o).detach().clone())
    )
    with torch.no_grad():
        model(ids)
    handle.remove()
    return saved["x"][0].float().cpu().numpy()


def test_width_follows_the_named_evo2_model():
    assert standin_width(None) == 4096 and standin_width("evo2_7b_262k") == 4096
    assert standin_width("evo2_1b_base") == 1920 and standin_width("evo2_40b") == 8192
    with pytest.raises(InputError, match="evo2_7b_262k"):
        standin_width("evo2_3b")


def test_vortex_names_tuple_outputs_and_seeded_weights():
    a, b = build_standin_module(64), build_standin_module(64)
    names = {n for n, _ in a.named_modules()}
    assert {
        "blocks.0",
        "blocks.2",
        "blocks.1.pre_norm",
        "blocks.1.filter",
        "blocks.1.post_norm",
        "blocks.2.mlp.l1",
        "blocks.2.mlp.l2",
        "blocks.2.mlp.l3",
        "embedding_layer",
        "norm",
    } <= names
    assert "blocks.3" not in names
    ids = torch.randint(0, 512, (1, 20))
    with torch.no_grad():
        out = a.blocks[0](a.embedding_layer(ids))
        logits, extra = a(ids)
    assert isinstance(out, tuple) and out[0].shape == (1, 20, 64) and out[1] is None
    assert logits.shape == (1, 20, 512) and extra is None
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(p, q), name  # same seed, same weights, in every process
    assert not torch.equal(build_standin_module(64, seed=1).blocks[0].mlp.l1.weight, a.blocks[0].mlp.l1.weight)


def test_standin_goes_through_the_evo2_adapter_and_matches_hooks():
    tag = "|D__BACTERIA|"
    adapter = load_model(
        {"family": "evo2_standin", "name": "evo2_1b_base", "tag": tag, "device": "cpu", "dtype": "float32"}
    )
    assert isinstance(adapter, Evo2Adapter) and adapter.spec.rc_pool == "none"  # auto: one pass, as for Evo 2
    assert adapter.layers == ["blocks.0", "blocks.1", "blocks.2"]
    got = adapter.activations([SEQ], ["blocks.2", "blocks.1.mlp.l3"])
    ids = torch.tensor([[ord(c) for c in tag + SEQ]])
    for path in ("blocks.2", "blocks.1.mlp.l3"):
        assert got[path][0].shape == (len(SEQ), 1920)
        np.testing.assert_allclose(got[path][0], hook_output(adapter.model, path, ids)[len(tag) :], atol=1e-4)


def test_model_path_is_refused():
    with pytest.raises(InputError, match="model.path is not read"):
        load_model({"family": "evo2_standin", "path": "resources/models/x", "device": "cpu"})


def test_gpu_is_a_family_fact_and_the_schema_lists_every_family():
    assert family_wants_gpu("evo2") and not family_wants_gpu("evo2_standin") and not family_wants_gpu("tiny")
    schema = yaml.safe_load(schema_path().read_text())
    assert set(schema["properties"]["model"]["properties"]["family"]["enum"]) == set(REGISTRY)
