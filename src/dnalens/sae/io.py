"""Save and load SAEs: SAELens' on-disk layout, and Goodfire's Evo 2 state dict.

SAELens layout (a directory): `cfg.json` + `sae_weights.safetensors` with tensors named W_enc
[d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in] (+ `threshold` [d_sae] for jumprelu).
cfg.json keeps SAELens 6 fields (architecture, d_in, d_sae, dtype, device, apply_b_dec_to_input,
normalize_activations, reshape_activations, k, metadata{model_name, hook_name, ...}); dnalens' own
facts go under metadata.dnalens. Pre-6 configs (flat hook_name, `activation_fn_str: topk` with
`activation_fn_kwargs.k`) are read too.

Goodfire's Evo 2 SAE is a `.pt` state dict {W [d_in, d_sae], b_enc [d_sae], b_dec [d_in]} of a tied
BatchTopK SAE: encode = BatchTopK(ReLU(x @ W + b_enc)) over the whole input, decode = f @ W.T + b_dec.
k is not stored: it comes from the file name (`..._k_64.pt`) or from the caller.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from dnalens import __version__
from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.sae.base import NORMALIZATIONS, SparseAutoencoder
from dnalens.sae.batchtopk import BatchTopKSAE
from dnalens.sae.registry import NEEDS_K, SAE_TYPES
from dnalens.sae.strand_shared import StrandSharedSAE

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"
DICTIONARY_FILENAME = "dnalens_dictionary.safetensors"  # W_dec_init, W_dec_replicate (sae.dictionary)
# SAELens reads metadata.sae_lens_version to choose its config parser; this declares the 6.x layout.
SAELENS_LAYOUT_VERSION = "6.0.0"
GOODFIRE_KEYS = frozenset({"W", "b_enc", "b_dec"})
_K_IN_NAME = re.compile(r"(?:^|[-_.])k[-_]?(\d+)(?=$|[-_.])")
_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "torch.float32": torch.float32,
    "torch.float16": torch.float16,
    "torch.bfloat16": torch.bfloat16,
}


# ---- saving ----------------------------------------------------------------------------------------
def saelens_config(sae: SparseAutoencoder, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {"sae_lens_version": SAELENS_LAYOUT_VERSION, **sae.metadata, **(metadata or {})}
    meta.setdefault("dnalens", {})
    meta["dnalens"] = {**meta["dnalens"], "version": __version__, "type": sae.architecture}
    return {
        "architecture": sae.saelens_architecture(),
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "dtype": str(sae.W_enc.dtype).removeprefix("torch."),
        "device": "cpu",
        "apply_b_dec_to_input": sae.apply_b_dec_to_input,
        "normalize_activations": sae.normalize_activations,
        "reshape_activations": "none",
        **sae.config_fields(),
        "metadata": meta,
    }


def save_sae(
    sae: SparseAutoencoder | StrandSharedSAE,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    dictionary: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write `path/` (atomically, as a whole) in SAELens' layout; returns the directory. A strand-shared
    SAE is saved as its per-strand SAE, flagged `metadata.dnalens.strand_shared`. `dictionary` (the initial
    decoder, a replicate's decoder) goes to its own safetensors file, which SAELens never reads."""
    from safetensors.torch import save_file

    path = Path(path)
    if isinstance(sae, StrandSharedSAE):
        metadata = dict(metadata or {})
        metadata["dnalens"] = {**metadata.get("dnalens", {}), "strand_shared": True}
        sae = sae.strand_sae
    weights = {k: v.detach().to("cpu").contiguous() for k, v in sae.weights_for_saving().items()}
    with atomic_dir(path) as tmp:
        save_file(weights, str(tmp / WEIGHTS_FILENAME))
        if dictionary:
            save_file(
                {k: v.detach().to("cpu").contiguous() for k, v in dictionary.items()}, str(tmp / DICTIONARY_FILENAME)
            )
        (tmp / CFG_FILENAME).write_text(json.dumps(saelens_config(sae, metadata), indent=2) + "\n")
    return path


# ---- loading ---------------------------------------------------------------------------------------
def load_sae(
    path: str | Path, *, k: int | None = None, device: str | torch.device = "cpu"
) -> SparseAutoencoder | StrandSharedSAE:
    """An SAE from a SAELens-layout directory or a Goodfire-style `.pt` state dict, in eval mode.

    `k` is only used where the file does not say it (Goodfire's .pt without `k_<n>` in its name).
    """
    path = Path(path)
    if path.is_dir():
        sae = load_saelens_dir(path)
    elif path.is_file() and path.suffix in {".pt", ".pth"}:
        sae = load_goodfire(path, k=k)
    elif not path.exists():
        raise InputError(
            "SAE path not found.",
            path=path,
            fix="give a SAELens directory (cfg.json + sae_weights.safetensors) or a .pt state dict.",
        )
    else:
        raise InputError("not an SAE: expected a directory with cfg.json or a .pt/.pth state dict.", path=path)
    return sae.to(device).eval()


def _normalized_config(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """SAELens 6 and pre-6 cfg.json -> one flat dict with architecture, k, hook_name, metadata."""
    cfg = dict(raw)
    meta = dict(cfg.get("metadata") or cfg.get("meta") or {})
    for key in ("model_name", "hook_name", "hook_layer", "context_size", "dataset_path", "prepend_bos"):
        if key in cfg and key not in meta:
            meta[key] = cfg[key]
    if "hook_point" in cfg and "hook_name" not in meta:
        meta["hook_name"] = cfg["hook_point"]
    activation = cfg.get("activation_fn", cfg.get("activation_fn_str", "relu"))
    architecture = cfg.get("architecture", "standard")
    k = cfg.get("k")
    if activation == "topk" and architecture == "standard":
        architecture = "topk"
        k = (cfg.get("activation_fn_kwargs") or {}).get("k", k)
    normalize = cfg.get("normalize_activations") or "none"
    if isinstance(normalize, bool):
        normalize = "expected_average_only_in" if normalize else "none"
    if normalize not in NORMALIZATIONS:
        raise InputError(
            f"unknown normalize_activations {normalize!r}.",
            path=path / CFG_FILENAME,
            fix=f"use one of {', '.join(NORMALIZATIONS)}.",
        )
    if architecture not in SAE_TYPES:
        raise InputError(
            f"SAE architecture {architecture!r} is not supported.",
            path=path / CFG_FILENAME,
            fix=f"use one of {', '.join(sorted(SAE_TYPES))}.",
        )
    for key in ("d_in", "d_sae"):
        if not isinstance(cfg.get(key), int):
            raise InputError(f"cfg.json lacks integer {key!r}.", path=path / CFG_FILENAME)
    if architecture in NEEDS_K and not (isinstance(k, (int, float)) and k >= 1):
        raise InputError(f"a {architecture} SAE needs k >= 1 in cfg.json.", path=path / CFG_FILENAME)
    return {
        "architecture": architecture,
        "d_in": cfg["d_in"],
        "d_sae": cfg["d_sae"],
        "k": None if k is None else int(k),
        "dtype": _DTYPES.get(str(cfg.get("dtype", "float32")), torch.float32),
        "apply_b_dec_to_input": bool(cfg.get("apply_b_dec_to_input", True)),
        # SAELens treats expected_average_only_in as already folded into the weights at inference.
        "normalize_activations": "none" if normalize == "expected_average_only_in" else normalize,
        "rescale_acts_by_decoder_norm": bool(cfg.get("rescale_acts_by_decoder_norm", False)),
        "metadata": meta,
    }


def _check_shapes(state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], path: Path) -> None:
    missing = sorted(set(expected) - set(state))
    if missing:
        raise InputError(f"missing tensor(s) {', '.join(missing)}; found {', '.join(sorted(state))}.", path=path)
    for name, shape in expected.items():
        if tuple(state[name].shape) != shape:
            raise InputError(f"tensor {name} has shape {tuple(state[name].shape)}, expected {shape}.", path=path)


def load_saelens_dir(path: str | Path) -> SparseAutoencoder | StrandSharedSAE:
    from safetensors.torch import load_file

    path = Path(path)
    cfg_path, weights_path = path / CFG_FILENAME, path / WEIGHTS_FILENAME
    for needed in (cfg_path, weights_path):
        if not needed.is_file():
            raise InputError(
                f"SAELens directory lacks {needed.name}.",
                path=path,
                fix="a SAELens SAE directory holds cfg.json and sae_weights.safetensors.",
            )
    try:
        raw = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg}).", path=cfg_path, line=err.lineno) from None
    cfg = _normalized_config(raw, path)
    try:
        state = load_file(str(weights_path))
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise InputError(f"cannot read safetensors file ({err}).", path=weights_path) from None
    d_in, d_sae = cfg["d_in"], cfg["d_sae"]
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    if cfg["architecture"] == "jumprelu":
        expected["threshold"] = (d_sae,)
    lookup = state.get("b_dec_lookup")  # dnalens' per-w-mer decoder bias: [5^w, d_in]; load_weights checks 5^w
    if lookup is not None and (lookup.ndim != 2 or lookup.shape[1] != d_in):
        raise InputError(
            f"tensor b_dec_lookup has shape {tuple(lookup.shape)}, expected (5^w, {d_in}).", path=weights_path
        )
    _check_shapes(state, expected, weights_path)
    cls = SAE_TYPES[cfg["architecture"]]
    kwargs: dict[str, Any] = {
        "normalize_activations": cfg["normalize_activations"],
        "apply_b_dec_to_input": cfg["apply_b_dec_to_input"],
        "metadata": cfg["metadata"],
        "dtype": cfg["dtype"],
    }
    if cfg["architecture"] in NEEDS_K:
        kwargs["k"] = cfg["k"]
    elif cfg["k"] is not None:
        kwargs["k"] = cfg["k"]
    sae = cls(d_in, d_sae, initialize=False, **kwargs)
    try:
        sae.load_weights(state)
    except ValueError as err:
        raise InputError(str(err), path=weights_path) from None
    if cfg["rescale_acts_by_decoder_norm"]:
        _fold_decoder_norms(sae)
    if (cfg["metadata"].get("dnalens") or {}).get("strand_shared"):
        return StrandSharedSAE(sae)
    return sae


def load_dictionary_reference(path: str | Path) -> dict[str, torch.Tensor]:
    """The decoders saved next to a trained SAE (W_dec_init, W_dec_replicate); {} for SAEs without them."""
    from safetensors.torch import load_file

    file = Path(path) / DICTIONARY_FILENAME
    return load_file(str(file)) if Path(path).is_dir() and file.is_file() else {}


@torch.no_grad()
def _fold_decoder_norms(sae: SparseAutoencoder) -> None:
    """SAELens' rescale_acts_by_decoder_norm (pre-activations x ||W_dec row||, codes / it when decoding)
    folded into the weights: the same encode-then-decode, with unit-norm decoder rows."""
    norms = sae.W_dec.norm(dim=1).clamp_min(1e-12)
    sae.W_enc *= norms
    sae.b_enc *= norms
    sae.W_dec /= norms[:, None]
    if hasattr(sae, "threshold") and sae.threshold.ndim == 1:
        sae.threshold *= norms


def k_from_filename(path: str | Path) -> int | None:
    """`sae-layer26-mixed-expansion_8-k_64.pt` -> 64; None when the name does not say."""
    match = _K_IN_NAME.search(Path(path).stem)
    return int(match.group(1)) if match else None


def load_goodfire(path: str | Path, *, k: int | None = None) -> BatchTopKSAE:
    """Goodfire's tied BatchTopK Evo 2 SAE from its plain state dict (no code is unpickled)."""
    path = Path(path)
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) serialisation cannot be memory-mapped
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, or one that needs pickled code
        raise InputError(
            f"cannot read the state dict with torch.load(weights_only=True) ({err}).",
            path=path,
            fix="give a plain tensor state dict (keys W, b_enc, b_dec).",
        ) from None
    if not isinstance(state, dict) or set(state) != GOODFIRE_KEYS:
        found = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise InputError(
            f"expected a state dict with keys W, b_enc, b_dec (Goodfire's Evo 2 SAE); found {found}.",
            path=path,
            fix="convert other SAEs to SAELens' layout (cfg.json + sae_weights.safetensors).",
        )
    W = state["W"]
    if W.ndim != 2:
        raise InputError(f"W must be 2-D [d_in, d_sae], found shape {tuple(W.shape)}.", path=path)
    d_in, d_sae = W.shape
    _check_shapes(state, {"W": (d_in, d_sae), "b_enc": (d_sae,), "b_dec": (d_in,)}, path)
    k_name = k_from_filename(path)
    k_final = k_name if k_name is not None else k
    if k_final is None:
        raise InputError(
            "k is not in the file name (e.g. `_k_64`) nor given.",
            path=path,
            fix="set sae.k in the config (or pass --k).",
        )
    sae = BatchTopKSAE(
        d_in,
        d_sae,
        k=k_final,
        apply_b_dec_to_input=False,
        dtype=W.dtype,
        initialize=False,
        metadata={"source": str(path), "format": "goodfire-evo2"},
    )
    with torch.no_grad():
        # Tied weights: the decoder is a view of the encoder, so the file's memory is held once.
        sae.W_enc = torch.nn.Parameter(W, requires_grad=False)
        sae.W_dec = torch.nn.Parameter(W.T, requires_grad=False)
        sae.b_enc = torch.nn.Parameter(state["b_enc"], requires_grad=False)
        sae.b_dec = torch.nn.Parameter(state["b_dec"], requires_grad=False)
    return sae
