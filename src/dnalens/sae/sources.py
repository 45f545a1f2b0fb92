"""Which genomes' samples an SAE reads: one (a per-genome SAE) or several (one shared dictionary).

A dictionary describes a model's layer, not a genome, so one is trained on every genome of a run and
applied to each. That only holds if every genome was read the same way: the same model, layer, trims and
strand pooling (`same_layer` refuses anything else, naming both genomes). Light module: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dnalens.errors import InputError


@dataclass(frozen=True)
class SampleSource:
    """One genome's dense sample as the SAE reads it: its activation shards (one layer), the windows they
    index (held-out blocks are cut from these), and the FASTA for a per-w-mer decoder bias."""

    name: str
    activations: str
    windows: str
    fasta: str | None = None


def equal_shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` shares differing by at most one (the first ones get the rest)."""
    base, extra = divmod(int(total), int(parts))
    return [base + (i < extra) for i in range(int(parts))]


def sample_sources(
    activations: Sequence[str],
    windows: Sequence[str],
    fasta: Sequence[str] | None = None,
    genomes: Sequence[str] | None = None,
) -> list[SampleSource]:
    """The genomes' samples named by the CLI's --activations/--windows/--fasta/--genomes, in order."""
    n = len(activations)
    for flag, given in (("windows", windows), ("fasta", fasta), ("genomes", genomes)):
        if given is not None and len(given) != n:
            raise InputError(
                f"--{flag} names {len(given)} values but --activations names {n}.",
                fix=f"give one --{flag} value per activation directory, in the same order.",
            )
    names = list(genomes) if genomes else [genome_of(path) for path in activations]
    if len(set(names)) != len(names):
        raise InputError(f"genome names repeat: {names}.", fix="name each genome's sample once.")
    fastas = list(fasta) if fasta else [None] * n
    return [SampleSource(name, a, w, f) for name, a, w, f in zip(names, activations, windows, fastas)]


def genome_of(activations: str) -> str:
    """results/<genome>/activations/<layer> -> <genome> (else the directory's own name)."""
    parts = Path(activations).parts
    return parts[-3] if len(parts) >= 3 and parts[-2] == "activations" else Path(activations).name


def read_facts(manifest: dict) -> dict:
    """What must agree between genomes that share a dictionary: how their rows were read."""
    model = manifest.get("model") or {}
    read = {key: manifest.get(key) for key in ("layer", "trim_start", "trim_end")}
    return read | {f"model.{key}": model.get(key) for key in ("family", "name", "path", "rc_pool", "dtype")}


def same_layer(manifests: Sequence[dict], sources: Sequence[SampleSource]) -> dict:
    """The first manifest, once every genome's sample was read by the same model at the same layer with the
    same trims and strand pooling; else one error naming both genomes and the key."""
    first = read_facts(manifests[0])
    for source, manifest in zip(sources[1:], manifests[1:]):
        for key, value in read_facts(manifest).items():
            if value != first[key]:
                raise InputError(
                    f"genome {source.name!r} was sampled with {key} {value!r}, genome {sources[0].name!r} "
                    f"with {first[key]!r}: one dictionary reads one model's layer one way.",
                    path=source.activations,
                    fix="give every genome of a shared dictionary the same model:, sae.layer and model.trim, "
                    "or set sae.scope: genome.",
                )
    return manifests[0]


DICTIONARY_ROOT = "results/dictionaries"
# keys that change where or how fast a dictionary is made, not what it is: left out of its name
_NOT_NAMING = {
    "model": ("device", "batch_size"),
    "sae": (
        "source",
        "path",
        "scope",
        "device",
        "checkpoint_every",
        "quality_tokens",
        "loss_windows",
        "min_ablation_gap",
        "replicate",
    ),
    "windows": ("shards",),
}
_EXTRACT_NAMING = ("sample_coverage",)  # of the extract section, only the sample's size names a dictionary


def dictionary_name(config: dict, layer: str) -> str:
    """`<model>-<layer>-<digest>`: the folder under results/dictionaries/ of the shared dictionary a
    validated workflow config trains. The digest covers everything that changes its rows or its training
    (model, training, windows, the sample's size, the SAE's settings and the genomes with their sources),
    so runs with the same settings share one dictionary and different settings never collide."""
    import hashlib
    import json
    import re

    def kept(section: str) -> dict:
        drop = _NOT_NAMING.get(section, ())
        return {k: v for k, v in (config.get(section) or {}).items() if k not in drop}

    named = {
        "layer": layer,
        "model": kept("model"),
        "training": kept("training"),
        "windows": kept("windows"),
        "extract": {k: (config.get("extract") or {}).get(k) for k in _EXTRACT_NAMING},
        "sae": kept("sae"),
        "genomes": config.get("genomes") or {},
    }
    digest = hashlib.blake2b(json.dumps(named, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()
    model = config.get("model") or {}
    detail = model.get("name") or Path(str(model.get("path") or "")).name or "bundled"
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{model.get('family', 'model')}_{detail}").strip("._")
    return f"{label}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', layer)}-{digest}"
