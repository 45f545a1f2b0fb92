"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint directory holds `model.safetensors` (the SAE's tensors), `optimizer.safetensors` (Adam's
moments, flattened as `<param index>.<name>`), `trainer.safetensors` (the dead-latent counters) and
`state.json` (step, input scale, the settings that must not change on resume, Adam's param groups).
It is replaced as a whole (atomic_dir), so a kill mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError


@dataclass
class Checkpoint:
    step: int
    scale: float
    identity: dict[str, Any]
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    tokens_since_fired: torch.Tensor


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, slots in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    from safetensors.torch import save_file

    opt_tensors, opt_rest = _flatten_optimizer(ckpt.optimizer)
    with atomic_dir(path) as tmp:
        save_file({k: v.detach().to("cpu").contiguous() for k, v in ckpt.model.items()}, str(tmp / "model.safetensors"))
        save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
        save_file(
            {"tokens_since_fired": ckpt.tokens_since_fired.to("cpu").contiguous()}, str(tmp / "trainer.safetensors")
        )
        (tmp / "state.json").write_text(
            json.dumps(
                {
                    "step": ckpt.step,
                    "scale": ckpt.scale,
                    "identity": ckpt.identity,
                    "optimizer": opt_rest,
                },
                indent=1,
            )
        )


def load_checkpoint(path: str | Path, identity: dict[str, Any]) -> Checkpoint | None:
    """The checkpoint at `path`, or None if there is none; refuses one made with other settings."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / "state.json").is_file():
        return None
    state = json.loads((path / "state.json").read_text())
    saved = state["identity"]
    changed = sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))
    if changed:
        raise InputError(
            f"the training checkpoint was made with different settings ({', '.join(changed)}).",
            path=path,
            fix="delete the checkpoint directory to start over, or restore the old settings.",
        )
    return Checkpoint(
        step=int(state["step"]),
        scale=float(state["scale"]),
        identity=saved,
        model=load_file(str(path / "model.safetensors")),
        optimizer=_unflatten_optimizer(load_file(str(path / "optimizer.safetensors")), state["optimizer"]),
        tokens_since_fired=load_file(str(path / "trainer.safetensors"))["tokens_since_fired"],
    )
