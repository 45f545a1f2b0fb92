"""SAE health in words for the report's first screen, from sae_quality.json (sae stage).

Each line says what was measured and the bar it is judged against, or "not measured" (with the sae
stage's reason where it gave one) — an SAE that was never checked must not read as a healthy one.
"""

from __future__ import annotations

import math
from typing import Any

from dnalens.report.model_context import SEED_AGREEMENT_BAR, seed_agreement_sentence

NOT_MEASURED = "not measured"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _bar(checks: dict, name: str) -> str:
    check = checks.get(name) or {}
    if check.get("bar") is None:
        return ""
    verdict = {True: "passes", False: "FAILS", None: "not judged"}[check.get("pass")]
    return f" — {verdict} the bar {check.get('rule', '≤')} {check['bar']:g}"


def sae_health(quality: dict[str, Any], seed_agreement_bar: float = SEED_AGREEMENT_BAR) -> list[tuple[str, str]]:
    """(what, sentence) pairs; empty when there is no sae_quality.json at all. The last pair names every check
    and its verdict; seed agreement is judged against `seed_agreement_bar` (report.seed_agreement_bar)."""
    if not quality:
        return []
    d = quality.get("dictionary") or {}
    checks = (d.get("health") or {}).get("checks") or {}
    unit = d.get("unit") or "nucleotide"
    out = []
    l0, d_in = _num(d.get("l0", quality.get("l0"))), _num(d.get("d_in", quality.get("d_in")))
    if l0 is None:
        out.append(("sparsity (L0)", NOT_MEASURED))
    else:
        ratio = _num(d.get("l0_per_d_in")) or (l0 / d_in if d_in else None)
        text = f"{l0:.1f} latents active per {unit} on average"
        if ratio is not None and d_in:
            text += f", {ratio:.2f} × the input width ({int(d_in)}){_bar(checks, 'l0_per_d_in')}"
        out.append(("sparsity (L0)", text))
    for key, what, tail in (
        ("dead_fraction", "dead latents", "never fire on held-out tokens"),
        ("dense_fraction", "dense latents", "fire on more than 10% of held-out tokens"),
    ):
        value = _num(d.get(key, quality.get(key)))
        out.append((what, NOT_MEASURED if value is None else f"{_pct(value)} of latents {tail}{_bar(checks, key)}"))
    cos = _num(d.get("init_cosine_median", quality.get("init_cosine_median")))
    out.append(
        (
            "movement from initialisation",
            NOT_MEASURED
            if cos is None
            else f"median decoder row has cosine {cos:.2f} with its random initialisation (1 = never moved)"
            f"{_bar(checks, 'init_cosine_median')}",
        )
    )
    seed_text, seed_ok = seed_agreement_sentence(quality, seed_agreement_bar)
    out.append(("seed agreement", seed_text))
    loss = quality.get("loss") if isinstance(quality.get("loss"), dict) else {}
    recovered = _num(loss.get("loss_recovered", quality.get("loss_recovered")))
    if recovered is None:
        note = loss.get("loss_recovered_note")
        reason = loss.get("reason")
        if note:
            out.append(("loss recovered", note))
        else:
            out.append(("loss recovered", NOT_MEASURED + (f" ({reason})" if reason else "")))
    else:
        out.append(
            (
                "loss recovered",
                f"{recovered:.3f} of the loss gap between the clean model and a zero-ablated "
                "layer is closed with the SAE spliced in (1 = perfect)",
            )
        )
    out.append(("overall", overall_verdict(checks, seed_ok, seed_agreement_bar)))
    return out


CHECK_NAMES = {
    "l0_per_d_in": "L0 / d_in",
    "dead_fraction": "dead latents",
    "dense_fraction": "dense latents",
    "init_cosine_median": "median decoder cosine to its initialisation",
}


def overall_verdict(checks: dict, seed_ok: bool | None, seed_bar: float) -> str:
    """What was checked and what passed, by name: never "passes every check" unless every one ran and passed."""
    judged = []
    for key, check in checks.items():
        if (check or {}).get("bar") is None:
            continue
        rule = {"<=": "≤", ">=": "≥"}.get(check.get("rule", "<="), check.get("rule", "<="))
        judged.append((f"{CHECK_NAMES.get(key, key)} {rule} {check['bar']:g}", check.get("pass")))
    judged.append((f"seed agreement ≥ {100 * seed_bar:.0f}%", seed_ok))
    passed = [name for name, ok in judged if ok is True]
    failed = [name for name, ok in judged if ok is False]
    unjudged = [name for name, ok in judged if ok is None]
    text = f"{len(passed)} of {len(judged)} checks pass"
    if passed:
        text += f" ({'; '.join(passed)})"
    if failed:
        text += f"; FAILS {'; '.join(failed)}: read the latents with care"
    if unjudged:
        text += f"; not judged: {'; '.join(unjudged)}"
    return text + ". Loss recovered is reported, not judged."
