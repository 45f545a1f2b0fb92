"""The model's context for the report's first screen: how much better than a Markov chain it predicts DNA,
what removing the read layer costs, and how reproducible the dictionary is across seeds.

Why: a list of latents reads as "what the model learned" unless the reader also sees how little the model
may know. The bundled tiny model predicts the next base at 1.917 bits/nt on the chloroplast against 1.974
for a 5th-order Markov chain, and zero-ablating its read layer costs 0.015-0.023 nats/token; both numbers
were measured already (the model card's evaluation.json; sae_quality.json's `loss` block) and are said here
in words. Everything below is a pure function of those dicts, except `read_model_context` (the file edge).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dnalens.errors import InputError
from dnalens.report import sae_facts
from dnalens.settings import schema_defaults

EVALUATION_FILE = "evaluation.json"  # written next to the checkpoint by `dnalens eval-model` (models/card.py)
SEED_AGREEMENT_BAR = schema_defaults("report")["seed_agreement_bar"]
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class ModelContext:
    """What was measured about the model, its read layer and the dictionary (dicts as their files hold them)."""

    genome: str
    evaluation: dict[str, Any] = field(default_factory=dict)  # the model's evaluation.json; {} = none found
    quality: dict[str, Any] = field(default_factory=dict)  # sae_quality.json
    sae_config: dict[str, Any] = field(default_factory=dict)  # the dictionary's cfg.json
    replicate: pd.DataFrame | None = None  # sae_facts.REPLICATE_COLUMNS; None = no replicate dictionary


def evaluation_path(model_settings: Mapping[str, Any] | None) -> Path | None:
    """Where the model's evaluation.json lives: next to a tiny or hf checkpoint (the bundled one when
    `path` is null); None for Evo 2, whose weights come with no such file, and when no settings were given
    (the report must not credit one model with another's card)."""
    if model_settings is None:
        return None
    s = dict(model_settings)
    family = s.get("family", "tiny")
    if s.get("path"):
        directory = Path(str(s["path"]))
    elif family == "tiny":
        from dnalens.models.tiny_adapter import bundled_path

        directory = bundled_path()
    else:
        return None
    return directory / EVALUATION_FILE


def read_model_context(
    genome: str,
    quality: Mapping[str, Any] | None,
    sae_dir: str | Path | None,
    model_settings: Mapping[str, Any] | None,
) -> ModelContext:
    """Read the model's evaluation.json (when it has one), the SAE's cfg.json and its replicate's decoder."""
    evaluation: dict[str, Any] = {}
    path = evaluation_path(model_settings)
    if path is not None and path.is_file():
        try:
            evaluation = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON ({err.msg}).", path=path, line=err.lineno) from None
    return ModelContext(
        genome=genome,
        evaluation=evaluation,
        quality=dict(quality or {}),
        sae_config=sae_facts.read_sae_config(sae_dir),
        replicate=sae_facts.read_replicate_matches(sae_dir),
    )


def bits_versus_markov(evaluation: Mapping[str, Any], genome: str) -> dict[str, Any] | None:
    """Nucleotide-weighted bits/nt of the model and of the 5th-order Markov chain: this genome's row when the
    model card scored it (`unseen:<genome>` or `heldout:<genome>`), else every never-seen genome together,
    else every row. None when evaluation.json has no bits."""
    bits = {k: v for k, v in (evaluation.get("bits") or {}).items() if isinstance(v, Mapping)}
    if not bits:
        return None
    mine = {k: v for k, v in bits.items() if k.split(":", 1)[-1] == genome}
    unseen = {k: v for k, v in bits.items() if k.startswith("unseen:")}
    rows, scope = (
        (mine, "this genome")
        if mine
        else (unseen, "genomes the model never saw (not this one)")
        if unseen
        else (bits, "held-out DNA (not this genome)")
    )
    n = sum(int(b["n_nt"]) for b in rows.values())
    if n <= 0:
        return None
    model = sum(b["model_bits_per_nt"] * b["n_nt"] for b in rows.values()) / n
    markov = sum(b["markov5_bits_per_nt"] * b["n_nt"] for b in rows.values()) / n
    seen = "never seen in training" if all(k.startswith("unseen:") for k in rows) else "held out from training"
    return {"model": model, "markov": markov, "n_nt": n, "scope": scope, "seen": seen, "keys": sorted(rows)}


def bits_sentence(evaluation: Mapping[str, Any], genome: str) -> str:
    b = bits_versus_markov(evaluation, genome)
    if b is None:
        return f"{NOT_MEASURED}: the model has no evaluation.json (dnalens eval-model) beside its checkpoint"
    gain = b["markov"] - b["model"]
    better = "better" if gain >= 0 else "worse"
    return (
        f"On {b['scope']} ({b['n_nt']:,} nt, {b['seen']}) the model predicts the next base with "
        f"{b['model']:.3f} bits/nt, {abs(gain):.3f} bits/nt {better} than a 5th-order Markov chain "
        f"({b['markov']:.3f} bits/nt; 2.000 = a uniform guess)."
    )


def ablation_sentence(quality: Mapping[str, Any]) -> str:
    """The cost of zero-ablating the read layer, from sae_quality.json's `loss` block."""
    loss = quality.get("loss") if isinstance(quality.get("loss"), Mapping) else {}
    clean, zero, spliced = (loss.get(k) for k in ("ce_clean", "ce_zero", "ce_sae"))
    if not all(isinstance(v, (int, float)) for v in (clean, zero)):
        reason = loss.get("reason")
        return NOT_MEASURED + (f" ({reason})" if reason else "")
    layer = quality.get("layer") or "the read layer"
    text = (
        f"Removing {layer} (its output set to zero) raises the model's loss by {zero - clean:.3f} nats/token "
        f"({clean:.3f} → {zero:.3f}"
        + (f", {int(loss['tokens']):,} tokens" if isinstance(loss.get("tokens"), (int, float)) else "")
        + ")"
    )
    if isinstance(spliced, (int, float)):
        text += f"; with the SAE's reconstruction in its place the loss is {spliced:.3f} ({spliced - clean:+.4f})"
    return text + "."


def seed_agreement_sentence(quality: Mapping[str, Any], bar: float = SEED_AGREEMENT_BAR) -> tuple[str, bool | None]:
    """(sentence, meets the bar: True / False / None when not measured)."""
    d = quality.get("dictionary") if isinstance(quality.get("dictionary"), Mapping) else {}
    share = d.get("seed_agreement", quality.get("seed_agreement"))
    if not isinstance(share, (int, float)) or isinstance(share, bool):
        return NOT_MEASURED + " (no replicate dictionary: sae.replicate)", None
    cosine = d.get("seed_agreement_cosine", 0.8)
    ok = bool(share >= bar)
    verdict = "meets" if ok else "is BELOW"
    return (
        f"{100 * share:.1f}% of latents reappear (decoder cosine ≥ {cosine:g}) in a dictionary trained on the same "
        f"rows from another seed; {verdict} the bar of {100 * bar:.0f}% (report.seed_agreement_bar)",
        ok,
    )


def model_context_lines(ctx: ModelContext, seed_agreement_bar: float = SEED_AGREEMENT_BAR) -> list[tuple[str, str]]:
    """(what, in words) pairs for the first screen's `model_context` slot, in reading order."""
    lines = [
        ("how well the model predicts DNA", bits_sentence(ctx.evaluation, ctx.genome)),
        ("what the read layer carries", ablation_sentence(ctx.quality)),
        ("seed agreement", seed_agreement_sentence(ctx.quality, seed_agreement_bar)[0]),
    ]
    header = sae_facts.sae_description(ctx.sae_config)
    if header:
        lines.append(("the dictionary", header))
    return lines


def replicate_text(ctx: ModelContext, latent: int, cosine_bar: float | None = None) -> str:
    """A card's line: the latent's best match in the replicate dictionary, or why there is none."""
    if ctx.replicate is None:
        return "no replicate dictionary (sae.replicate)"
    rows = ctx.replicate[ctx.replicate["latent"] == int(latent)]
    if rows.empty:
        return "–"
    r = rows.iloc[0]
    d = ctx.quality.get("dictionary") if isinstance(ctx.quality.get("dictionary"), Mapping) else {}
    bar = cosine_bar if cosine_bar is not None else float(d.get("seed_agreement_cosine", 0.8))
    verdict = "reappears" if r["replicate_cosine"] >= bar else "does not reappear"
    return f"latent {int(r['replicate_latent'])}, cosine {r['replicate_cosine']:.2f} ({verdict}; bar {bar:g})"


def with_replicate_columns(table: pd.DataFrame, ctx: ModelContext | None) -> pd.DataFrame:
    """features.tsv plus `replicate_latent` and `replicate_cosine` (each latent's best decoder match in the
    seed + 1 replicate; empty when there is none)."""
    if ctx is None or ctx.replicate is None:
        return table.assign(
            replicate_latent=pd.array([pd.NA] * len(table), dtype="Int64"), replicate_cosine=float("nan")
        )
    matches = ctx.replicate.set_index("latent")
    latents = table["latent"].astype("int64")
    return table.assign(
        replicate_latent=latents.map(matches["replicate_latent"]).astype("Int64"),
        replicate_cosine=latents.map(matches["replicate_cosine"]).astype(float),
    )
