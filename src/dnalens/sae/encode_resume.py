"""Code shards kept across a SIGTERM: an encode part that is stopped resumes at its last complete shard.

Why a side directory: `encode_activations` writes its output directory as a whole (atomic), so a stop
would lose every shard of the part. On `Preempted` the finished shards move to `.<out>.resume/` with
what made them (the SAE's weights checksum, the device type, each activation shard's CRC-32); the next
call with the same SAE and activations links them back after checking each file's size and CRC-32, and
encodes only the rest. Any mismatch means the kept shard is ignored (and the directory removed at the end).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dnalens.atomic import atomic_dir
from dnalens.formats.activation_shards import file_problem

log = logging.getLogger(__name__)
STATE = "resume.json"


def resume_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(f".{out.name}.resume")


def sae_identity(sae, device: str) -> dict[str, Any]:
    """What the codes depend on besides the activations: the weights (CRC-32 of every tensor) and device type."""
    crc = 0
    for name, tensor in sorted(sae.state_dict().items()):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(tensor.detach().to("cpu").float().numpy()).tobytes(), crc)
    return {"weights": f"crc32:{crc:08x}", "device": str(device).split(":")[0]}


class KeptShards:
    """The shards a stopped call kept for `out`, usable by a call with the same identity (computed only
    when there is something kept or to keep: it reads every weight)."""

    def __init__(self, out: str | Path, identity: Callable[[], dict[str, Any]]) -> None:
        self.dir = resume_dir(out)
        self._identity, self._known = identity, None
        self.records: dict[str, dict[str, Any]] = {}
        try:
            state = json.loads((self.dir / STATE).read_text())
        except (OSError, ValueError):
            return
        if state.get("identity") == self.identity:
            self.records = state.get("shards", {})

    @property
    def identity(self) -> dict[str, Any]:
        if self._known is None:
            self._known = self._identity()
        return self._known

    def take(self, stem: str, source_checksum: str | None, tmp: Path) -> dict[str, Any] | None:
        """Link the kept shard `stem` into `tmp` and return its JSON record, or None (not kept, or changed)."""
        kept = self.records.get(stem)
        if kept is None or source_checksum is None or kept.get("source_checksum") != source_checksum:
            return None
        record = kept["record"]
        for name, file in record["files"].items():
            if file_problem(self.dir / name, file["bytes"], file["checksum"], verify=True) is not None:
                return None
        for name in [*record["files"], f"{stem}.json"]:
            try:
                os.link(self.dir / name, tmp / name)
            except OSError:
                shutil.copyfile(self.dir / name, tmp / name)
        log.info("code shard %s kept from the stopped run (%s)", stem, self.dir)
        return record

    def keep(self, tmp: Path, finished: list[tuple[str, str | None]]) -> None:
        """Move the finished shards [(stem, activation CRC-32)] of a stopped call from `tmp` to the resume
        directory (written as a whole), so the next call starts from them."""
        shards = {}
        with atomic_dir(self.dir) as staging:
            for stem, source_checksum in finished:
                if source_checksum is None:
                    continue
                record = json.loads((tmp / f"{stem}.json").read_text())
                for name in [*record["files"], f"{stem}.json"]:
                    os.replace(tmp / name, staging / name)
                shards[stem] = {"source_checksum": source_checksum, "record": record}
            (staging / STATE).write_text(json.dumps({"identity": self.identity, "shards": shards}) + "\n")

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
