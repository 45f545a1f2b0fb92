"""`dnalens effects`: the genome's buffer, probe tables, FASTA and model -> effects.tsv (+ .parquet, windows.bed).

Which latents: `effects.latents`, else every latent the probe stage annotated (probe/features.parquet
`annotated`: its label passes the strict rule on held-out blocks). Controls: effects.controls. Windows: the
buffer's windows whose kept positions all lie in the probe stage's test blocks (split.json), a seeded sample of
loci with both strands of a locus together (they share passes: one's reverse complement is the other's
forward read). Only causal models with a token per nucleotide can be scored (models.interventions).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from dnalens.effects.ablation import Intervention, WindowRead, run_ablation
from dnalens.effects.controls import atom_ids, check_latents, match_controls
from dnalens.effects.directions import decoder_rows, pass_parts, passes_name, random_parts
from dnalens.effects.settings import EffectsSettings
from dnalens.effects.table import codon_labels, effects_table
from dnalens.errors import InputError

log = logging.getLogger(__name__)


def heldout_mask(windows: pd.DataFrame, blocks: Sequence[dict]) -> np.ndarray:
    """[len(windows)] whether every kept genome position of a window lies in a test block (split.json blocks;
    positions modulo the contig length, which the blocks cover)."""
    by_contig: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for contig in {b["contig"] for b in blocks}:
        mine = sorted((int(b["start"]), int(b["end"]), b["side"] == "test") for b in blocks if b["contig"] == contig)
        starts = np.array([m[0] for m in mine])
        by_contig[contig] = (starts, np.array([m[2] for m in mine]), max(m[1] for m in mine))
    out = np.zeros(len(windows), bool)
    for i, w in enumerate(windows.itertuples(index=False)):
        if w.contig not in by_contig:
            continue
        starts, test, length = by_contig[w.contig]
        k = np.arange(int(w.read_offset), int(w.read_offset) + int(w.token_end) - int(w.token_start))
        pos = (w.start + k if w.strand == "+" else w.end - 1 - k) % length
        out[i] = k.size > 0 and bool(test[np.searchsorted(starts, pos, side="right") - 1].all())
    return out


def sample_windows(windows: pd.DataFrame, mask: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Row indices of up to `n` masked windows: loci (contig, start, end) in seeded order, both strands
    together, then sorted (buffer order)."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return rows
    loci = windows.iloc[rows][["contig", "start", "end"]].astype(str).agg(":".join, axis=1).to_numpy()
    names, inverse = np.unique(loci, return_inverse=True)
    picked: list[int] = []
    for locus in np.random.default_rng(seed).permutation(names.size):
        if len(picked) >= n:
            break
        picked.extend(rows[inverse == locus][: n - len(picked)].tolist())
    return np.sort(np.asarray(picked, np.int64))


def plan(
    features: pd.DataFrame,
    tested: Sequence[int],
    controls: dict[int, list[int]],
    rows: np.ndarray,
    atoms: np.ndarray,
    rc_pool: str,
    seed: int,
    label_names: Sequence[str],
) -> tuple[list[Intervention], list[dict]]:
    """Interventions (tested latents, each distinct control, a random direction per tested latent) and the
    fixed columns of their rows."""
    label_of = dict(zip(features["feature"].astype(int), features["label"]))
    freq = dict(zip(features["feature"].astype(int), features["frequency"].astype(float)))
    norm = dict(zip(features["feature"].astype(int), features["write_norm"].astype(float)))
    ivs, fixed = [], []

    def add(key, latent, parts, role, label):
        codons = codon_labels(label or "", label_names)
        ivs.append(Intervention(key, latent, tuple(parts), label or None, codons))
        fixed.append(
            {
                "key": key,
                "latent": latent,
                "role": role,
                "label": label or "",
                "passes": passes_name(parts),
                "frequency": freq.get(latent, np.nan),
                "write_norm": norm.get(latent, np.nan),
            }
        )

    for t in tested:
        label = label_of.get(t)
        label = label if isinstance(label, str) else ""
        parts = pass_parts(rows[t], rc_pool)
        add(f"annotated:{t}", t, parts, "annotated", label)
        add(f"random:{t}", t, random_parts(parts, seed, int(atoms[t])), "random_direction", label)
    for c in sorted({c for picked in controls.values() for c in picked}):
        add(f"control:{c}", c, pass_parts(rows[c], rc_pool), "matched_control", "")
    return ivs, fixed


def read_window_reads(buffer, fasta, rows: np.ndarray, label_names: Sequence[str]) -> list[WindowRead]:
    """The chosen windows' read-order sequences and kept labels (through the buffer's label store)."""
    from dnalens.formats.window_table import span_sequence

    table = buffer.windows
    columns = {name: buffer.label(name) for name in label_names}
    out = []
    for r in rows:
        w = table.iloc[int(r)]
        a, b = int(w["token_start"]), int(w["token_end"])
        seq = span_sequence(fasta, str(w["contig"]), int(w["start"]), int(w["end"]), str(w["strand"]))
        out.append(
            WindowRead(seq, int(w["read_offset"]), b - a, {n: np.asarray(c[a:b], bool) for n, c in columns.items()})
        )
    return out


def run_effects(
    buffer_path: str | Path,
    probe_dir: str | Path,
    fasta_path: str | Path,
    model_spec: Any,
    settings: EffectsSettings,
    *,
    sae_path: str | Path | None = None,
    adapter=None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(effects table, the windows measured) for one genome; nothing is written here (commands.py writes)."""
    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.probe_dir import read_json
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, parse_spec
    from dnalens.models.interventions import check_per_base
    from dnalens.sae.io import load_sae

    buffer = ActivationBuffer.open(buffer_path)
    meta = buffer.meta
    sae = load_sae(sae_path or meta["sae"], k=meta.get("k"))
    rows, n_atoms = decoder_rows(sae)
    n_features = rows.shape[0]
    if n_features != buffer.n_features:
        raise InputError(
            f"the SAE has {n_features} features but the buffer's codes have {buffer.n_features}.",
            path=sae_path or meta["sae"],
            fix="pass the dictionary that encoded this buffer (buffer.json `sae`).",
        )
    features = _features(Path(probe_dir), n_features, np.linalg.norm(rows, axis=1))
    tested = check_latents(settings.latents, n_features) or features.loc[features["annotated"], "feature"].tolist()
    atoms = atom_ids(n_features, n_atoms)
    excluded = features["annotated"].to_numpy(bool).copy()
    excluded[tested] = True
    controls = match_controls(
        tested,
        features["frequency"].to_numpy(),
        features["write_norm"].to_numpy(),
        n=settings.n_controls,
        excluded=excluded,
        atoms=atoms,
    )
    split = read_json(Path(probe_dir) / "split.json")
    mask = heldout_mask(buffer.windows, split.get("blocks", []))
    chosen = sample_windows(buffer.windows, mask, settings.n_windows, settings.seed)
    measured = buffer.windows.iloc[chosen].reset_index(drop=True)
    spec = parse_spec(model_spec)
    if not tested or chosen.size == 0:
        log.info("effects: %d latent(s) to test, %d held-out window(s): nothing to measure", len(tested), chosen.size)
        return effects_table({}, [], {}, z_threshold=settings.z_threshold), measured
    adapter = adapter or load_model(spec)
    check_per_base(adapter, "ablation effects")
    ivs, fixed = plan(features, tested, controls, rows, atoms, adapter.spec.rc_pool, settings.seed, buffer.label_names)
    wanted = sorted({n for iv in ivs for n in (iv.label, *iv.codon_labels) if n})
    reads = read_window_reads(buffer, open_fasta(fasta_path), chosen, wanted)
    trims = (int(meta.get("trim_start", 0)), int(meta.get("trim_end", 0)))
    log.info(
        "effects: %d tested latent(s), %d control(s), %d window(s), layer %s",
        len(tested),
        len({c for v in controls.values() for c in v}),
        len(reads),
        meta["layer"],
    )
    sae = sae.to(adapter.device).eval()
    tallies = run_ablation(
        adapter, sae, meta["layer"], reads, ivs, trims=trims, lookup=sae.lookup_context, progress=progress
    )
    return effects_table(tallies, fixed, controls, z_threshold=settings.z_threshold), measured


def _features(probe_dir: Path, n_features: int, decoder_norms: np.ndarray) -> pd.DataFrame:
    """probe/features.parquet's feature, label, annotated, frequency, mean_active + write_norm, one row per id."""
    path = probe_dir / "features.parquet"
    if not path.is_file():
        raise InputError("features.parquet not found in the probe folder.", path=path, fix="run `dnalens probe` first.")
    frame = pd.read_parquet(path)
    missing = [c for c in ("feature", "label", "annotated", "frequency", "mean_active") if c not in frame]
    if missing:
        raise InputError(
            f"probe features table lacks column(s) {', '.join(missing)}.", path=path, fix="rerun `dnalens probe`."
        )
    frame = frame.set_index(frame["feature"].astype(int)).reindex(range(n_features))
    frame["feature"] = np.arange(n_features)
    frame["annotated"] = frame["annotated"].fillna(False).astype(bool)
    frame["frequency"] = frame["frequency"].fillna(0.0).astype(float)
    frame["write_norm"] = frame["mean_active"].fillna(0.0).astype(float).to_numpy() * decoder_norms
    return frame.reset_index(drop=True)


def windows_bed_lines(measured: pd.DataFrame) -> str:
    """effects/windows.bed: BED6 of the windows measured (name: the window's buffer row)."""
    return "".join(
        f"{w.contig}\t{int(w.start)}\t{int(w.end)}\t{getattr(w, 'name', '') or int(w.row)}\t0\t{w.strand}\n"
        for w in measured.itertuples(index=False)
    )


def summary(table: pd.DataFrame, measured: pd.DataFrame, settings: EffectsSettings) -> dict:
    """A few counts for the log."""
    annotated = table[table["role"] == "annotated"] if len(table) else table
    return {
        "windows": len(measured),
        "tested": int(len(annotated)),
        "verdicts": annotated["effect_verdict"].value_counts().to_dict() if len(annotated) else {},
        "settings": json.loads(json.dumps(settings.__dict__, default=list)),
    }
