"""The config's `steer:` section as a frozen dataclass (defaults from workflow/schemas/config.schema.yaml), plus
the checks the schema cannot express: each names the setting to change."""

from __future__ import annotations

from dataclasses import dataclass

from dnalens.errors import InputError
from dnalens.settings import schema_defaults

_DEFAULTS = schema_defaults("steer")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class SteerSettings:
    """The config's `steer:` block (see the schema for every key)."""

    enabled: bool = _DEFAULTS["enabled"]
    latents: tuple[int, ...] = _DEFAULTS["latents"]
    strongest: int = _DEFAULTS["strongest"]
    strengths: tuple[float, ...] = _DEFAULTS["strengths"]
    mode: str = _DEFAULTS["mode"]
    n_sequences: int = _DEFAULTS["n_sequences"]
    length: int = _DEFAULTS["length"]
    prompt_length: int = _DEFAULTS["prompt_length"]
    temperature: float = _DEFAULTS["temperature"]
    seed: int = _DEFAULTS["seed"]


def check_settings(settings: SteerSettings, *, n_features: int, trim_start: int, window_length: int) -> None:
    """The bad-input rules that need the dictionary, the model's trim or the windows: one InputError each."""
    if not settings.strengths:
        raise InputError(
            "steer.strengths is empty: there is nothing to steer with.",
            fix="give a schedule such as [-8, -4, 0, 4, 8] (multiples of the latent's mean activation).",
        )
    bad = [int(j) for j in settings.latents if not 0 <= int(j) < n_features]
    if bad:
        raise InputError(
            f"steer.latents names {', '.join(map(str, bad))}, outside this dictionary's {n_features} latents.",
            fix=f"use latent ids 0..{n_features - 1} (features.tsv `latent`), or leave steer.latents empty.",
        )
    if settings.prompt_length < trim_start:
        raise InputError(
            f"steer.prompt_length {settings.prompt_length} is shorter than the model's trim ({trim_start}): the "
            "first positions of a read carry outsized activations and would steer and read out from them.",
            fix=f"set steer.prompt_length to at least {trim_start} (model.trim).",
        )
    if settings.prompt_length > window_length:
        raise InputError(
            f"steer.prompt_length {settings.prompt_length} is longer than the windows ({window_length} nt) the "
            "prompts are cut from.",
            fix=f"set steer.prompt_length to at most {window_length} (windows.length).",
        )
