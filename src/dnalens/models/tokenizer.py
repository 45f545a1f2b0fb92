"""Evo 2's byte-level tokenizer: one token per nucleotide, the UTF-8 byte value (A=65, C=67, ...).

Why identical to Evo 2: the tiny model and Evo 2 then share token ids, and a token is a nucleotide,
so activations map 1:1 onto read positions (offsets are the identity).
"""

from __future__ import annotations

import numpy as np

VOCAB_SIZE = 512


def encode(seq: str) -> np.ndarray:
    """Token ids (int64) of `seq`: its UTF-8 byte values."""
    return np.frombuffer(seq.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def encode_batch(seqs: list[str], pad_id: int = ord("N")) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ids [B, T] and lengths [B]; padding never influences earlier (causal) positions."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.full((len(seqs), int(lengths.max(initial=0))), pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = encode(s)
    return out, lengths


def decode(ids) -> str:
    return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
