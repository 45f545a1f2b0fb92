"""Gather of the scattered encode rule: code parts (`dnalens encode --part i --parts n`) -> one codes directory.

No torch here: the gather only links files and writes a manifest, so it stays light enough to run on a
cluster's submit host (the workflow's `encode` rule is a localrule).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dnalens.atomic import atomic_dir
from dnalens.buffer.csr import CODES_MANIFEST
from dnalens.errors import InputError
from dnalens.extract.shards import read_manifest


def merge_code_parts(parts: list[str | Path], out: str | Path, *, activations: str | Path | None = None) -> dict[str, Any]:
    """Gather of the scattered encode rule: the parts' code shards in part order under one manifest,
    equal to what one unscattered `encode_activations` call writes. Shard files are hard-linked (copied
    across file systems), so the gather costs no second copy of the codes."""
    import os
    import shutil

    from dnalens.buffer.csr import read_codes_manifest

    manifests = [read_codes_manifest(p) for p in parts]
    if not manifests:
        raise InputError("no code parts to merge.")
    first = manifests[0]
    for path, m in zip(parts[1:], manifests[1:]):
        for key in ("n_features", "layer", "sae", "architecture", "k", "trim_start", "trim_end"):
            if m.get(key) != first.get(key):
                raise InputError(f"code part differs from {parts[0]} in {key}.", path=path,
                                 fix="encode every part with the same SAE and activations.")
    summary = dict(first)
    summary["shards"] = [s for m in manifests for s in m["shards"]]
    for key in ("total_tokens", "total_nnz", "clipped"):
        summary[key] = sum(int(m[key]) for m in manifests)
    summary["mean_l0"] = summary["total_nnz"] / max(summary["total_tokens"], 1)
    if activations is not None:
        expected = len(read_manifest(activations).get("shards", []))
        if len(summary["shards"]) != expected:
            raise InputError(f"code parts hold {len(summary['shards'])} shards, the activations {expected}.",
                             path=activations, fix="encode every part (dnalens encode --part i --parts n).")
    with atomic_dir(out) as tmp:
        for path, m in zip(parts, manifests):
            for entry in m["shards"]:
                for source in sorted(Path(path).glob(f"{entry['stem']}.*")):
                    try:
                        os.link(source, tmp / source.name)
                    except OSError:
                        shutil.copyfile(source, tmp / source.name)
        (tmp / CODES_MANIFEST).write_text(json.dumps(summary, indent=1) + "\n")
    return summary

