"""What the report says about the SAE itself, read from the dictionary's own files.

Why: the header used to print sae_quality.json's `architecture` and `d_sae`, which are SAELens' inference
form ("jumprelu": a BatchTopK SAE is saved with a per-latent threshold) and the width of the strand-shared
codes ([own strand | opposite strand], twice the latents). The dictionary's cfg.json records what was
trained (`metadata.dnalens.type`, `settings`), so the header reads it there.

Also here: each latent's best match in the replicate dictionary (the same rows, seed + 1, saved beside the
shared one as `<name>-replicate`), by decoder cosine, the measure sae_quality.json's seed agreement uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dnalens.errors import InputError

REPLICATE_SUFFIX = "-replicate"  # train_dictionary_replicate writes results/dictionaries/<name>-replicate
REPLICATE_COLUMNS = ("latent", "replicate_latent", "replicate_cosine")
ARCHITECTURE_NAMES = {
    "batchtopk": "BatchTopK",
    "topk": "TopK",
    "jumprelu": "JumpReLU",
    "standard": "ReLU (L1)",
    "matryoshka": "Matryoshka BatchTopK",
}


def read_sae_config(sae_dir: str | Path | None) -> dict[str, Any]:
    """The dictionary's cfg.json (SAELens layout), {} when there is no such directory or file."""
    if not sae_dir:
        return {}
    path = Path(str(sae_dir)) / "cfg.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg}).", path=path, line=err.lineno) from None


def trained_architecture(cfg: Mapping[str, Any]) -> str:
    """What was trained (dnalens metadata), else what SAELens would load (the top-level `architecture`)."""
    meta = (cfg.get("metadata") or {}).get("dnalens") or {}
    arch = meta.get("type") or (meta.get("settings") or {}).get("architecture") or cfg.get("architecture") or "?"
    return str(arch)


def sae_description(cfg: Mapping[str, Any]) -> str:
    """Header text from cfg.json, e.g. "BatchTopK, 512 latents on a 128-d strand state, k = 8, 3-mer decoder-bias
    lookup, one dictionary read on both strands (1,024 code columns)"; "" when cfg is empty."""
    if not cfg:
        return ""
    meta = (cfg.get("metadata") or {}).get("dnalens") or {}
    settings = meta.get("settings") or {}
    arch = trained_architecture(cfg)
    d_sae, d_in = cfg.get("d_sae"), cfg.get("d_in")
    shared = bool(meta.get("strand_shared", settings.get("strand_shared")))
    unit = "strand state" if shared else "position"
    parts = [ARCHITECTURE_NAMES.get(arch, arch)]
    if isinstance(d_sae, int):
        parts.append(f"{d_sae:,} latents" + (f" on a {d_in}-d {unit}" if isinstance(d_in, int) else ""))
    k = cfg.get("k", settings.get("k"))
    if arch in ("batchtopk", "topk", "matryoshka") and k:
        parts.append(f"k = {int(k)} " + (f"per {unit}" if arch == "topk" else f"on average per {unit}"))
    lookup = settings.get("base_lookup")
    if lookup:
        parts.append(f"{int(lookup)}-mer decoder-bias lookup")
    if shared and isinstance(d_sae, int):
        parts.append(f"one dictionary read on both strands ({2 * d_sae:,} code columns: own | opposite strand)")
    if arch != cfg.get("architecture") and cfg.get("architecture"):
        parts.append(f"saved for SAELens as {cfg['architecture']}")
    return ", ".join(parts)


def replicate_dir(sae_dir: str | Path | None) -> Path | None:
    """The replicate beside a shared dictionary (`<dir>-replicate`), None when it was not trained."""
    if not sae_dir:
        return None
    path = Path(str(sae_dir).rstrip("/") + REPLICATE_SUFFIX)
    return path if (path / "sae_weights.safetensors").is_file() else None


def read_decoder(sae_dir: str | Path) -> np.ndarray:
    """W_dec [d_sae, d_in] as float32 (rows compared by direction only)."""
    from safetensors.numpy import load_file

    path = Path(sae_dir) / "sae_weights.safetensors"
    try:
        weights = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for missing or corrupt files
        raise InputError(f"cannot read the SAE's weights ({err}).", path=path) from None
    if "W_dec" not in weights:
        raise InputError("no W_dec tensor in the SAE's weights.", path=path, fix="retrain the dictionary.")
    return weights["W_dec"].astype(np.float32)


def replicate_matches(w_dec: np.ndarray, w_replicate: np.ndarray, chunk: int = 4096) -> pd.DataFrame:
    """Per latent (decoder row of `w_dec`): the replicate's closest latent and their cosine (REPLICATE_COLUMNS)."""
    if w_dec.shape[1] != w_replicate.shape[1]:
        raise ValueError(f"decoders differ in width: {w_dec.shape[1]} vs {w_replicate.shape[1]}")

    def unit(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        return w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)

    a, b = unit(w_dec), unit(w_replicate)
    best, cos = np.zeros(len(a), np.int64), np.zeros(len(a))
    for i in range(0, len(a), chunk):
        sims = a[i : i + chunk] @ b.T
        best[i : i + chunk] = sims.argmax(axis=1)
        cos[i : i + chunk] = sims[np.arange(len(sims)), best[i : i + chunk]]
    return pd.DataFrame({"latent": np.arange(len(a)), "replicate_latent": best, "replicate_cosine": cos})


def read_replicate_matches(sae_dir: str | Path | None) -> pd.DataFrame | None:
    """`replicate_matches` of the dictionary at `sae_dir` and its replicate; None when there is no replicate."""
    other = replicate_dir(sae_dir)
    if other is None:
        return None
    return replicate_matches(read_decoder(Path(str(sae_dir))), read_decoder(other))
