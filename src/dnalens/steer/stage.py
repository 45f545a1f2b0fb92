"""`run_steer`: the whole stage on in-memory inputs (model adapter, SAE, prompts, latents) → table + sequences.

Rows per latent: one per strength of the schedule (mode add skips 0: it is the unsteered control) and, for
every non-zero strength, a random direction of the decoder row's norm; plus the unsteered rows (the plain
model, generated once and listed under every latent). Row n of every condition shares prompt n and sampling
seed seed + n. All rows are generated together, in chunks of `CHUNK` rows, one row's edit per row.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from dnalens.formats.steer import STEER_COLUMNS
from dnalens.models.interventions import check_per_base, nucleotide_log_probs, observed_log_likelihood
from dnalens.sae.row_bases import row_codes
from dnalens.steer import readouts
from dnalens.steer.directions import RowEdit, latent_atom, random_direction
from dnalens.steer.generate import generate, sequence_uniforms
from dnalens.steer.inputs import Prompt, SteeredLatent
from dnalens.steer.settings import SteerSettings
from dnalens.steer.stepper import make_stepper

log = logging.getLogger(__name__)
CHUNK = 320  # rows generated together (the tiny model's caches: ~0.3 GB at 1.3 kb)


@dataclass(frozen=True)
class SteerInputs:
    adapter: object
    sae: object
    layer: str
    prompts: Sequence[Prompt]
    latents: Sequence[SteeredLatent]
    genome_counts: np.ndarray  # 4-mer counts [256]
    trim_end: int = 0  # readouts skip the last generated positions the buffer would trim
    trim_start: int = 0  # the re-encode drops the first positions as the buffer did (buffer.json trim_start)


def plan_rows(latents: Sequence[SteeredLatent], settings: SteerSettings) -> pd.DataFrame:
    """One row per sequence to generate: latent, label, annotated, unit, mode, strength, control, n, seed, id."""
    rows = []
    for n in range(settings.n_sequences):
        rows.append(("unsteered", None, 0.0, n))
    for lat in latents:
        for s in settings.strengths:
            if settings.mode == "add" and s == 0:
                continue
            for n in range(settings.n_sequences):
                rows.append(("none", lat, float(s), n))
        for s in settings.strengths:
            if s != 0:
                for n in range(settings.n_sequences):
                    rows.append(("random", lat, float(s), n))
    table = pd.DataFrame(
        {
            "control": [r[0] for r in rows],
            "latent": [-1 if r[1] is None else r[1].latent for r in rows],
            "strength": [r[2] for r in rows],
            "n": [r[3] for r in rows],
        }
    )
    table["seed"] = settings.seed + table["n"]
    table["mode"] = np.where(table["control"] == "none", settings.mode, "add")
    table["mode"] = np.where(table["control"] == "unsteered", "none", table["mode"])
    table["id"] = [
        f"unsteered_n{n}" if c == "unsteered" else f"f{j}_{'steered' if c == 'none' else c}_s{s:+g}_n{n}"
        for c, j, s, n in zip(table["control"], table["latent"], table["strength"], table["n"])
    ]
    return table


def build_edit(plan: pd.DataFrame, inputs: SteerInputs, d_model: int, settings: SteerSettings) -> RowEdit:
    """Every planned row's edit: zero (unsteered), s·unit·direction (add, random), or a clamp to s·unit."""
    delta = torch.zeros(len(plan), d_model)
    clamp_rows, atoms, values, pass_sae = [], [], [], None
    units = {lat.latent: lat.unit for lat in inputs.latents}
    for i, (control, j, s) in enumerate(zip(plan["control"], plan["latent"], plan["strength"])):
        if control == "unsteered":
            continue
        atom = latent_atom(inputs.sae, int(j), d_model)
        value = float(s) * units[int(j)]
        if control == "random":
            delta[i] = value * random_direction(atom.direction, settings.seed * 1_000_003 + int(j))
        elif settings.mode == "add":
            delta[i] = value * atom.direction
        else:
            clamp_rows.append(i)
            atoms.append(atom.atom)
            values.append(value)
            pass_sae = atom.pass_sae
    return RowEdit(delta, np.asarray(clamp_rows, np.int64), np.asarray(atoms), np.asarray(values), pass_sae)


def generate_all(plan: pd.DataFrame, inputs: SteerInputs, settings: SteerSettings) -> list[str]:
    """The generated bases of every planned row (unsteered rows once)."""
    adapter = inputs.adapter
    d_model = adapter.d_model(inputs.layer) // (2 if adapter.spec.rc_pool == "concat" else 1)
    edit = build_edit(plan, inputs, d_model, settings)
    context = int(getattr(edit.pass_sae, "lookup_context", 0) or 0) if edit.needs_codes else 0
    prompt_len = max(len(p.seq) for p in inputs.prompts)
    out: list[str] = []
    for a in range(0, len(plan), CHUNK):
        rows = np.arange(a, min(a + CHUNK, len(plan)))
        n = plan["n"].to_numpy()[rows]
        stepper = make_stepper(adapter, inputs.layer, edit.rows(rows), context, prompt_len + settings.length + 8)
        uniforms = sequence_uniforms(plan["seed"].to_numpy()[rows], settings.length)
        out += generate(stepper, [inputs.prompts[int(i)].seq for i in n], uniforms, settings.temperature)
        log.info("generated %d / %d sequences", rows[-1] + 1, len(plan))
    return out


def latent_activations(inputs: SteerInputs, full: Sequence[str], latent_ids: Sequence[int], start: int) -> list[float]:
    """Each sequence re-encoded through model + SAE as the buffer's rows were (trim_start … len − trim_end,
    float16-rounded, one sequence per encode call: a batch-level SAE's top-k budget is per window and the first
    positions' outsized activations would eat it): the latent's mean over positions start … len − trim_end (the
    generated bases the buffer would keep; all generated ones when that is empty)."""
    sae = inputs.sae
    context = int(getattr(sae, "lookup_context", 0) or 0)
    rows = inputs.adapter.activations(list(full), [inputs.layer])[inputs.layer]
    first = min(int(inputs.trim_start), int(start))
    out = []
    with torch.no_grad():
        for seq, x, j in zip(full, rows, latent_ids):
            end = len(seq) - inputs.trim_end if len(seq) - inputs.trim_end > start else len(seq)
            kept = torch.as_tensor(x[first:end], dtype=torch.float32).half().float()
            bases = torch.as_tensor(row_codes(seq, context)[first:end]) if context else None
            codes = sae.encode(kept, bases)[:, int(j)]
            out.append(readouts.mean_latent_activation(codes[start - first :].cpu().numpy()))
    return out


def run_steer(inputs: SteerInputs, settings: SteerSettings) -> tuple[pd.DataFrame, dict[str, str]]:
    """(steer table, {id: generated bases}) for every latent × strength × control × prompt."""
    import pyrodigal

    check_per_base(inputs.adapter, "steering (dnalens steer)")
    plan = plan_rows(inputs.latents, settings)
    generated = generate_all(plan, inputs, settings)
    prompts = [inputs.prompts[int(n)] for n in plan["n"]]
    full = [p.seq + g for p, g in zip(prompts, generated)]
    start = len(inputs.prompts[0].seq)

    # the unsteered rows are listed once per latent (their latent_activation differs by latent)
    unsteered = plan[plan["control"] == "unsteered"]
    listed = [plan[plan["control"] != "unsteered"]]
    for lat in inputs.latents:
        listed.append(unsteered.assign(latent=lat.latent, id=[f"f{lat.latent}_{i}" for i in unsteered["id"]]))
    table = pd.concat(listed, ignore_index=False).sort_values(["latent", "control", "strength", "n"], kind="stable")
    src = table.index.to_numpy()
    table = table.reset_index(drop=True)

    unique = sorted(set(src.tolist()))
    finder = pyrodigal.GeneFinder(meta=True)
    seq_readouts = {i: readouts.sequence_readouts(generated[i], inputs.genome_counts, finder) for i in unique}
    logp = nucleotide_log_probs(inputs.adapter, [full[i] for i in unique])
    loglik = {i: readouts.bits_per_base(observed_log_likelihood(lp, full[i])[start:]) for i, lp in zip(unique, logp)}
    activation = latent_activations(inputs, [full[i] for i in src], table["latent"].tolist(), start)

    info = {lat.latent: lat for lat in inputs.latents}
    table["label"] = [info[int(j)].label for j in table["latent"]]
    table["annotated"] = [info[int(j)].annotated for j in table["latent"]]
    table["unit"] = [info[int(j)].unit for j in table["latent"]]
    table["prompt"] = [prompts[i].name for i in src]
    table["prompt_length"] = start
    table["length"] = settings.length
    table["latent_activation"] = activation
    for key in next(iter(seq_readouts.values())):
        table[key] = [seq_readouts[i][key] for i in src]
    table["loglik_unsteered"] = [loglik[i] for i in src]
    sequences = {sid: generated[i] for sid, i in zip(table["id"], src)}
    return table[list(STEER_COLUMNS)], sequences


def summary(table: pd.DataFrame, settings: SteerSettings, layer: str) -> dict:
    """steer.json: the settings, the layer, and per latent × control × strength the mean of each readout."""
    means = (
        table.groupby(["latent", "control", "strength"])[["latent_activation", "gc", "period3_power", "genes_per_kb"]]
        .mean()
        .reset_index()
    )
    return {
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(settings).items()},
        "layer": layer,
        "strength_unit": "multiples of the latent's mean activation where it fires (probe features mean_active)",
        "rows": int(len(table)),
        "means": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in means.to_dict("records")
        ],
    }
