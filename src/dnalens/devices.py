"""One meaning of a `device` setting for every stage (model, training, sae, probing).

`auto` = the first CUDA device when torch sees one, else the CPU; `cpu`; `cuda` or `cuda:N`, refused with a
fix when no such CUDA device is visible (instead of a torch traceback mid-run). torch is imported lazily,
so the workflow's rule files and the CLI's argument parsing never load it.
"""

from __future__ import annotations

import re

from dnalens.errors import InputError

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def resolve_device(spec: str | None, *, what: str = "device") -> str:
    """A torch device string ("cpu", "cuda", "cuda:N") for the setting `spec`; `what` names the key in errors."""
    import torch

    name = "auto" if spec is None else str(spec).strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    match = _CUDA.match(name)
    if match is None:
        raise InputError(f"{what} is {spec!r}.", fix="use auto, cpu, cuda or cuda:N.")
    if not torch.cuda.is_available():
        raise InputError(f"{what} is {spec!r} but no CUDA device is visible.", fix="use auto or cpu.")
    index = match.group(1)
    if index is not None and int(index) >= torch.cuda.device_count():
        raise InputError(
            f"{what} is {spec!r} but only {torch.cuda.device_count()} CUDA device(s) are visible.",
            fix=f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}, or auto.",
        )
    return name
