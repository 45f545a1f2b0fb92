"""Remove a latent's write h' = h − a·d wherever it fires and measure the change in next-nucleotide loss.

Per batch of windows: each strand pass runs once through the model up to the SAE's layer (nnsight capture);
the SAE reads the pooled, float16-rounded kept rows exactly as the genome-wide encode does (so a fires where
the buffer says it fires); then each intervention edits the captured layer output only at the firing
positions and only in the passes it writes to (effects.directions), keeping everything the SAE does not
explain (its error), and the rest of the model gives the edited log-probabilities (effects.resume).

Scored: kept positions only (the buffer's rows: read_offset … + n), each position's prediction of the next
nucleotide in the pass's reading direction (the row after it in nucleotide_log_probs). Edits are made only
at kept positions too. An intervention that never fires in a window leaves it unchanged, so that window is
skipped. Passes are shared by sequence (a window's reverse complement is its other-strand twin's forward
pass) and an edit already measured on a pass (same vector, same coefficients) is reused.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from dnalens.effects.directions import FORWARD, Part
from dnalens.formats.window_table import reverse_complement
from dnalens.models.interventions import observed_log_likelihood

LN2 = math.log(2.0)
CODON_POSITIONS = (1, 2, 3)


@dataclass(frozen=True)
class WindowRead:
    """One held-out window: its read-order sequence, first kept read position, kept labels (name -> bool [n])."""

    seq: str
    kept_start: int
    n_kept: int
    labels: dict[str, np.ndarray]


@dataclass(frozen=True)
class Intervention:
    """Remove a[latent] × vector from each part's pass wherever `latent` fires; scored at `label` positives and
    at codon positions `codon_labels` (1, 2, 3 -> label name or None)."""

    key: str
    latent: int
    parts: tuple[Part, ...]
    label: str | None
    codon_labels: tuple[str | None, str | None, str | None] = (None, None, None)


@dataclass
class Tally:
    """Sums and counts over every scored prediction of one intervention (means: `mean`)."""

    windows: int = 0
    positions: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, values: np.ndarray) -> None:
        values = values[np.isfinite(values)]
        self.sums[name] = self.sums.get(name, 0.0) + float(values.sum(dtype=np.float64))
        self.counts[name] = self.counts.get(name, 0) + int(values.size)

    def mean(self, name: str) -> float:
        n = self.counts.get(name, 0)
        return self.sums[name] / n if n else float("nan")


def pass_tail(adapter, trims: tuple[int, int]) -> int:
    """Nucleotides no scored prediction needs at the end of every pass (causal: the last kept position's
    prediction reads one nucleotide past it, so one less than the encode's unread tail)."""
    return max(0, adapter.unread_tail(trims) - 1)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


class AblationRun:
    """Interventions over batches of windows; `tallies[key]` accumulates each intervention's numbers."""

    def __init__(self, adapter, sae, layer: str, interventions: Sequence[Intervention], *, trims, lookup: int = 0):
        from dnalens.effects.resume import LogProbs

        self.adapter, self.sae, self.layer = adapter, sae, layer
        self.interventions = list(interventions)
        self.trims = (int(trims[0]), int(trims[1]))
        self.lookup = int(lookup)
        self.log_probs = LogProbs(adapter, layer)
        self.tallies = {i.key: Tally() for i in self.interventions}
        self.latents = sorted({i.latent for i in self.interventions})
        self.column = {f: c for c, f in enumerate(self.latents)}
        self.pool = adapter.spec.rc_pool

    # ---- one batch ---------------------------------------------------------------------------------
    def add_batch(self, windows: Sequence[WindowRead]) -> None:
        import torch

        tail = pass_tail(self.adapter, self.trims)
        passes: dict[str, int] = {}
        wanted = []
        for w in windows:
            seqs = [w.seq] if self.pool == "none" else [w.seq, reverse_complement(w.seq)]
            cut = [s[: len(s) - tail] if 0 < tail < len(s) else s for s in seqs]
            wanted.append([passes.setdefault(c, len(passes)) for c in cut])
        pass_seqs = list(passes)
        ids, mask, positions = self.adapter.encode(pass_seqs)
        ids = ids.to(self.adapter.device)
        mask = None if mask is None else mask.to(self.adapter.device)
        hidden = self.adapter.capture(ids, mask, [self.layer])[self.layer]
        positions = [np.asarray(p) for p in positions]
        self.log_probs.verify(pass_seqs, positions, hidden)
        # the unembedding reads only tokens a scored prediction is made at (kept positions of either pass)
        first_kept = min(self.trims) if self.pool != "none" else self.trims[0]
        self.first_token = min(int(p[min(first_kept, p.size - 1)]) for p in positions)
        clean = self.log_probs.from_hidden(hidden, pass_seqs, positions, hidden, self.first_token)
        clean_ll = [observed_log_likelihood(r, s) for r, s in zip(clean, pass_seqs)]
        codes = [self._codes(w, hidden, positions, u) for w, u in zip(windows, wanted)]
        jobs = []  # (cache key, pass index, token indices, coefficients, vector)
        plan = []  # (intervention, part, window index, pass index, pass-order coefficients, cache key)
        for iv in self.interventions:
            col = self.column[iv.latent]
            for wi, w in enumerate(windows):
                a_read = codes[wi][:, col]
                if not (a_read > 0).any():
                    continue
                for part in iv.parts:
                    u = wanted[wi][0] if part.strand_pass == FORWARD or self.pool == "none" else wanted[wi][1]
                    first, a_pass = _pass_order(w, part.strand_pass, a_read)
                    nuc = first + np.flatnonzero(a_pass > 0)
                    coef = a_pass[a_pass > 0].astype(np.float32)
                    key = (u, _digest(part.vector, coef.astype(np.float16), nuc))
                    jobs.append((key, u, positions[u][nuc], coef, part.vector))
                    plan.append((iv, part, wi, u, a_pass, first, key))
        results = self._run(jobs, hidden, pass_seqs, positions, clean_ll)
        counted: set[tuple[str, int]] = set()
        for iv, part, wi, u, a_pass, first, key in plan:
            tally = self.tallies[iv.key]
            if (iv.key, wi) not in counted:
                counted.add((iv.key, wi))
                tally.windows += 1
            self._score(tally, iv, windows[wi], part.strand_pass, a_pass, first, results[key], clean_ll[u])
        del hidden
        torch.cuda.empty_cache() if torch.cuda.is_available() else None

    def _codes(self, w: WindowRead, hidden, positions, u: list[int]) -> np.ndarray:
        """[n_kept, len(self.latents)] codes of the window's kept rows, as the genome-wide encode computes them."""
        import torch

        from dnalens.sae.row_bases import row_codes

        kept = np.arange(w.kept_start, w.kept_start + w.n_kept)
        fwd = hidden[u[0], torch.as_tensor(positions[u[0]][kept], device=hidden.device)].float()
        if self.pool == "none":
            rows = fwd
        else:
            mirrored = len(w.seq) - 1 - kept
            rev = hidden[u[1], torch.as_tensor(positions[u[1]][mirrored], device=hidden.device)].float()
            rows = torch.cat([fwd, rev], dim=1) if self.pool == "concat" else (fwd + rev) / 2
        rows = rows.half().float()  # what a stored shard holds and the fused encode reads
        device = self.sae.W_enc.device
        bases = None
        if self.lookup:
            bases = torch.from_numpy(row_codes(w.seq, self.lookup)[kept].astype(np.int64)).to(device)
        with torch.no_grad():
            out = self.sae.encode(rows.to(device), bases)
        return out[:, self.latents].float().cpu().numpy()

    def _run(self, jobs, hidden, pass_seqs, positions, clean_ll) -> dict:
        """Δ ln P(observed) per pass nucleotide for each distinct job, a model batch at a time."""
        import torch

        out: dict = {}
        todo = []
        for job in jobs:
            if job[0] not in out:
                out[job[0]] = None
                todo.append(job)
        size = max(1, int(self.adapter.spec.batch_size))
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            us = [j[1] for j in chunk]
            clean = hidden[us]
            edited = clean.clone()
            for row, (_, _, tok, coef, vec) in enumerate(chunk):
                shift = torch.from_numpy(coef[:, None] * vec[None, :]).to(edited.device, edited.dtype)
                edited[row, torch.as_tensor(tok, device=edited.device)] -= shift
            seqs = [pass_seqs[u] for u in us]
            rows = self.log_probs.from_hidden(edited, seqs, [positions[u] for u in us], clean, self.first_token)
            for (key, u, *_), r, s in zip(chunk, rows, seqs):
                out[key] = observed_log_likelihood(r, s) - clean_ll[u]
        return out

    def _score(self, tally: Tally, iv: Intervention, w: WindowRead, strand_pass, a_pass, first, delta, clean) -> None:
        n = a_pass.size
        pred = first + np.arange(n) + 1  # the prediction made at each kept position: the next nucleotide's row
        ok = pred < delta.size
        d_ll = np.where(ok, delta[np.minimum(pred, delta.size - 1)], np.nan)
        base = np.where(ok, clean[np.minimum(pred, clean.size - 1)], np.nan)
        bits, log2p = -d_ll / LN2, d_ll / LN2
        fire = a_pass > 0
        after = np.arange(n) > np.argmax(fire)
        order = (lambda x: x) if strand_pass == FORWARD else (lambda x: x[::-1])
        tally.positions += int(n)
        tally.add("fire", bits[fire])
        tally.add("clean_fire", -base[fire] / LN2)
        tally.add("elsewhere", bits[~fire & after])
        if iv.label and iv.label in w.labels:
            pos = order(w.labels[iv.label])
            tally.add("label", bits[pos])
            tally.add("label_logp", log2p[pos])
        for k, name in zip(CODON_POSITIONS, iv.codon_labels):
            if name and name in w.labels:
                tally.add(f"codon_pos{k}", log2p[order(w.labels[name])])


def _pass_order(w: WindowRead, strand_pass: str, a_read: np.ndarray) -> tuple[int, np.ndarray]:
    """(index in the pass of the first kept nucleotide, read-order kept values in pass order)."""
    if strand_pass == FORWARD:
        return w.kept_start, a_read
    return len(w.seq) - (w.kept_start + w.n_kept), a_read[::-1]


def run_ablation(
    adapter,
    sae,
    layer: str,
    windows: Sequence[WindowRead],
    interventions: Iterable[Intervention],
    *,
    trims,
    lookup=0,
    progress=False,
) -> dict[str, Tally]:
    """Tallies of every intervention over `windows`, in batches of model.batch_size windows."""
    import sys

    from tqdm import tqdm

    run = AblationRun(adapter, sae, layer, list(interventions), trims=trims, lookup=lookup)
    size = max(1, int(adapter.spec.batch_size))
    with tqdm(total=len(windows), desc="effects", unit="win", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(windows), size):
            run.add_batch(windows[start : start + size])
            bar.update(len(windows[start : start + size]))
    return run.tallies
