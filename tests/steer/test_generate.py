"""Seeded sampling: inverse CDF by hand, and strength 0 equals plain sampling from the model with the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnalens.models.base import load_model
from dnalens.models.interventions import next_log_probs
from dnalens.steer.directions import RowEdit
from dnalens.steer.generate import generate, sample_bases, sequence_uniforms
from dnalens.steer.stepper import TinyStepper


def test_sample_bases_inverse_cdf_by_hand():
    logp = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 4))
    # CDF 0.1, 0.3, 0.6, 1.0
    assert sample_bases(logp, np.array([0.05, 0.25, 0.59, 0.99]), 1.0).tolist() == [0, 1, 2, 3]
    assert sample_bases(logp, np.array([0.5] * 4), 0).tolist() == [3] * 4  # greedy
    # temperature 0.5 squares the probabilities: 1, 4, 9, 16 (/30) -> CDF 1/30, 5/30, 14/30
    assert sample_bases(logp[:1], np.array([0.2]), 0.5).tolist() == [2]


def test_strength_zero_equals_plain_sampling_with_the_same_seed(tiny_model_dir):
    adapter = load_model({"family": "tiny", "path": str(tiny_model_dir), "device": "cpu", "rc_pool": "none"})
    prompts = ["ACGTAGGCTAGCTAGGATCGATCGAT", "TTGACAGCTAGCTAGCTAGGGATCCA"]
    uniforms = sequence_uniforms([7, 8], 25)
    steered = generate(TinyStepper(adapter, "blocks.1", RowEdit(torch.zeros(2, 16)), 0, 60), prompts, uniforms, 1.0)
    # plain: the whole prefix through the unedited model every step, the same uniforms
    plain = list(prompts)
    for t in range(25):
        logp = next_log_probs(adapter, plain)
        probs = np.exp(logp) / np.exp(logp).sum(1, keepdims=True)
        for i in range(2):
            plain[i] += "ACGT"[int(np.searchsorted(np.cumsum(probs[i]), uniforms[i, t], side="right"))]
    assert steered == [p[len(q) :] for p, q in zip(plain, prompts)]
    assert sequence_uniforms([7], 3)[0] == pytest.approx(np.random.default_rng(7).random(3))
