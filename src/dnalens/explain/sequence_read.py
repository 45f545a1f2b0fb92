"""One read of any sequence: SAE codes and the model's log-likelihood at every nucleotide.

Why one function: `dnalens explain` (a user's FASTA, a genome region) and the variants stage (reference and
alternative windows) both ask "what does the dictionary see here, and how likely is each base?", and the
answer must equal what the genome run stored for the same nucleotides. So a sequence is cut into the
model's windows with the genome run's trims (`plan_reads`: the kept middles tile the sequence, a window
start every `window - trim_start - trim_end` nt, aligned to the genome's window grid by `phase`), each
window goes through the window pass's own row function (`models.window_pass.device_rows`: strand pooling,
the unread tail, float16 rounding) and the encode's own `encode_shard` (per-window BatchTopK, lookup codes
of the whole read). Where no trimmed window reaches (the first `trim_start` and last `trim_end`-ish
nucleotides of a sequence without flanks) an edge window keeps its outer rows: they have less context than
the genome run ever reads, and `edge_mask` marks them.

The log-likelihood comes from `models.interventions` on the same windows, each read up to its last kept
row (the forward read: ln P of the base present given the bases before it in its window), so every kept
nucleotide has at least `trim_start` nt of left context, as its codes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np

from dnalens.errors import InputError

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True)
class ReadSettings:
    """How the genome run read its windows (not config keys: they come from the model spec, the SAE and the
    genome's windows.bed): `layer` the SAE reads, `window` length in nt, `trim` (start, end) rows dropped."""

    layer: str
    window: int
    trim: tuple[int, int] = (0, 0)

    @property
    def step(self) -> int:
        """Kept rows per trimmed window: consecutive windows this far apart tile a sequence."""
        return self.window - self.trim[0] - self.trim[1]


@dataclass(frozen=True)
class WindowRead:
    """One window of a sequence (0-based half-open `start`:`end`) and the rows it contributes (`keep_*`)."""

    start: int
    end: int
    keep_start: int
    keep_end: int

    @property
    def trim(self) -> tuple[int, int]:
        return self.keep_start - self.start, self.end - self.keep_end


class SequenceRead(NamedTuple):
    """`codes`: scipy CSR float32 [len, n_features] (the SAE's features, e.g. [own strand | opposite strand]
    for a strand-shared dictionary); `log_likelihood`: float32 [len], ln P of the observed base (NaN at the
    first base of the sequence and at non-ACGT bases)."""

    codes: "sp.csr_matrix"
    log_likelihood: np.ndarray


def plan_reads(length: int, settings: ReadSettings, phase: int = 0) -> list[WindowRead]:
    """Windows whose kept rows cover 0..length exactly once, in order. Interior windows start at positions
    = phase (mod step) and keep the genome run's trimmed middle; a left / right edge window (flush with the
    sequence end) keeps the rest. A sequence no longer than a window is one whole read."""
    ts, te = settings.trim
    k, w = settings.step, settings.window
    if k < 1:
        raise InputError(
            f"windows of {w} nt keep no rows after trims of {ts} + {te}.",
            fix="use longer windows (explain.window) or a smaller model.trim.",
        )
    if length <= w:
        return [WindowRead(0, length, 0, length)]
    first = phase % k
    if first + w > length:
        first = 0
    reads = [WindowRead(s, s + w, s + ts, s + ts + k) for s in range(first, length - w + 1, k)]
    if reads[0].keep_start > 0:
        reads.insert(0, WindowRead(0, w, 0, reads[0].keep_start))
    if reads[-1].keep_end < length:
        reads.append(WindowRead(length - w, length, reads[-1].keep_end, length))
    merged: list[WindowRead] = []
    for r in reads:  # an edge window over the same span as its neighbour: one read keeping both ranges
        if merged and (merged[-1].start, merged[-1].end) == (r.start, r.end):
            merged[-1] = WindowRead(r.start, r.end, merged[-1].keep_start, r.keep_end)
        else:
            merged.append(r)
    return merged


def edge_mask(length: int, settings: ReadSettings, phase: int = 0) -> np.ndarray:
    """bool [length]: nucleotides read with fewer than the trims' context on a side (no genome-run twin)."""
    out = np.zeros(length, dtype=bool)
    ts, te = settings.trim
    for r in plan_reads(length, settings, phase):
        left, right = r.keep_start - r.start, r.end - r.keep_end
        if left < ts or right < te:
            keep = np.arange(r.keep_start, r.keep_end)
            out[keep] = (keep - r.start < ts) | (r.end - 1 - keep < te)
    return out


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _encode_group(adapter, sae, seqs: list[str], trim: tuple[int, int], layer: str) -> "sp.csr_matrix":
    """Codes of the kept rows of windows `seqs` read with `trim` (all the same trim), concatenated."""
    import scipy.sparse as sp

    from dnalens.models.window_pass import device_rows, token_offsets
    from dnalens.sae.encode import encode_shard
    from dnalens.sae.row_bases import row_codes

    x = device_rows(adapter, seqs, layer, trim)
    if x.shape[1] != sae.d_in:
        raise InputError(
            f"layer {layer} has width {x.shape[1]} but the SAE expects d_in={sae.d_in}.",
            fix="use the dictionary trained for this model and layer (--dictionary), or the model it read (--model).",
        )
    bases = None
    if sae.lookup_context:  # the whole read is coded first: a kept row's neighbours may lie in the trims
        ctx = sae.lookup_context
        bases = np.concatenate([row_codes(s, ctx)[trim[0] : len(s) - trim[1]] for s in seqs])
    offsets = token_offsets([len(s) for s in seqs], trim).tolist()
    csr, _clipped = encode_shard(sae, x, offsets, device=x.device, bases=bases)
    return csr.to_scipy() if csr.n_rows else sp.csr_matrix((0, sae.d_sae), dtype=np.float32)


def read_sequences(
    adapter, sae, seqs: Sequence[str], settings: ReadSettings, phases: Sequence[int] | None = None
) -> list[SequenceRead]:
    """`read_sequence` for many sequences at once: the windows of all of them share batches (of
    `model.batch_size` windows with the same trims), so a caller with many short sequences (variant
    windows) pays one pass per window, not per call. `phases`: per sequence, see `plan_reads`."""
    import scipy.sparse as sp

    from dnalens.models.interventions import nucleotide_log_probs, observed_log_likelihood

    seqs = [s.upper() for s in seqs]
    if any(not s for s in seqs):
        raise InputError("an empty sequence cannot be read.", fix="give every sequence at least one base.")
    phases = list(phases) if phases is not None else [0] * len(seqs)
    sae = sae.to(adapter.device).eval()
    plans = [plan_reads(len(s), settings, p) for s, p in zip(seqs, phases)]
    windows = [(i, r) for i, plan in enumerate(plans) for r in plan]  # (sequence, window), in order
    codes: dict[int, "sp.csr_matrix"] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    for j, (_, r) in enumerate(windows):
        groups.setdefault(r.trim, []).append(j)
    for trim, members in groups.items():
        for batch in _batches(members, adapter.spec.batch_size):
            batch_seqs = [seqs[windows[j][0]][windows[j][1].start : windows[j][1].end] for j in batch]
            rows = _encode_group(adapter, sae, batch_seqs, trim, settings.layer)
            bounds = np.cumsum([0] + [windows[j][1].keep_end - windows[j][1].keep_start for j in batch])
            for n, j in enumerate(batch):
                codes[j] = rows[bounds[n] : bounds[n + 1]]
    # a kept row's likelihood needs only the bases up to it: each window is read up to its last kept row
    window_seqs = [seqs[i][r.start : r.keep_end] for i, r in windows]
    log_probs = nucleotide_log_probs(adapter, window_seqs) if window_seqs else []
    out: list[SequenceRead] = []
    j = 0
    for i, plan in enumerate(plans):
        parts, ll = [], np.full(len(seqs[i]), np.nan, dtype=np.float32)
        for r in plan:
            parts.append(codes[j])
            window_ll = observed_log_likelihood(log_probs[j], window_seqs[j])
            ll[r.keep_start : r.keep_end] = window_ll[r.keep_start - r.start : r.keep_end - r.start]
            j += 1
        matrix = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, sae.d_sae), dtype=np.float32)
        out.append(SequenceRead(matrix.astype(np.float32), ll))
    return out


def read_sequence(adapter, sae, seq: str, settings: ReadSettings, phase: int = 0) -> SequenceRead:
    """(codes [len(seq), n_features] CSR float32, log_likelihood [len(seq)]) of one sequence read as the
    genome run reads its windows (see the module docstring); `phase`: where interior windows start, mod step."""
    return read_sequences(adapter, sae, [seq], settings, [phase])[0]
