"""Gather of the scattered encode rule: code parts (`dnalens encode --part i --parts n`) -> one codes directory.

No torch here: the gather only links files and writes a manifest, so it stays light enough to run on a
cluster's submit host (the workflow's `encode` rule is a localrule). For the same reason it compares each
code shard file's size with the bytes its JSON records (one stat), not the CRC-32 (a full read).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from dnalens.atomic import atomic_dir
from dnalens.errors import InputError
from dnalens.formats.activation_shards import file_problem, npy_expected_bytes, read_manifest
from dnalens.formats.codes import CODES_MANIFEST, csr_paths

log = logging.getLogger(__name__)
_WARNED_LEGACY: set[str] = set()


def check_code_shard(part: str | Path, stem: str) -> None:
    """Raise InputError naming the file when a code shard of a part is missing or not the size its JSON
    records; shards written before sizes were recorded are checked against their .npy headers."""
    part = Path(part)
    fix = f"delete the code part {part} and rerun the workflow: its encode part re-makes it."
    js = part / f"{stem}.json"
    try:
        files = json.loads(js.read_text()).get("files")
    except (OSError, ValueError) as exc:
        raise InputError(f"code shard marker unreadable ({exc}).", path=js, fix=fix) from None
    if files is None:
        if str(part) not in _WARNED_LEGACY:
            _WARNED_LEGACY.add(str(part))
            log.warning("code shards in %s record no file sizes (older dnalens): checking their .npy headers", part)
        files = {
            p.name: {"bytes": npy_expected_bytes(p) if p.is_file() else None} for p in csr_paths(part, stem).values()
        }
    for name, record in files.items():
        problem = file_problem(part / name, record.get("bytes"), record.get("checksum"), verify=False)
        if problem is None and record.get("bytes") is None:
            problem = "unreadable .npy header"
        if problem is not None:
            raise InputError(f"code shard file is corrupt ({problem}).", path=part / name, fix=fix)


def merge_code_parts(
    parts: list[str | Path], out: str | Path, *, activations: str | Path | None = None
) -> dict[str, Any]:
    """Gather of the scattered encode rule: the parts' code shards in part order under one manifest,
    equal to what one unscattered `encode_activations` call writes. Shard files are hard-linked (copied
    across file systems), so the gather costs no second copy of the codes."""
    import os
    import shutil

    from dnalens.formats.codes import read_codes_manifest

    manifests = [read_codes_manifest(p) for p in parts]
    if not manifests:
        raise InputError("no code parts to merge.")
    first = manifests[0]
    for path, m in zip(parts[1:], manifests[1:]):
        for key in ("n_features", "layer", "sae", "sae_digest", "architecture", "k", "trim_start", "trim_end"):
            if m.get(key) != first.get(key):
                raise InputError(
                    f"code part differs from {parts[0]} in {key}.",
                    path=path,
                    fix="encode every part with the same SAE and activations.",
                )
    summary = dict(first)
    summary["shards"] = [s for m in manifests for s in m["shards"]]
    for key in ("total_tokens", "total_nnz", "clipped"):
        summary[key] = sum(int(m[key]) for m in manifests)
    if "reused_dense_shards" in first:  # fused parts (dnalens encode --model)
        summary["reused_dense_shards"] = sum(int(m.get("reused_dense_shards", 0)) for m in manifests)
    summary["mean_l0"] = summary["total_nnz"] / max(summary["total_tokens"], 1)
    if activations is not None:
        expected = len(read_manifest(activations).get("shards", []))
        if len(summary["shards"]) != expected:
            raise InputError(
                f"code parts hold {len(summary['shards'])} shards, the activations {expected}.",
                path=activations,
                fix="encode every part (dnalens encode --part i --parts n).",
            )
    for path, m in zip(parts, manifests):
        for entry in m["shards"]:
            check_code_shard(path, entry["stem"])
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
