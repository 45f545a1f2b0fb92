"""Train the tiny Evo 2-style model on genomes: seeded, reverse-complement augmented, resumable.

Why this shape: batch `s` is drawn from a generator seeded with (seed, s), so a resumed run draws the
same batches as an uninterrupted one without storing RNG state. A checkpoint is one atomically
replaced directory (`.resume/`: weights, AdamW moments, state.json), so a kill at any moment leaves
the previous checkpoint intact. The last `holdout_fraction` of every contig is never trained on and
gives the held-out bits/nucleotide.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnalens.atomic import atomic_dir, atomic_path, write_text
from dnalens.errors import InputError

log = logging.getLogger(__name__)

_COMP = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan"):
    _COMP[_a] = _b


@dataclass(frozen=True)
class TrainSettings:
    """The config's `training:` block (see the schema for every key's meaning and default)."""

    genomes: tuple[str, ...] = ()
    steps: int = 2000
    batch_size: int = 8
    seq_len: int = 1024
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.05
    seed: int = 0
    holdout_fraction: float = 0.02
    rc_augment: bool = True
    checkpoint_every: int = 200
    eval_every: int = 500
    eval_windows: int = 16
    threads: int = 2
    max_minutes: float = 0.0
    architecture: dict[str, Any] = field(default_factory=dict)


def complement_bytes(arr: np.ndarray) -> np.ndarray:
    return _COMP[arr]


def reverse_complement_bytes(arr: np.ndarray) -> np.ndarray:
    return _COMP[arr[..., ::-1]]


def read_fasta_bytes(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """(contig name, uppercase uint8 bytes) for every record of a FASTA/GenBank file, gzip or plain."""
    from Bio import SeqIO

    path = Path(path)
    if not path.exists():
        raise InputError("training genome not found.", path=path, fix="fix `training.genomes`.")
    suffixes = [s.lower() for s in path.suffixes]
    fmt = "genbank" if any(s in (".gb", ".gbk", ".genbank") for s in suffixes) else "fasta"
    opener = gzip.open if suffixes and suffixes[-1] == ".gz" else open
    with opener(path, "rt") as handle:
        records = [(r.id, np.frombuffer(str(r.seq).upper().encode(), dtype=np.uint8)) for r in SeqIO.parse(handle, fmt)]
    if not records:
        raise InputError(f"no {fmt} records found.", path=path, fix="give a FASTA or GenBank file.")
    return records


def split_holdout(seq: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: the last `fraction` of a contig is held out (neighbours would leak)."""
    cut = len(seq) - int(round(len(seq) * fraction))
    return seq[:cut], seq[cut:]


class Corpus:
    """Training contigs with length-weighted window sampling."""

    def __init__(self, contigs: Sequence[np.ndarray], seq_len: int) -> None:
        self.contigs = [c for c in contigs if len(c) > seq_len + 1]
        if not self.contigs:
            raise InputError(f"no training contig is longer than seq_len+1 = {seq_len + 1}.")
        self.seq_len = seq_len
        weights = np.array([len(c) - seq_len - 1 for c in self.contigs], dtype=np.float64)
        self.weights = weights / weights.sum()

    def batch(self, rng: np.random.Generator, batch_size: int, rc: bool) -> np.ndarray:
        rows = np.empty((batch_size, self.seq_len + 1), dtype=np.uint8)
        which = rng.choice(len(self.contigs), size=batch_size, p=self.weights)
        for i, c in enumerate(which):
            contig = self.contigs[c]
            start = int(rng.integers(0, len(contig) - self.seq_len - 1))
            rows[i] = contig[start : start + self.seq_len + 1]
            if rc and rng.random() < 0.5:
                rows[i] = reverse_complement_bytes(rows[i])
        return rows


def progress_at(step: int, s: TrainSettings, elapsed_s: float = 0.0) -> float:
    """Share of the run done: by steps, or by wall time when `max_minutes` is set (whichever is ahead).

    Why time too: on a shared CPU the step rate is unknown in advance; with `max_minutes` the cosine
    schedule still decays fully by the deadline instead of being cut off mid-way.
    """
    by_steps = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    by_time = elapsed_s / (s.max_minutes * 60) if s.max_minutes else 0.0
    return min(1.0, max(by_steps, by_time))


def lr_at(step: int, s: TrainSettings, elapsed_s: float = 0.0) -> float:
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    progress = progress_at(step, s, elapsed_s)
    return s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def heldout_windows(contigs: Sequence[np.ndarray], seq_len: int, n: int) -> np.ndarray:
    """Evenly spaced windows over the held-out contigs (deterministic)."""
    rows = []
    for c in contigs:
        k = max(1, (len(c) - 1) // seq_len)
        rows.extend(c[i * seq_len : i * seq_len + seq_len + 1] for i in range(k) if (i + 1) * seq_len + 1 <= len(c))
    if not rows:
        return np.zeros((0, seq_len + 1), dtype=np.uint8)
    idx = np.linspace(0, len(rows) - 1, num=min(n, len(rows))).astype(int)
    return np.stack([rows[i] for i in idx])


def bits_per_nt(model, rows: np.ndarray, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy in bits over `rows` [N, T+1] (uint8 bytes)."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            ids = torch.from_numpy(rows[i : i + batch_size].astype(np.int64))
            logits = model(ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum")
            total += float(loss)
            count += ids[:, 1:].numel()
    model.train()
    return total / max(count, 1) / math.log(2)


def _save_optimizer(opt, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {}
    for i, st in opt.state_dict()["state"].items():
        for key, value in st.items():
            tensors[f"{i}.{key}"] = value.detach().reshape(-1).clone() if value.ndim == 0 else value.detach().contiguous()
    save_file(tensors, str(path))


def _load_optimizer(opt, path: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        i, key = name.split(".", 1)
        state.setdefault(int(i), {})[key] = value.reshape(()) if key == "step" else value
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def save_model_dir(model, out: Path, extra_config: dict[str, Any] | None = None) -> None:
    """model.safetensors + config.json: the directory `load_model` accepts."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    cfg = {"family": "tiny", **model.config.to_dict(), **(extra_config or {})}
    write_text(out / "config.json", json.dumps(cfg, indent=2) + "\n")


def train(settings: TrainSettings, out: str | Path) -> dict[str, Any]:
    """Train (or resume) into `out`; returns the final training summary (also written to training.json)."""
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file

    from dnalens.models.tiny import TinyConfig, TinyEvo

    torch.set_num_threads(max(1, settings.threads))
    out = Path(out)
    resume = out / ".resume"
    if not settings.genomes:
        raise InputError("no training genomes given.", fix="set `training.genomes` to FASTA/GenBank paths.")
    train_contigs, held = [], []
    sources = []
    for g in settings.genomes:
        for name, seq in read_fasta_bytes(g):
            a, b = split_holdout(seq, settings.holdout_fraction)
            train_contigs.append(a)
            held.append(b)
            sources.append({"file": str(g), "contig": name, "length": int(len(seq)), "heldout_nt": int(len(b))})
    corpus = Corpus(train_contigs, settings.seq_len)
    eval_rows = heldout_windows(held, settings.seq_len, settings.eval_windows)

    torch.manual_seed(settings.seed)
    cfg = TinyConfig.from_dict(settings.architecture)
    model = TinyEvo(cfg)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr, betas=(0.9, 0.95),
    )
    step, elapsed, history = 0, 0.0, []
    if (resume / "state.json").exists():
        state = json.loads((resume / "state.json").read_text())
        if state["architecture"] != cfg.to_dict():
            raise InputError("checkpoint architecture differs from the configured one.", path=resume / "state.json",
                             fix="delete the output directory to start afresh, or restore the architecture settings.")
        model.load_state_dict(load_file(str(resume / "model.safetensors")))
        _load_optimizer(opt, resume / "optimizer.safetensors")
        step, elapsed, history = state["step"], state["elapsed_s"], state["history"]
        log.info("resuming at step %d (%.0f s trained)", step, elapsed)
    log.info("model: %d parameters, blocks %s; corpus %d nt", model.n_params(), cfg.block_types,
             sum(len(c) for c in corpus.contigs))

    def checkpoint() -> None:
        with atomic_dir(resume) as tmp:
            save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"))
            _save_optimizer(opt, tmp / "optimizer.safetensors")
            (tmp / "state.json").write_text(json.dumps({
                "step": step, "elapsed_s": elapsed, "history": history, "architecture": cfg.to_dict(),
                "settings": asdict(settings)}))
        save_model_dir(model, out, {"training": _summary(settings, step, elapsed, history, sources, model)})

    t0 = time.time() - elapsed
    running = []
    model.train()
    while step < settings.steps:
        rows = corpus.batch(np.random.default_rng([settings.seed, step]), settings.batch_size, settings.rc_augment)
        ids = torch.from_numpy(rows.astype(np.int64))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, settings, elapsed)
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        running.append(loss.item())
        elapsed = time.time() - t0
        finished = step >= settings.steps or (settings.max_minutes > 0 and elapsed >= settings.max_minutes * 60)
        if step % settings.eval_every == 0 or finished:
            entry = {"step": step, "elapsed_s": round(elapsed, 1), "tokens": step * settings.batch_size * settings.seq_len,
                     "train_bits": round(float(np.mean(running)) / math.log(2), 4),
                     "heldout_bits": round(bits_per_nt(model, eval_rows), 4) if len(eval_rows) else None,
                     "lr": lr_at(step - 1, settings, elapsed)}
            history.append(entry)
            running = []
            log.info("step %d/%d  %s", step, settings.steps, json.dumps(entry))
        elif step % 50 == 0:
            log.info("step %d/%d  loss %.4f bits  %.0f tokens/s", step, settings.steps,
                     float(np.mean(running[-50:])) / math.log(2),
                     step * settings.batch_size * settings.seq_len / max(elapsed, 1e-9))
        if step % settings.checkpoint_every == 0 or finished:
            checkpoint()
        if finished:
            break
    summary = _summary(settings, step, elapsed, history, sources, model)
    write_text(out / "training.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(settings, step, elapsed, history, sources, model) -> dict[str, Any]:
    return {"steps_done": step, "steps": settings.steps, "elapsed_s": round(elapsed, 1),
            "tokens_seen": step * settings.batch_size * settings.seq_len, "n_params": model.n_params(),
            "sources": sources, "history": history,
            "settings": {k: v for k, v in asdict(settings).items() if k != "architecture"}}
