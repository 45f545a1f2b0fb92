"""Model adapters: one protocol, one registry line per model family.

An adapter hides a model family's tokenizer, device/dtype and module names behind three calls:
`activations(seqs, layers)` -> {layer: [array (len(seq), d)]}, one row per nucleotide in read order;
`spliced_loss(seqs, layer, replace)` -> next-token cross-entropy with a block output replaced; and
`d_model(layer)`. Capture uses nnsight, so several layers come out of one forward pass.

Why `rc_pool`: a causal model sees only the left context. Running the reverse complement as well and
flipping its activations back to read order gives every nucleotide right context and the other
strand's view; the two are concatenated (`concat`) or averaged (`mean`). A batch holding both strands of
a window runs each sequence once (`rc_partners`): one window's reverse complement is the other's forward.
Both happen in one place, `TorchAdapter.pooled_rows` (rows on the model's device): `activations` moves its
rows to the host, and models/window_pass.py (the SAE sample, the genome-wide encode) trims and rounds them.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np

from dnalens.errors import InputError
from dnalens.formats.window_table import reverse_complement
from dnalens.settings import schema_defaults

# family -> "module:Class". A new model family is one module plus one line here.
REGISTRY: dict[str, str] = {
    "tiny": "dnalens.models.tiny_adapter:TinyAdapter",
    "evo2": "dnalens.models.evo2:Evo2Adapter",
    "evo2_standin": "dnalens.models.evo2_standin:Evo2StandInAdapter",
    "hf": "dnalens.models.hf:HFAdapter",
}


DEFAULT_RC_POOL = {"tiny": "concat"}


def resolve_strand_shared(value: bool | str, rc_pool: str | None) -> bool:
    """`auto` -> one dictionary for both strands exactly when the rows hold both passes (rc_pool concat).

    Why a default of auto: the recommended dictionary (the SAE sweep's choice, config/README.md) is strand-shared,
    but a model read in one pass (Evo 2, rc_pool none) has no second half to share with."""
    return rc_pool == "concat" if value == "auto" else bool(value)


def run_sae_settings(sae: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """A run's `sae:` block with `strand_shared: auto` decided by its `model:` block (the Snakefile calls this
    once, so every job's settings JSON, the dictionary's name and the sample size agree)."""
    return {**sae, "strand_shared": resolve_strand_shared(sae.get("strand_shared", "auto"), parse_spec(model).rc_pool)}


_DEFAULTS = schema_defaults("model")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class ModelSpec:
    """The config's `model:` block (see the schema for every key)."""

    family: str = _DEFAULTS["family"]
    path: str | None = _DEFAULTS["path"]
    name: str | None = _DEFAULTS["name"]
    device: str = _DEFAULTS["device"]
    dtype: str = _DEFAULTS["dtype"]
    batch_size: int = _DEFAULTS["batch_size"]
    rc_pool: str = _DEFAULTS["rc_pool"]
    trim: int = _DEFAULTS["trim"]
    tag: str = _DEFAULTS["tag"]
    hf_kind: str = _DEFAULTS["hf_kind"]
    trust_remote_code: bool = _DEFAULTS["trust_remote_code"]


class Adapter(Protocol):
    spec: ModelSpec
    layers: list[str]

    def activations(self, seqs: Sequence[str], layers: Sequence[str]) -> dict[str, list[np.ndarray]]: ...

    def spliced_loss(self, seqs: Sequence[str], layer: str, replace: Callable | None = None) -> float: ...

    def d_model(self, layer: str) -> int: ...


def parse_spec(spec: Mapping[str, Any] | str | Path | ModelSpec) -> ModelSpec:
    """A dict like the config's `model:` block, a ModelSpec, or a checkpoint directory path
    (rc_pool `auto` resolved: the tiny causal model needs right context; Evo 2 SAEs expect one pass)."""
    parsed = _parse_spec(spec)
    if parsed.rc_pool not in ("auto", "none", "mean", "concat"):
        raise InputError(f"model.rc_pool must be auto, none, mean or concat, not {parsed.rc_pool!r}.")
    if parsed.rc_pool == "auto":
        parsed = dc_replace(parsed, rc_pool=DEFAULT_RC_POOL.get(parsed.family, "none"))
    return parsed


def model_arg(text: str) -> dict[str, Any] | str:
    """A `--model` argument: the config's `model:` block as JSON, or a model directory."""
    return json.loads(text) if text.strip().startswith("{") else text


def read_model_config(directory: str | Path) -> dict[str, Any]:
    """A model directory's config.json (ours or a HuggingFace checkpoint's), or the one error for a folder without it."""
    cfg_path = Path(directory) / "config.json"
    if not cfg_path.exists():
        raise InputError(
            "not a model directory (config.json missing).",
            path=directory,
            fix="give a directory written by `dnalens train-model` or a HuggingFace checkpoint.",
        )
    return json.loads(cfg_path.read_text())


def _parse_spec(spec: Mapping[str, Any] | str | Path | ModelSpec) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, (str, Path)):
        directory = Path(spec)
        cfg = read_model_config(directory)
        family = cfg.get("family") or ("hf" if "model_type" in cfg else "tiny")
        return ModelSpec(family=family, path=str(directory))
    from dnalens.settings import from_mapping

    return from_mapping(ModelSpec, spec, where="model")


def adapter_class(family: str) -> type:
    """The registered adapter class of `family` (importing it does not import torch)."""
    if family not in REGISTRY:
        raise InputError(f"unknown model family {family!r}.", fix=f"use one of: {', '.join(sorted(REGISTRY))}.")
    module, cls = REGISTRY[family].split(":")
    return getattr(importlib.import_module(module), cls)


def family_wants_gpu(family: str) -> bool:
    """Whether the family's jobs ask a cluster for a GPU (the adapter's `wants_gpu` fact; the rule files read
    it instead of naming families)."""
    return bool(getattr(adapter_class(family), "wants_gpu", False))


def load_model(spec: Mapping[str, Any] | str | Path | ModelSpec) -> "TorchAdapter":
    """Adapter for `spec` (config `model:` dict or checkpoint directory)."""
    parsed = parse_spec(spec)
    return adapter_class(parsed.family).from_spec(parsed)


def device_and_dtype(device: str, dtype: str, *, what: str = "model"):
    """(torch device, torch dtype): the device as dnalens.devices resolves it; dtype auto = bfloat16 on CUDA."""
    import torch

    from dnalens.devices import resolve_device

    dev = resolve_device(device, what=f"{what}.device")
    if dtype == "auto":
        dt = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    else:
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if dtype not in names:
            raise InputError(f"{what}.dtype must be auto or one of {sorted(names)}, not {dtype!r}.")
        dt = names[dtype]
    return torch.device(dev), dt


class TorchAdapter:
    """Shared machinery: batching, nnsight capture, token -> nucleotide mapping, rc pooling.

    Subclasses implement `encode(seqs)` -> (ids [B, T] long, attention mask [B, T] or None,
    positions: per sequence an int array giving, for each nucleotide, the token index that carries it)
    and may override `logits_of(output)` and `loss_targets`.
    """

    causal: bool = True
    one_token_per_nucleotide: bool = False  # byte-level models; a k-mer or BPE token can span a cut
    wants_gpu: bool = False  # a family fact: whether its jobs ask a cluster for a GPU (family_wants_gpu)

    def __init__(
        self, model, spec: ModelSpec, layers: list[str], aliases: dict[str, str] | None = None, cast: bool = True
    ) -> None:
        from nnsight import NNsight

        self.spec = parse_spec(spec)  # resolves rc_pool "auto" for adapters built directly
        self.device, self.dtype = device_and_dtype(self.spec.device, self.spec.dtype)
        # cast=False keeps a model's own mixed precision (vortex keeps filter poles in float32)
        self.model = (model.to(self.device, self.dtype) if cast else model).eval()
        self.nn = NNsight(self.model)
        self.layers = list(layers)
        self.aliases = dict(aliases or {})
        self._order = {name: i for i, (name, _) in enumerate(self.model.named_modules())}
        self._d: dict[str, int] = {}

    # --- to implement -------------------------------------------------------------------------
    def encode(self, seqs: Sequence[str]):
        raise NotImplementedError

    def logits_of(self, output):
        return output[0] if isinstance(output, (tuple, list)) else getattr(output, "logits", output)

    # --- module access ------------------------------------------------------------------------
    def module_path(self, layer: str) -> str:
        path = self.aliases.get(layer, layer)
        if path not in self._order:
            raise InputError(
                f"layer {layer!r} is not a module of this model.",
                fix=f"use one of: {', '.join(self.layers[:6])}{' …' if len(self.layers) > 6 else ''}.",
            )
        return path

    def _envoy(self, path: str):
        node = self.nn
        for part in path.split("."):
            # nnsight serves `.output` on every module; a child module named `output` is `.E_output`
            node = node[int(part)] if part.isdigit() else getattr(node, "E_output" if part == "output" else part)
        return node

    def capture(self, ids, mask, layers: Sequence[str]) -> dict[str, Any]:
        """One forward pass up to the deepest layer; output (first tuple element) of each, as [B, T, d]."""
        import torch

        paths = sorted({self.module_path(l) for l in layers}, key=self._order.__getitem__)
        saved = {}
        kwargs = {} if mask is None else {"attention_mask": mask}
        with torch.no_grad():
            with self.nn.trace(ids, **kwargs) as tracer:
                for path in paths:
                    out = self._envoy(path).output
                    saved[path] = (out[0] if isinstance(out, (tuple, list)) else out).save()
                tracer.stop()  # nothing after the last captured layer is needed (no logits)
        return {l: saved[self.module_path(l)] for l in layers}

    # --- public API ---------------------------------------------------------------------------
    def unread_tail(self, trim: Sequence[int]) -> int:
        """Nucleotides at the end of every pass (forward and reverse complement) that no kept row reads.

        Why: a causal model with a token per nucleotide computes a nucleotide's row from the nucleotides up
        to it, so a pass can stop at the last row the trims keep (forward: length - trim end; the reverse
        complement pass: length - trim start). With the demo's trim of 256 on 1,024-nt windows a pass reads
        768 nt, 0.75x the compute. The kept rows equal a whole pass's up to float rounding (an FFT convolution's
        length changes): in float16 about 1 value in 1,000 moves by one unit in the last place."""
        if not (self.causal and self.one_token_per_nucleotide):
            return 0
        start, end = (max(int(t), 0) for t in trim)
        return end if self.spec.rc_pool == "none" else min(start, end)

    def _chunks(self, seqs: Sequence[str]) -> list[list[str]]:
        bs = max(1, self.spec.batch_size)
        return [list(seqs[i : i + bs]) for i in range(0, len(seqs), bs)]

    def _pass_rows(self, seqs: Sequence[str], layers: Sequence[str], tail: int = 0) -> dict[str, list[Any]]:
        """One forward pass over `seqs`, each read without its last `tail` nucleotides (unread_tail): per layer,
        each sequence's nucleotide rows [len, d] as float32 tensors on the model's device, the unread ones zero."""
        ids, mask, positions = self.encode([read_prefix(s, tail) for s in seqs])
        ids = ids.to(self.device)
        mask = None if mask is None else mask.to(self.device)
        out = {}
        for layer, tensor in self.capture(ids, mask, layers).items():
            tensor = tensor.float()
            out[layer] = [_full_length(_rows(tensor[j], positions[j]), len(s)) for j, s in enumerate(seqs)]
        return out

    def pooled_rows(
        self, seqs: Sequence[str], layers: Sequence[str], trim: Sequence[int] = (0, 0)
    ) -> dict[str, list[Any]]:
        """One batch: {layer: [float32 tensor (len(seq), d) on the model's device per sequence]}, strand-pooled
        by `rc_pool` (the reverse complement's rows flipped back to read order, then concatenated or averaged).
        The one place strands are pooled: `activations`, the sample and the encode all come through here.
        The reverse-complement pass is the batch's forward pass permuted when the batch holds every window's
        other strand (`rc_partners`: a partner is read with the same tail, so cut the same way)."""
        import torch

        layers = list(layers)
        tail = self.unread_tail(trim)
        fwd = self._pass_rows(seqs, layers, tail)
        pool = self.spec.rc_pool
        if pool == "none":
            return fwd
        rc = [reverse_complement(s) for s in seqs]
        partner = rc_partners(seqs, rc)
        rev = (
            self._pass_rows(rc, layers, tail) if partner is None else {l: [fwd[l][i] for i in partner] for l in layers}
        )
        return {
            layer: [
                torch.cat([a, b.flip(0)], dim=1) if pool == "concat" else (a + b.flip(0)) / 2
                for a, b in zip(fwd[layer], rev[layer])
            ]
            for layer in layers
        }

    def activations(
        self, seqs: Sequence[str], layers: Sequence[str], trim: Sequence[int] = (0, 0)
    ) -> dict[str, list[np.ndarray]]:
        """{layer: [float32 array (len(seq), d) per sequence]}, rows in the order of the nucleotides: the
        `pooled_rows` of batches of `model.batch_size` sequences, on the host. `trim` (start, end): rows the
        caller drops; rows no pass needed to read come back as zeros (unread_tail)."""
        out: dict[str, list[np.ndarray]] = {l: [] for l in layers}
        for chunk in self._chunks(seqs):
            for layer, rows in self.pooled_rows(chunk, layers, trim).items():
                out[layer].extend(r.cpu().numpy() for r in rows)
        return out

    def d_model(self, layer: str) -> int:
        if layer not in self._d:
            self._d[layer] = int(self.activations(["ACGTACGTACGTACGT"], [layer])[layer][0].shape[1])
        return self._d[layer]

    def loss_targets(self, ids, positions):
        """(logit rows, target ids) for next-token loss: token t predicts token t+1 over nucleotide tokens."""
        import torch

        rows, targets = [], []
        for j, pos in enumerate(positions):
            pos = torch.as_tensor(np.asarray(pos), device=ids.device)
            keep = pos[pos > 0]
            rows.append(torch.stack([torch.full_like(keep, j), keep - 1], 1))
            targets.append(ids[j, keep])
        return torch.cat(rows), torch.cat(targets)

    def spliced_loss(self, seqs: Sequence[str], layer: str, replace: Callable | None = None) -> float:
        """Mean next-token cross-entropy (nats) when `layer`'s output[0] is replaced by replace(x)."""
        import torch.nn.functional as F

        if not self.causal:
            raise InputError("spliced_loss needs a causal language model.", fix="use a causal checkpoint.")
        from dnalens.models.interventions import forward_logits

        self.module_path(layer)  # an unknown layer is an InputError, with or without a replacement
        edit = None if replace is None else (lambda x, positions: replace(x))
        total, count = 0.0, 0
        bs = max(1, self.spec.batch_size)
        for i in range(0, len(seqs), bs):
            logits, ids, positions = forward_logits(self, list(seqs[i : i + bs]), layer, edit)
            idx, targets = self.loss_targets(ids, positions)
            picked = logits[idx[:, 0], idx[:, 1]]
            total += float(F.cross_entropy(picked, targets, reduction="sum"))
            count += int(targets.numel())
        return total / max(count, 1)


def rc_partners(seqs: Sequence[str], rc: Sequence[str]) -> list[int] | None:
    """For each reverse complement rc[j], the index of the same sequence in `seqs`, or None unless all are there.

    Why: windows read on both strands come in pairs whose reverse-complement passes are each other's forward
    passes; when a batch holds every partner, the rc pass is the forward pass permuted (same sequences, same
    batch shape), so its rows are taken from the forward pass instead of running the model twice."""
    where = {s: i for i, s in enumerate(seqs)}
    found = [where.get(r) for r in rc]
    return None if any(i is None for i in found) else found  # type: ignore[return-value]


def read_prefix(seq: str, tail: int) -> str:
    """`seq` without its last `tail` nucleotides (whole when that would leave nothing)."""
    return seq[: len(seq) - tail] if 0 < tail < len(seq) else seq


def _full_length(rows, length: int):
    """rows [n, d] (a tensor) of a read prefix, zero rows appended up to the sequence's `length`."""
    import torch

    missing = length - rows.shape[0]
    return torch.nn.functional.pad(rows, (0, 0, 0, missing)) if missing > 0 else rows


def _rows(tensor, pos: np.ndarray):
    """tensor[pos] (rows of one sequence); a view when pos is a contiguous range (byte-level models), else a
    gather copy (k-mer or BPE tokens carry several nucleotides)."""
    import torch

    pos = np.asarray(pos)
    if len(pos) and pos[-1] - pos[0] == len(pos) - 1 and np.all(np.diff(pos) == 1):
        return tensor[int(pos[0]) : int(pos[-1]) + 1]
    return tensor[torch.as_tensor(pos, device=tensor.device)]


def with_options(spec: ModelSpec, **changes: Any) -> ModelSpec:
    return dc_replace(spec, **changes)
