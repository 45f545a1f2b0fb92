"""Train the tiny Evo 2-style model on genomes: seeded, reverse-complement augmented, resumable.

Why this shape: batch `s` is drawn from a generator seeded with (seed, s) and the learning rate is a
function of the step alone, so a resumed run draws the same batches at the same rates as an
uninterrupted one without storing RNG state. A checkpoint is one atomically replaced directory
(`.resume/`: weights, AdamW moments, state.json; see checkpoint.py), so a kill at any moment leaves
the previous checkpoint intact. Runs on CUDA when visible (bfloat16 autocast), else on the CPU.
The last `holdout_fraction` of every contig is never trained on and gives the held-out bits/nucleotide.
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

from dnalens.atomic import write_text
from dnalens.errors import InputError
from dnalens.models.checkpoint import load_optimizer, save_model_dir, save_resume, start_point
from dnalens.settings import schema_defaults

log = logging.getLogger(__name__)

_COMP = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan"):
    _COMP[_a] = _b


_DEFAULTS = schema_defaults("training")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class TrainSettings:
    """The config's `training:` block (see the schema for every key's meaning and default)."""

    genomes: tuple[str, ...] = _DEFAULTS["genomes"]
    steps: int = _DEFAULTS["steps"]
    batch_size: int = _DEFAULTS["batch_size"]
    seq_len: int = _DEFAULTS["seq_len"]
    lr: float = _DEFAULTS["lr"]
    min_lr_ratio: float = _DEFAULTS["min_lr_ratio"]
    warmup_steps: int = _DEFAULTS["warmup_steps"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    seed: int = _DEFAULTS["seed"]
    holdout_fraction: float = _DEFAULTS["holdout_fraction"]
    rc_augment: bool = _DEFAULTS["rc_augment"]
    checkpoint_every: int = _DEFAULTS["checkpoint_every"]
    eval_every: int = _DEFAULTS["eval_every"]
    eval_windows: int = _DEFAULTS["eval_windows"]
    threads: int = _DEFAULTS["threads"]
    max_minutes: float = _DEFAULTS["max_minutes"]
    device: str = _DEFAULTS["device"]
    dtype: str = _DEFAULTS["dtype"]
    architecture: dict[str, Any] = field(default_factory=lambda: dict(_DEFAULTS["architecture"]))


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


def lr_at(step: int, s: TrainSettings, rewarm_from: int | None = None) -> float:
    """Linear warm-up, then cosine decay to `min_lr_ratio` x `lr`, by step only.

    Why by step: the rate is a function of the step counter alone, so a run split over several
    sessions (`max_minutes` each, any device) follows the same schedule as one uninterrupted run.
    `rewarm_from`: the step where a run restarted without the AdamW moments; the rate is ramped up
    again over `warmup_steps` from there, because fresh moments make the first updates sign-sized.
    """
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    progress = min(1.0, max(0.0, (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)))
    lr = s.lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    if rewarm_from is not None and s.warmup_steps > 0 and 0 <= step - rewarm_from < s.warmup_steps:
        lr *= (step - rewarm_from + 1) / s.warmup_steps
    return lr


def training_device(device: str, dtype: str):
    """(torch device, autocast dtype or None), resolved as for extraction (`model.device`/`model.dtype`).

    auto: CUDA when visible with bfloat16 autocast (weights and AdamW moments stay float32), else the
    CPU in float32. float16 is refused: it would need loss scaling.
    """
    import torch

    from dnalens.models.base import device_and_dtype

    if dtype not in ("auto", "float32", "bfloat16"):
        raise InputError(f"training.dtype must be auto, float32 or bfloat16, not {dtype!r}.")
    dev, dt = device_and_dtype(device, dtype, what="training")
    return dev, (None if dt == torch.float32 else dt)


def _autocast(dev, amp):
    import contextlib

    import torch

    return torch.autocast(device_type=dev.type, dtype=amp) if amp is not None else contextlib.nullcontext()


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


def bits_per_nt(model, rows: np.ndarray, batch_size: int = 8, amp=None) -> float:
    """Mean next-token cross-entropy in bits over `rows` [N, T+1] (uint8 bytes), on the model's device."""
    import torch
    import torch.nn.functional as F

    dev = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            ids = torch.from_numpy(rows[i : i + batch_size].astype(np.int64)).to(dev)
            with _autocast(dev, amp):
                logits = model(ids[:, :-1])
            flat = logits.float().reshape(-1, logits.shape[-1])
            loss = F.cross_entropy(flat, ids[:, 1:].reshape(-1), reduction="sum")
            total += float(loss)
            count += ids[:, 1:].numel()
    model.train()
    return total / max(count, 1) / math.log(2)


def _load_data(settings: TrainSettings):
    """(training corpus, held-out eval rows, per-contig source records)."""
    if not settings.genomes:
        raise InputError("no training genomes given.", fix="set `training.genomes` to FASTA/GenBank paths.")
    train_contigs, held, sources = [], [], []
    for g in settings.genomes:
        for name, seq in read_fasta_bytes(g):
            a, b = split_holdout(seq, settings.holdout_fraction)
            train_contigs.append(a)
            held.append(b)
            sources.append({"file": str(g), "contig": name, "length": int(len(seq)), "heldout_nt": int(len(b))})
    corpus = Corpus(train_contigs, settings.seq_len)
    return corpus, heldout_windows(held, settings.seq_len, settings.eval_windows), sources


def _build(settings: TrainSettings):
    import torch

    from dnalens.models.tiny import TinyConfig, TinyEvo

    torch.manual_seed(settings.seed)
    cfg = TinyConfig.from_dict(settings.architecture)
    model = TinyEvo(cfg)
    return model, cfg


def _optimizer(model, settings: TrainSettings):
    import torch

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
        betas=(0.9, 0.95),
    )


def train(
    settings: TrainSettings, out: str | Path, resume_from: str | Path | None = None, until_step: int | None = None
) -> dict[str, Any]:
    """Train (or resume) into `out`; returns the final training summary (also written to training.json).

    Starts from `out/.resume/` when present, else from `resume_from` (another model directory), else
    fresh. Stops at `settings.steps`, at `until_step`, or after `max_minutes` of this run, whichever
    comes first; the next run continues the step counter, data order and learning-rate schedule.
    """
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file

    torch.set_num_threads(max(1, settings.threads))
    out = Path(out)
    dev, amp = training_device(settings.device, settings.dtype)
    corpus, eval_rows, sources = _load_data(settings)
    model, cfg = _build(settings)
    start = start_point(out, resume_from)
    step, elapsed, history, runs, rewarm_from = 0, 0.0, [], [], None
    optimizer_state = "new"
    if start is not None:
        if start.architecture != cfg.to_dict():
            raise InputError(
                "checkpoint architecture differs from the configured one.",
                path=start.source,
                fix="start afresh in a new output directory, or restore the architecture settings.",
            )
        model.load_state_dict(load_file(str(start.weights)))
        step, elapsed, history = start.step, start.elapsed_s, start.history
        runs, rewarm_from = start.runs, start.rewarm_from
    model.to(dev)
    opt = _optimizer(model, settings)
    if start is not None and start.optimizer is not None:
        load_optimizer(opt, start.optimizer)
        optimizer_state = "restored"
    elif start is not None:
        optimizer_state = "fresh"
        rewarm_from = step
        log.warning(
            "resuming from %s at step %d without AdamW moments (none saved there): they restart, and the "
            "learning rate is ramped up again over %d steps",
            start.source,
            step,
            settings.warmup_steps,
        )
    if start is not None:
        log.info(
            "resuming at step %d of %d from %s (%.0f s trained before)", step, settings.steps, start.source, elapsed
        )
    amp_name = None if amp is None else str(amp).removeprefix("torch.")
    runs = runs + [
        {
            "from_step": step,
            "to_step": step,
            "device": str(dev),
            "autocast": amp_name,
            "optimizer_state": optimizer_state,
            "source": start.source if start else None,
        }
    ]
    log.info(
        "model: %d parameters, blocks %s; corpus %d nt; device %s, autocast %s",
        model.n_params(),
        cfg.block_types,
        sum(len(c) for c in corpus.contigs),
        dev,
        amp,
    )
    stop_at = min(settings.steps, until_step) if until_step is not None else settings.steps

    def state() -> dict[str, Any]:
        runs[-1]["to_step"] = step
        return {
            "step": step,
            "elapsed_s": elapsed,
            "history": history,
            "architecture": cfg.to_dict(),
            "runs": runs,
            "rewarm_from": rewarm_from,
            "settings": asdict(settings),
        }

    def checkpoint() -> None:
        save_resume(out / ".resume", model, opt, state())
        save_model_dir(model, out, {"training": _summary(settings, state(), sources, model)})

    before, run_t0 = elapsed, time.time()
    running = []
    model.train()
    while step < stop_at:
        rows = corpus.batch(np.random.default_rng([settings.seed, step]), settings.batch_size, settings.rc_augment)
        ids = torch.from_numpy(rows.astype(np.int64)).to(dev)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, settings, rewarm_from)
        with _autocast(dev, amp):
            logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        running.append(loss.item())
        run_s = time.time() - run_t0
        elapsed = before + run_s
        finished = step >= stop_at or (settings.max_minutes > 0 and run_s >= settings.max_minutes * 60)
        if step % settings.eval_every == 0 or finished:
            entry = {
                "step": step,
                "elapsed_s": round(elapsed, 1),
                "tokens": step * settings.batch_size * settings.seq_len,
                "train_bits": round(float(np.mean(running)) / math.log(2), 4),
                "heldout_bits": round(bits_per_nt(model, eval_rows, amp=amp), 4) if len(eval_rows) else None,
                "lr": lr_at(step - 1, settings, rewarm_from),
            }
            history.append(entry)
            running = []
            log.info("step %d/%d  %s", step, settings.steps, json.dumps(entry))
        elif step % 50 == 0:
            log.info(
                "step %d/%d  loss %.4f bits  %.2f s/step",
                step,
                settings.steps,
                float(np.mean(running[-50:])) / math.log(2),
                run_s / max(1, step - runs[-1]["from_step"]),
            )
        if step % settings.checkpoint_every == 0 or finished:
            checkpoint()
        if finished:
            break
    if not (out / "model.safetensors").exists():  # nothing left to train: still leave a loadable directory
        checkpoint()
    summary = _summary(settings, state(), sources, model)
    write_text(out / "training.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _summary(settings: TrainSettings, st: dict[str, Any], sources, model) -> dict[str, Any]:
    step = st["step"]
    return {
        "steps_done": step,
        "steps": settings.steps,
        "elapsed_s": round(st["elapsed_s"], 1),
        "tokens_seen": step * settings.batch_size * settings.seq_len,
        "n_params": model.n_params(),
        "schedule": "steps",
        "rewarm_from": st["rewarm_from"],
        "runs": st["runs"],
        "sources": sources,
        "history": st["history"],
        "settings": {k: v for k, v in asdict(settings).items() if k != "architecture"},
    }
