"""The batch-level facts an SAE type owns for micro-batched training (sae/train_step.py asks the type)."""

from __future__ import annotations

import pytest
import torch

from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.topk import TopKSAE
from dnalens.sae.train_step import step_gradients


def test_batchtopk_cutoff_over_micro_batches_is_the_batch_k_times_n_th_largest_value():
    sae = BatchTopKSAE(3, 4, k=2)
    sae.train()
    # 3 rows x 4 latents; k x n = 6 largest ReLU'd values: 9, 8, 7, 6, 5, 4 -> cut-off 4 (hand-sorted).
    pre = torch.tensor([[9.0, -1.0, 4.0, 0.5], [3.0, 8.0, -2.0, 6.0], [7.0, 2.0, 5.0, 1.0]])
    chunks = [pre[:1], pre[1:2], pre[2:]]
    fired, cutoff = sae.batch_view(iter(chunks), n_rows=3)
    assert float(cutoff) == 4.0
    assert fired.tolist() == [True, True, True, True]  # 9, 7 latent 0; 8 latent 1; 5, 4 latent 2; 6 latent 3
    codes = torch.cat([sae.activate_in_batch(c, cutoff) for c in chunks])
    assert torch.equal(codes, sae.activate(pre))  # the whole batch's BatchTopK, rows split or not


def test_row_wise_types_have_no_cutoff():
    sae = TopKSAE(3, 4, k=2)
    pre = torch.randn(5, 4)
    fired, cutoff = sae.batch_view(iter([pre]), n_rows=5)
    assert cutoff is None
    assert torch.equal(fired, (sae.activate(pre) > 0).any(0))
    assert torch.equal(sae.activate_in_batch(pre, None), sae.activate(pre))


def test_a_batch_level_type_without_its_own_cutoff_refuses_to_split_a_step():
    class BatchLevel(TopKSAE):
        batch_dependent = True

    sae = BatchLevel(3, 4, k=2)
    x = torch.randn(4, 3)
    with pytest.raises(NotImplementedError, match="cannot be split"):
        step_gradients(sae, x, None, torch.zeros(4), dead_after=10, aux_k_coef=0.0, k_aux=2, rows=2)
