"""Training checkpoints: the model directory, the `.resume/` state, and where a run starts from.

Why two places: `<out>/` holds what `load_model` reads (model.safetensors + config.json, the training
summary inside config.json, rewritten with every checkpoint); `<out>/.resume/` adds the AdamW moments
and the step counter, replaced atomically, so an interrupted run continues exactly. A run may also
start from another model directory (`--resume-from`): from its `.resume/` when present (exact), else
from its weights and training summary alone (the AdamW moments restart; see `lr_at`'s re-warm-up).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnalens.atomic import atomic_dir, atomic_path, write_text
from dnalens.errors import InputError


@dataclass
class StartPoint:
    """Where training resumes: weights, optional optimizer moments, and the progress so far."""

    weights: Path
    optimizer: Path | None
    step: int
    elapsed_s: float
    history: list[dict[str, Any]]
    architecture: dict[str, Any]
    source: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    rewarm_from: int | None = None


def save_optimizer(opt, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {}
    for i, st in opt.state_dict()["state"].items():
        for key, value in st.items():
            value = value.detach().cpu()
            tensors[f"{i}.{key}"] = value.reshape(-1).clone() if value.ndim == 0 else value.contiguous()
    save_file(tensors, str(path))


def load_optimizer(opt, path: Path) -> None:
    """Moments are loaded on the CPU; `load_state_dict` moves them to each parameter's device."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        i, key = name.split(".", 1)
        state.setdefault(int(i), {})[key] = value.reshape(()) if key == "step" else value
    sd = opt.state_dict()
    sd["state"] = state
    opt.load_state_dict(sd)


def cpu_state(model) -> dict[str, Any]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_model_dir(model, out: Path, extra_config: dict[str, Any] | None = None) -> None:
    """model.safetensors + config.json: the directory `load_model` accepts."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(cpu_state(model), str(tmp))
    cfg = {"family": "tiny", **model.config.to_dict(), **(extra_config or {})}
    write_text(out / "config.json", json.dumps(cfg, indent=2) + "\n")


def save_resume(resume: Path, model, opt, state: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    with atomic_dir(resume) as tmp:
        save_file(cpu_state(model), str(tmp / "model.safetensors"))
        save_optimizer(opt, tmp / "optimizer.safetensors")
        (tmp / "state.json").write_text(json.dumps(state))


def _from_resume_dir(resume: Path, source: str) -> StartPoint:
    state = json.loads((resume / "state.json").read_text())
    return StartPoint(
        resume / "model.safetensors",
        resume / "optimizer.safetensors",
        int(state["step"]),
        float(state["elapsed_s"]),
        list(state["history"]),
        state["architecture"],
        source,
        list(state.get("runs", [])),
        state.get("rewarm_from"),
    )


def _from_model_dir(directory: Path) -> StartPoint:
    """Weights + the training summary kept in config.json (written with the weights at every checkpoint)."""
    from dnalens.models.tiny import TinyConfig

    cfg_file, weights = directory / "config.json", directory / "model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise InputError(
            "cannot resume: the directory needs model.safetensors and config.json.",
            path=directory,
            fix="give a directory written by `dnalens train-model`.",
        )
    cfg = json.loads(cfg_file.read_text())
    summary = cfg.get("training") or {}
    if not summary and (directory / "training.json").exists():
        summary = json.loads((directory / "training.json").read_text())
    if "steps_done" not in summary:
        raise InputError(
            "cannot resume: no training summary (steps_done) in config.json or training.json.",
            path=directory,
            fix="resume from a directory written by `dnalens train-model`.",
        )
    return StartPoint(
        weights,
        None,
        int(summary["steps_done"]),
        float(summary.get("elapsed_s", 0.0)),
        list(summary.get("history", [])),
        TinyConfig.from_dict(cfg).to_dict(),
        str(directory),
        list(summary.get("runs", [])),
        summary.get("rewarm_from"),
    )


def start_point(out: Path, resume_from: str | Path | None) -> StartPoint | None:
    """`out`'s own checkpoint first (each run continues the last), then `resume_from`, else None (fresh)."""
    if (out / ".resume" / "state.json").exists():
        return _from_resume_dir(out / ".resume", str(out))
    if resume_from is None:
        return None
    src = Path(resume_from)
    if src.resolve() == out.resolve():
        raise InputError(
            "--resume-from and --out are the same directory.",
            path=src,
            fix="write the continued model to a new --out directory; the source stays as it is.",
        )
    if (src / ".resume" / "state.json").exists():
        return _from_resume_dir(src / ".resume", str(src))
    return _from_model_dir(src)


def saved_settings(directory: str | Path) -> dict[str, Any]:
    """The training settings a model directory was trained with (architecture from its config.json)."""
    from dnalens.models.base import read_model_config
    from dnalens.models.tiny import TinyConfig
    from dnalens.settings import schema_defaults

    directory = Path(directory)
    cfg = read_model_config(directory)
    summary = cfg.get("training") or {}
    if not summary.get("settings") and (directory / "training.json").exists():
        summary = json.loads((directory / "training.json").read_text())
    data = dict(summary.get("settings") or {})
    # the config's keys only (training.architecture); vocab_size / architecture name / extra are not settings
    keys = schema_defaults("training", nested="architecture")
    data["architecture"] = {k: v for k, v in TinyConfig.from_dict(cfg).to_dict().items() if k in keys}
    return data
