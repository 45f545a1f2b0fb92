"""The nucleotides each activation row was read at, for SAEs with a per-context decoder bias (`sae.base_lookup`).

Rows of a shard are the kept positions of its windows in read order (reverse complement on −, the first
`trim_start` and last `trim_end` positions dropped), so the base of every row follows from windows.bed and
the genome FASTA; the shards need not store it. Base codes: A 0, C 1, G 2, T 3, anything else 4. A
context of w (odd) codes the w-mer centred on the row in read order, sum of base(i + o) * 5^(o + w//2),
with positions outside the window read as "other" (4): 5^w codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dnalens.concepts.genome_data import N_CODE, encode
from dnalens.errors import InputError
from dnalens.formats.window_table import Window, window_sequence

N_BASES = N_CODE + 1  # A, C, G, T, other: the label store's base codes


def context_codes(codes: np.ndarray, context: int = 1) -> np.ndarray:
    """int32 code of the `context`-mer centred on each position of one read (`codes`: base codes)."""
    if context < 1 or context % 2 == 0:
        raise ValueError(f"the lookup context must be an odd width >= 1, got {context}")
    half = context // 2
    pad = np.full(half, N_CODE, np.int32)
    padded = np.concatenate([pad, codes.astype(np.int32), pad])
    out = np.zeros(codes.size, np.int32)
    for o in range(context):
        out += padded[o : o + codes.size] * (N_BASES**o)
    return out


def row_codes(seq: str, context: int = 1) -> np.ndarray:
    """Lookup codes of every position of one read: base codes (context 1) or centred `context`-mer codes."""
    codes = encode(seq)
    return codes if context == 1 else context_codes(codes, context)


def shard_row_bases(meta: dict, windows: Sequence[Window], fasta, context: int = 1) -> np.ndarray:
    """[n_rows] lookup codes of one activation shard (`meta`: its JSON record): uint8 base codes for
    context 1, int32 centred `context`-mer codes otherwise."""
    trim_start, trim_end = int(meta.get("trim_start", 0)), int(meta.get("trim_end", 0))
    offsets = [int(o) for o in meta["offsets"]]
    parts = []
    for j, row in enumerate(meta["windows"]):
        if int(row) >= len(windows):
            raise InputError(
                f"activation shard {meta.get('shard')} names window row {row} but windows.bed has {len(windows)} rows.",
                fix="re-extract activations for this windows.bed.",
            )
        # the whole read is coded before trimming: neighbours of kept rows may lie in the trimmed positions
        codes = row_codes(window_sequence(fasta, windows[int(row)]), context)
        kept = codes[trim_start : codes.size - trim_end]
        if kept.size != offsets[j + 1] - offsets[j]:
            raise InputError(
                f"activation shard {meta.get('shard')}: window row {row} has {offsets[j + 1] - offsets[j]} "
                f"rows but {kept.size} kept bases in the FASTA.",
                fix="pass the genome FASTA and windows.bed the activations were extracted from.",
            )
        parts.append(kept)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint8 if context == 1 else np.int32)


def activation_row_bases(
    directory: str | Path, windows: Sequence[Window], fasta, context: int = 1
) -> dict[int, np.ndarray]:
    """Lookup codes of every shard of an activation directory, by shard index (1 or 4 bytes per row)."""
    from dnalens.formats.activation_shards import iter_shards

    return {int(meta["shard"]): shard_row_bases(meta, windows, fasta, context) for meta, _ in iter_shards(directory)}


def open_row_bases(
    directory: str | Path, windows: Sequence[Window] | str | Path | None, fasta: str | Path | None, *, context: int
) -> dict[int, np.ndarray] | None:
    """`activation_row_bases` for an SAE with a lookup of this context (0: none, returns None); `windows`
    is the window table or its windows.bed path; a clear error if it or the FASTA is missing."""
    if not context:
        return None
    if not (windows and fasta):
        raise InputError(
            "this SAE has a per-w-mer decoder bias (base_lookup) and needs the bases of every row.",
            fix="pass --windows and --fasta (the windows.bed and genome FASTA of the activations).",
        )
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.genome.fasta import open_fasta

    if isinstance(windows, (str, Path)):
        windows = read_windows_bed(windows)
    return activation_row_bases(directory, windows, open_fasta(fasta), context)


def reverse_complement_codes(codes, context: int):
    """Lookup codes of the same w-mers read on the other strand: digits in reverse order, each base
    complemented (A<->T, C<->G, other stays other). int64 numpy array or torch tensor, as given."""
    wide = codes.long() if hasattr(codes, "long") else np.asarray(codes, np.int64)
    out = wide * 0
    for o in range(context):
        digit = (wide // N_BASES**o) % N_BASES
        complement = (N_CODE - 1 - digit) % N_BASES  # 0..3 -> 3..0; other (4) -> -1 % 5 = 4
        out = out + complement * N_BASES ** (context - 1 - o)
    return out
