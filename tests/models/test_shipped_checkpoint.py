"""Smoke test of the bundled checkpoint: loads, is small enough, and predicts DNA better than chance."""

import json

from dnalens.models.base import load_model
from dnalens.models.tiny_adapter import bundled_path

SHIPPED = bundled_path()


def test_bundled_checkpoint_loads_and_beats_uniform():
    assert (SHIPPED / "MODEL_CARD.md").exists()
    assert sum(f.stat().st_size for f in SHIPPED.iterdir()) <= 20 * 2**20
    adapter = load_model({"family": "tiny"})  # path null = the bundled checkpoint
    assert adapter.layers[0] == "blocks.0"
    seq = "ATGAAAGCAATTTTCGTACTGAAAGGTTGGTGGCGCACTTCCTGA" * 4  # coding-like sequence
    loss = adapter.spliced_loss([seq], "blocks.0")
    assert loss < 1.386  # ln 4: better than a uniform guess over ACGT
    acts = adapter.activations([seq], ["blocks.6"])["blocks.6"][0]
    assert acts.shape == (len(seq), 2 * json.loads((SHIPPED / "config.json").read_text())["d_model"])
