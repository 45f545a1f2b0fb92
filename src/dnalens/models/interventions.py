"""Next-base probabilities of a causal byte-level model, optionally with one layer's output edited.

Why one module: ablation effects, steering, variant scoring and `dnalens explain` all ask the same
question ("how likely is each base here, and how does an edit at the read layer change that?"), so the
nnsight edit and the token -> nucleotide bookkeeping live once. The edit replaces the layer's output[0]
inside the traced forward pass, like `TorchAdapter.spliced_loss`, and the logits are read at the end.

Only models with one token per nucleotide (the tiny model, Evo 2) give a per-base distribution; a k-mer
or BPE tokeniser predicts several bases at once, so those are refused with the reason.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from dnalens.errors import InputError

BASES = "ACGT"

# edit(x [B, T, d] tensor, positions: per sequence the token index of each nucleotide) -> replacement for x
Edit = Callable[[object, list], object]


def check_per_base(adapter, what: str) -> None:
    """A per-base distribution needs a causal model that reads one token per nucleotide."""
    if not adapter.causal:
        raise InputError(
            f"{what} needs an autoregressive (causal) model; this one is masked.",
            fix="use the tiny model, Evo 2 or a causal HuggingFace checkpoint with a character tokenizer.",
        )
    if not adapter.one_token_per_nucleotide:
        raise InputError(
            f"{what} needs a model with one token per nucleotide; this tokenizer spans several bases per token.",
            fix="use a byte-level model (the tiny model, Evo 2).",
        )


def base_token_ids(adapter) -> list[int]:
    """Token ids of A, C, G, T (a byte-level tokenizer: one id each)."""
    ids, _, positions = adapter.encode([BASES])
    return [int(ids[0, p]) for p in positions[0]]


def forward_logits(adapter, seqs: Sequence[str], layer: str | None, edit: Edit | None):
    """(logits [B, T, vocab] float32 on the model's device, token ids, token positions) of one batch, with
    `layer`'s output[0] replaced by edit(x, positions) (none: the plain model). Also TorchAdapter.spliced_loss."""
    import torch

    ids, mask, positions = adapter.encode(list(seqs))
    ids = ids.to(adapter.device)
    kwargs = {} if mask is None else {"attention_mask": mask.to(adapter.device)}
    path = adapter.module_path(layer) if edit is not None else None
    with torch.no_grad():
        with adapter.nn.trace(ids, **kwargs):
            if path is not None:
                env = adapter._envoy(path)
                out = env.output
                if isinstance(out, (tuple, list)):
                    env.output = (edit(out[0], positions),) + tuple(out[1:])
                else:
                    env.output = edit(out, positions)
            result = adapter.nn.output.save()
    return adapter.logits_of(result).float(), ids, positions


def _base_log_softmax(logits, base_ids: list[int]):
    """log P over the whole vocabulary, read at the four bases (mass on other tokens is not renormalised)."""
    import torch

    return torch.log_softmax(logits, dim=-1)[..., base_ids]


def nucleotide_log_probs(
    adapter, seqs: Sequence[str], *, layer: str | None = None, edit: Edit | None = None
) -> list[np.ndarray]:
    """Per sequence [len(seq), 4] float32: row i = ln P(base i = A/C/G/T | bases < i); row 0 is NaN.

    Batches of `model.batch_size` sequences; `edit` replaces `layer`'s output[0] in every batch."""
    check_per_base(adapter, "per-base log-probabilities")
    if edit is not None and layer is None:
        raise InputError("an edit needs the layer it applies to.", fix="pass layer='blocks.N'.")
    base_ids = base_token_ids(adapter)
    out: list[np.ndarray] = []
    for chunk in adapter._chunks(list(seqs)):
        logits, _, positions = forward_logits(adapter, chunk, layer, edit)
        logp = _base_log_softmax(logits, base_ids).cpu().numpy()
        for j, (seq, pos) in enumerate(zip(chunk, positions)):
            rows = np.full((len(seq), 4), np.nan, dtype=np.float32)
            pos = np.asarray(pos)
            if len(seq) > 1:
                rows[1:] = logp[j, pos[:-1]]  # the token before base i predicts base i
            out.append(rows)
    return out


def next_log_probs(
    adapter, prefixes: Sequence[str], *, layer: str | None = None, edit: Edit | None = None
) -> np.ndarray:
    """[B, 4]: ln P(next base | prefix) for each (non-empty) prefix, read at its last token."""
    check_per_base(adapter, "next-base log-probabilities")
    if any(len(p) == 0 for p in prefixes):
        raise InputError("a prefix is empty.", fix="give every prompt at least one base.")
    base_ids = base_token_ids(adapter)
    rows = []
    for chunk in adapter._chunks(list(prefixes)):
        logits, _, positions = forward_logits(adapter, chunk, layer, edit)
        last = [int(np.asarray(pos)[-1]) for pos in positions]
        picked = logits[np.arange(len(chunk)), last]
        rows.append(_base_log_softmax(picked, base_ids).cpu().numpy())
    return np.concatenate(rows).astype(np.float32)


def observed_log_likelihood(log_probs: np.ndarray, seq: str) -> np.ndarray:
    """[len(seq)] ln P of the base present at each position; NaN at row 0 and at non-ACGT bases."""
    index = np.array([BASES.find(c) for c in seq.upper()], dtype=np.int64)
    out = np.full(len(seq), np.nan, dtype=np.float32)
    ok = index >= 0
    out[ok] = log_probs[np.flatnonzero(ok), index[ok]]
    return out
