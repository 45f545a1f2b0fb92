"""What steering reads from the other stages' outputs (through dnalens.formats) into memory: held-out prompts,
the latents to steer with their strength unit, the genome's 4-mer counts, the buffer's SAE and layer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.formats.probe_dir import FEATURES, read_json, require_columns
from dnalens.formats.window_table import Window, reverse_complement, span_sequence
from dnalens.steer.readouts import kmer_counts
from dnalens.steer.settings import SteerSettings

FEATURE_COLUMNS = ("feature", "mean_active", "label", "annotated", "label_auroc_train", "auroc_train")


@dataclass(frozen=True)
class Prompt:
    name: str  # contig:start-end(strand) of the window it was cut from
    seq: str


@dataclass(frozen=True)
class SteeredLatent:
    latent: int
    label: str
    annotated: bool
    unit: float  # mean activation where it fires: the strength unit


@dataclass(frozen=True)
class BufferSae:
    """The dictionary a genome's buffer was encoded with (buffer.json), and how its rows were read."""

    path: str
    layer: str
    trim_start: int
    trim_end: int
    n_features: int


def read_buffer_sae(buffer_json: str | Path) -> BufferSae:
    meta = json.loads(Path(buffer_json).read_text())
    missing = [k for k in ("sae", "layer", "n_features") if k not in meta]
    if missing:
        raise InputError(
            f"buffer.json lacks {', '.join(missing)}.",
            path=buffer_json,
            fix="rerun the buffer rule (`dnalens buffer`).",
        )
    return BufferSae(
        str(meta["sae"]),
        str(meta["layer"]),
        int(meta.get("trim_start", 0)),
        int(meta.get("trim_end", 0)),
        int(meta["n_features"]),
    )


def read_features(probe_dir: str | Path) -> pd.DataFrame:
    """probe/features.parquet with the columns latent choice and strength units need."""
    path = Path(probe_dir) / FEATURES
    if not path.exists():
        raise InputError(f"{FEATURES} not found in the probe folder.", path=path, fix="run `dnalens probe` first.")
    frame = pd.read_parquet(path)
    require_columns(frame, FEATURE_COLUMNS, path)
    return frame


def choose_latents(features: pd.DataFrame, settings: SteerSettings, atoms: int | None = None) -> list[SteeredLatent]:
    """The listed latents, else the `strongest` annotated ones by label AUROC on train blocks (a choice made on
    train blocks only), topped up with non-annotated latents by train AUROC; each with its strength unit.
    `atoms`: a strand-shared dictionary's latents per strand; latents j and j + atoms write the same direction,
    so only the first of such a pair is chosen."""
    by_id = features.set_index(features["feature"].astype(np.int64))
    if settings.latents:
        ids = [int(j) for j in settings.latents]
    else:
        ranked = features.assign(
            _ann=features["annotated"].fillna(False).astype(bool),
            _score=np.where(
                features["annotated"].fillna(False), features["label_auroc_train"], features["auroc_train"]
            ),
        ).sort_values(["_ann", "_score", "feature"], ascending=[False, False, True], kind="stable")
        ranked = ranked[ranked["mean_active"].fillna(0) > 0]
        ids, seen = [], set()
        for j in ranked["feature"].astype(np.int64):
            atom = int(j) % atoms if atoms else int(j)
            if atom not in seen and len(ids) < settings.strongest:
                seen.add(atom)
                ids.append(int(j))
    out = []
    for j in ids:
        row = by_id.loc[j] if j in by_id.index else None
        unit = float(row["mean_active"]) if row is not None and pd.notna(row["mean_active"]) else 0.0
        if unit <= 0:
            raise InputError(
                f"steer.latents names latent {j}, which never fires on this genome: its strength unit (mean "
                "activation where it fires) is undefined.",
                fix="steer a latent that fires (features.tsv activation_frequency > 0), or leave steer.latents empty.",
            )
        annotated = bool(row["annotated"]) if pd.notna(row["annotated"]) else False
        label = str(row["label"]) if annotated and pd.notna(row["label"]) else ""
        out.append(SteeredLatent(j, label, annotated, unit))
    return out


def heldout_blocks(split_json: str | Path) -> list[tuple[str, int, int]]:
    """(contig, start, end) of the held-out blocks of results/<genome>/probe/split.json."""
    blocks = read_json(split_json).get("blocks")
    if not blocks:
        raise InputError("split.json has no blocks.", path=split_json, fix="rerun `dnalens probe`.")
    return [(b["contig"], int(b["start"]), int(b["end"])) for b in blocks if b.get("side") == "test"]


def prompt_span(window: Window, prompt_length: int) -> tuple[int, int]:
    """Genome span of a window's first `prompt_length` bases in read order (its 5' end on −)."""
    if window.strand == "-":
        return window.end - prompt_length, window.end
    return window.start, window.start + prompt_length


def heldout_windows(
    windows: Sequence[Window], blocks: Sequence[tuple[str, int, int]], prompt_length: int
) -> list[Window]:
    """Windows whose prompt lies inside one held-out block (no wrap-around windows)."""
    by_contig: dict[str, list[tuple[int, int]]] = {}
    for contig, start, end in blocks:
        by_contig.setdefault(contig, []).append((start, end))
    out = []
    for w in windows:
        if w.length < prompt_length:
            continue
        a, b = prompt_span(w, prompt_length)
        if any(s <= a and b <= e for s, e in by_contig.get(w.contig, ())):
            out.append(w)
    return out


def pick_prompts(windows: Sequence[Window], fasta, n: int, prompt_length: int, seed: int, where: str) -> list[Prompt]:
    """`n` prompts from held-out windows, a seeded choice (without replacement while there are enough)."""
    if not windows:
        raise InputError(
            f"no window's first {prompt_length} bases lie inside a held-out block.",
            path=where,
            fix="lower steer.prompt_length, or raise probe.block_size / probe.test_fraction.",
        )
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(windows), size=n, replace=n > len(windows))
    out = []
    for i in picks:
        w = windows[int(i)]
        a, b = prompt_span(w, prompt_length)
        out.append(Prompt(f"{w.contig}:{w.start}-{w.end}({w.strand})", span_sequence(fasta, w.contig, a, b, w.strand)))
    return out


def genome_kmer4(fasta) -> np.ndarray:
    """4-mer counts [256] of every contig on both strands (windows are read on both)."""
    total = np.zeros(256, np.int64)
    for name in fasta.keys():
        seq = str(fasta[name][:]).upper()
        total += kmer_counts(seq, 4) + kmer_counts(reverse_complement(seq), 4)
    return total


def read_prompts(windows: Sequence[Window], fasta, split_json: str | Path, settings: SteerSettings) -> list[Prompt]:
    """`steer.n_sequences` prompts of `steer.prompt_length` bases from the held-out windows of split.json."""
    held = heldout_windows(windows, heldout_blocks(split_json), settings.prompt_length)
    return pick_prompts(held, fasta, settings.n_sequences, settings.prompt_length, settings.seed, str(split_json))
