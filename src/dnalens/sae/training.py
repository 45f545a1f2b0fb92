"""Train a TopK / BatchTopK / Matryoshka BatchTopK SAE on an iterator of activation batches; knows no model.

The caller hands over `Iterable[Tensor [n, d_in]]` (deterministic for a given seed; `(Tensor, bases)`
pairs for an SAE with a per-w-mer decoder bias); the trainer
initialises b_dec from the first batch (geometric median or mean), trains with Adam on the MSE plus
the AuxK loss against dead latents (the reconstruction term is the SAE type's `training_loss`) (Gao et al. 2024), keeps decoder rows unit-norm, checkpoints every
`checkpoint_every` steps and resumes from the last checkpoint by skipping the batches already used,
so an interrupted run ends with the same weights as an uninterrupted one. SIGTERM writes a checkpoint of
the last finished step and stops (dnalens.preemption); a step that runs out of GPU memory is split into
micro-batches with the same loss (train_step.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import torch

from dnalens import preemption
from dnalens.errors import InputError
from dnalens.oom import HalvingBatch, oom_error
from dnalens.sae.base import SparseAutoencoder
from dnalens.sae.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dnalens.sae.registry import SAE_TYPES
from dnalens.sae.settings import SaeSettings, resolve_device
from dnalens.sae.strand_shared import StrandSharedSAE, strand_states
from dnalens.sae.train_step import step_gradients

log = logging.getLogger(__name__)

# Settings that define the run; a checkpoint made with other values is refused (checkpoint.py).
_IDENTITY_KEYS = (
    "architecture",
    "expansion",
    "k",
    "lr",
    "tokens",
    "batch_size",
    "seed",
    "aux_k",
    "aux_k_coef",
    "dead_after_tokens",
    "normalize",
    "init_b_dec",
    "holdout_fraction",
    "holdout_blocks",
    "matryoshka_widths",
    "base_lookup",
    "strand_shared",
)


@dataclass
class TrainResult:
    sae: SparseAutoencoder
    steps: int
    scale: float
    start_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    #: the seeded decoder before training [d_sae, d_in] (per-strand SAE's), to measure how far training moved it
    init_W_dec: torch.Tensor | None = None


def geometric_median(points: torch.Tensor, iterations: int = 50, eps: float = 1e-8) -> torch.Tensor:
    """Weiszfeld's algorithm: the point minimising the summed Euclidean distance to `points` [n, d]."""
    points = points.to(torch.float64)
    median = points.mean(dim=0)
    for _ in range(iterations):
        weights = 1.0 / (points - median).norm(dim=1).clamp_min(eps)
        new = (weights[:, None] * points).sum(dim=0) / weights.sum()
        if (new - median).norm() <= 1e-7 * (1.0 + median.norm()):
            median = new
            break
        median = new
    return median


def build_sae(settings: SaeSettings, d_in: int, generator: torch.Generator | None = None) -> SparseAutoencoder:
    cls = SAE_TYPES[settings.architecture]
    sae = cls(d_in, settings.expansion * d_in, k=settings.k, initialize=False, **cls.settings_kwargs(settings))
    sae.reset_parameters(generator)
    if settings.base_lookup:
        sae.enable_base_lookup(settings.base_lookup)
    return sae


def _split(batch, needs_bases: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A batch is a Tensor [n, d_in], or (Tensor, lookup codes [n]) from a lookup SAE's data source."""
    x, bases = batch if isinstance(batch, tuple) else (batch, None)
    if needs_bases and bases is None:
        raise InputError(
            "sae.base_lookup is set but the activation batches carry no bases.",
            fix="give training_batches the row bases (dnalens train-sae --fasta).",
        )
    return x, bases


def _learning_rate(settings: SaeSettings, step: int, total: int) -> float:
    """Constant, then linear decay to zero over the last 20 % of steps."""
    decay_from = int(0.8 * total)
    if step < decay_from:
        return settings.lr
    return settings.lr * max(total - step, 0) / max(total - decay_from, 1)


def _identity(settings: SaeSettings, d_in: int) -> dict:
    values = dataclasses.asdict(settings)
    # as the checkpoint's JSON reads it back (tuples become lists), so equal settings compare equal
    return json.loads(json.dumps({"d_in": d_in, **{k: values[k] for k in _IDENTITY_KEYS}}))


def train_sae(
    batches: Iterable[torch.Tensor],
    d_in: int,
    settings: SaeSettings,
    *,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Train for `settings.steps` steps (`stop_after` ends early, for tests of resume). With
    `settings.strand_shared` the batches are concat rows of width `d_in` and the result a StrandSharedSAE."""
    if settings.shares_strands:
        if d_in % 2:
            raise InputError(
                f"sae.strand_shared needs rc_pool=concat activations (even width), found width {d_in}.",
                fix="set model.rc_pool: concat, or sae.strand_shared: false.",
            )
        context = int(settings.base_lookup)
        batches = (strand_states(batch, context) for batch in batches)
        d_in //= 2
    device = torch.device(resolve_device(settings.device))
    total = settings.steps
    generator = torch.Generator().manual_seed(int(settings.seed))
    sae = build_sae(settings, d_in, generator).to(device)
    init_W_dec = sae.W_dec.detach().to("cpu", torch.float32).clone()
    optimizer = torch.optim.Adam(sae.parameters(), lr=settings.lr, betas=(0.9, 0.999))
    identity = _identity(settings, d_in)
    tokens_since_fired = torch.zeros(sae.d_sae, dtype=torch.long, device=device)
    k_aux = int(settings.aux_k or max(d_in // 2, 1))
    batch_iter: Iterator[torch.Tensor] = iter(batches)

    ckpt = load_checkpoint(checkpoint_dir, identity) if checkpoint_dir else None
    if ckpt is not None:
        sae.load_state_dict({k: v.to(device) for k, v in ckpt.model.items()})
        optimizer.load_state_dict(ckpt.optimizer)
        tokens_since_fired = ckpt.tokens_since_fired.to(device)
        scale, start = ckpt.scale, ckpt.step
        for _ in range(start):  # the data stream is deterministic: skip what was already trained on
            if next(batch_iter, None) is None:
                raise InputError("the activation stream ended before the checkpointed step.", path=checkpoint_dir)
        log.info("resumed from %s at step %d of %d", checkpoint_dir, start, total)
        first = None
    else:
        first = next(batch_iter, None)
        if first is None:
            raise InputError("no activations to train the SAE on (empty input).")
        x0, bases0 = _split(first, sae.needs_bases)
        if x0.shape[-1] != d_in:
            raise InputError(f"activations have width {x0.shape[-1]}, expected d_in={d_in}.")
        scale, start = _initialise(sae, x0.to(device, torch.float32), settings, bases0)

    history: list[dict[str, float]] = []
    end = total if stop_after is None else min(total, stop_after)
    bar = _progress(total, start, enabled=progress)
    sae.train()
    micro = HalvingBatch(settings.batch_size, what="SAE training step (rows per micro-batch)")

    def checkpoint(step: int) -> None:
        save_checkpoint(
            checkpoint_dir,
            Checkpoint(
                step=step,
                scale=scale,
                identity=identity,
                model=sae.state_dict(),
                optimizer=optimizer.state_dict(),
                tokens_since_fired=tokens_since_fired,
            ),
        )

    with preemption.at_safe_points(), bar:
        for step in range(start, end):
            if preemption.requested() and checkpoint_dir:  # SIGTERM: keep every finished step, then stop
                checkpoint(step)
            preemption.progress(f"after step {step} of {total} (checkpoint {checkpoint_dir})" if checkpoint_dir else "")
            preemption.check()
            batch = first if first is not None else next(batch_iter, None)
            first = None
            if batch is None:
                raise InputError(
                    f"the activation stream ended after {step} of {total} steps.",
                    fix="lower sae.tokens or let the batch source repeat epochs.",
                )
            x, bases = _split(batch, sae.needs_bases)
            x = x.to(device, torch.float32) * scale
            bases = None if bases is None else bases.to(device)
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(settings, step, total)
            step_result = micro.run(
                lambda rows: step_gradients(
                    sae,
                    x,
                    bases,
                    tokens_since_fired,
                    dead_after=settings.dead_after_tokens,
                    aux_k_coef=settings.aux_k_coef,
                    k_aux=k_aux,
                    rows=rows,
                ),
                lambda rows, exc: oom_error(
                    f"a micro-batch of {rows} row(s) of {x.shape[1]:,} x {sae.d_sae:,} latents",
                    exc,
                    halved_from=micro.initial,
                    fix="use a GPU with more memory, a smaller sae.expansion, or sae.device: cpu.",
                ),
            )
            tokens_since_fired, dead, mse, aux = (
                step_result.since_fired,
                step_result.dead,
                step_result.mse,
                step_result.aux,
            )
            sae.remove_parallel_decoder_grad_()
            optimizer.step()
            sae.normalize_decoder_()
            sae.after_step(step_result.smallest_code)
            if step % 50 == 0 or step == end - 1:
                with torch.no_grad():
                    fvu = float(mse / (x - x.mean(0)).pow(2).sum(-1).mean().clamp_min(1e-12))
                row = {
                    "step": step,
                    "mse": float(mse.detach()),
                    "fvu": fvu,
                    "aux": float(aux.detach()),
                    "dead_fraction": float(dead.float().mean()),
                    "l0": float(step_result.l0),
                }
                history.append(row)
                bar.set_postfix(fvu=f"{fvu:.3f}", dead=f"{row['dead_fraction']:.2f}", l0=f"{row['l0']:.1f}")
            bar.update(1)
            done = step + 1
            if checkpoint_dir and (done % settings.checkpoint_every == 0 or done == end):
                checkpoint(done)
    sae.eval()
    out = StrandSharedSAE(sae).eval() if settings.shares_strands else sae
    return TrainResult(sae=out, steps=end, scale=scale, start_step=start, history=history, init_W_dec=init_W_dec)


def finalize(result: TrainResult) -> SparseAutoencoder:
    """The trained SAE for raw activations: the input scale folded into the weights, on the CPU."""
    sae = result.sae.to("cpu").eval()
    if result.scale != 1.0:
        sae.fold_input_scale_(result.scale)
    sae.metadata.setdefault("dnalens", {})["input_scale_folded"] = result.scale
    for p in sae.parameters():
        p.requires_grad_(False)
    return sae


@torch.no_grad()
def _initialise(
    sae: SparseAutoencoder, sample: torch.Tensor, settings: SaeSettings, bases: torch.Tensor | None = None
) -> tuple[float, int]:
    """Input scale (so E||x|| = sqrt(d_in)), b_dec and (lookup SAEs) each base's mean offset from it,
    from the first batch."""
    scale = 1.0
    if settings.normalize == "expected_average_only_in":
        mean_norm = float(sample.norm(dim=-1).mean())
        if mean_norm <= 0.0 or not math.isfinite(mean_norm):
            raise InputError("the first activation batch is all zeros or not finite; cannot normalise.")
        scale = math.sqrt(sample.shape[-1]) / mean_norm
    sample = sample * scale
    if settings.init_b_dec == "geometric_median":
        sae.b_dec.copy_(geometric_median(sample[:8192]).to(sae.b_dec.dtype))
    elif settings.init_b_dec == "mean":
        sae.b_dec.copy_(sample.mean(dim=0))
    if sae.b_dec_lookup is not None and bases is not None:  # each code's mean offset from b_dec; 0 if unseen
        bases = bases.to(sample.device, torch.long)
        sums = torch.zeros_like(sae.b_dec_lookup).index_add_(0, bases, sample.to(sae.b_dec_lookup.dtype))
        counts = torch.bincount(bases, minlength=sae.b_dec_lookup.shape[0]).to(sums.dtype)[:, None]
        seen = counts > 0
        sae.b_dec_lookup.copy_(torch.where(seen, sums / counts.clamp_min(1) - sae.b_dec, torch.zeros_like(sums)))
    return scale, 0


def _progress(total: int, start: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=start, desc="train-sae", unit="step", file=sys.stderr, disable=not enabled, mininterval=2.0
    )
