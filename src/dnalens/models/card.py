"""MODEL_CARD.md from the training summary (training.json) and `dnalens eval-model` output.

Why generated: the card's numbers must be the measured ones; regenerating it after a retrain keeps
data, steps, time, bits/nt and probe results in step with the checkpoint.
"""

from __future__ import annotations

from typing import Any


def _best(probes: dict[str, Any], pool: str, metric: str) -> tuple[str, float]:
    rows = [(k.split("|")[0], v[metric]) for k, v in probes.items() if k.endswith(f"|rc_pool={pool}")]
    return max(rows, key=lambda r: r[1]) if rows else ("-", float("nan"))


def steps_line(training: dict[str, Any]) -> str:
    """Steps done of steps planned: a card must say when the schedule was not finished."""
    done, planned = int(training["steps_done"]), int(training.get("steps") or training["steps_done"])
    line = f"{done:,} of {planned:,} planned steps ({100 * done / max(planned, 1):.0f} %)"
    if done < planned:
        line += (
            ": the schedule did not finish; `dnalens train-model --resume-from <this directory> --out <new>`"
            " continues it"
        )
    return line + "."


def bits_headline(bits: dict[str, Any]) -> list[str]:
    """Nucleotide-weighted mean bits/nt of the model next to the 5th-order Markov baseline, per group."""
    lines = []
    for prefix, what in (("heldout:", "held-out tails of the training genomes"), ("unseen:", "never-seen genomes")):
        rows = [b for k, b in bits.items() if k.startswith(prefix)]
        n = sum(b["n_nt"] for b in rows)
        if not n:
            continue
        model = sum(b["model_bits_per_nt"] * b["n_nt"] for b in rows) / n
        markov = sum(b["markov5_bits_per_nt"] * b["n_nt"] for b in rows) / n
        lines.append(
            f"Bits/nt on {what} ({n:,} nt): model {model:.3f} vs 5th-order Markov {markov:.3f} "
            f"({model - markov:+.3f}; 2.000 = uniform)."
        )
    return lines


def _schedule(training: dict[str, Any]) -> str:
    s = training.get("settings", {})
    if training.get("schedule") == "steps":
        budget = f"; max_minutes {s.get('max_minutes')} is a per-run budget" if s.get("max_minutes") else ""
        return f"schedule by step{budget}"
    if s.get("max_minutes"):  # written by the trainer before the schedule moved to steps only
        return f"max_minutes {s.get('max_minutes')} put the schedule on wall time"
    return "schedule by step"


def _devices(training: dict[str, Any]) -> str:
    runs = training.get("runs") or []
    devices = sorted({r["device"] + (f", {r['autocast']} autocast" if r.get("autocast") else "") for r in runs})
    return "; ".join(devices) if devices else "2 shared CPU cores"


def _restarts(training: dict[str, Any]) -> list[str]:
    s = training.get("settings", {})
    return [
        f"Resumed at step {r['from_step']:,} from `{r['source']}` without its AdamW moments: they restarted, "
        f"and the learning rate was ramped up again over {s.get('warmup_steps')} steps."
        for r in training.get("runs") or []
        if r.get("optimizer_state") == "fresh"
    ]


def render_card(
    name: str, training: dict[str, Any], config: dict[str, Any], evaluation: dict[str, Any], layer: str, notes: str = ""
) -> str:
    hist = training.get("history", [])
    last = hist[-1] if hist else {}
    lines = [
        f"# {name}",
        "",
        "A small Evo 2-style DNA language model (StripedHyena-2 block pattern, Evo 2's byte tokenizer and",
        "module names) bundled with dnalens so the demo runs on a laptop CPU. Not a biological model:",
        "a test article for the interpretability pipeline.",
        "",
        "## Architecture",
        "",
        f"- {training.get('n_params', 0):,} parameters, d_model {config['d_model']}, blocks "
        f"{', '.join(config['block_types'])} (se = short explicit conv, mr = medium explicit conv, li = long implicit"
        " FFT conv, att = causal attention), gated MLP ratio " + str(config["mlp_ratio"]) + ".",
        "- Tokens: UTF-8 bytes (A=65, C=67, G=71, T=84), vocab 512, identical to Evo 2.",
        "- `blocks.N` returns a tuple whose first element is the residual stream; `blocks.N.mlp.l3` exists.",
        "",
        "## Training data",
        "",
        "| file | contig | length | held out (last, contiguous) |",
        "|---|---|---|---|",
    ]
    for src in training.get("sources", []):
        lines.append(f"| {src['file']} | {src['contig']} | {src['length']:,} | {src['heldout_nt']:,} |")
    s = training.get("settings", {})
    lines += [
        "",
        "Never seen in training: V. cholerae O395 chromosome 2, the A. thaliana chloroplast (NC_000932),",
        "the Y. pestis plasmid pPCP1.",
        "",
        "## Training run",
        "",
        f"- {steps_line(training)}",
        f"- {training['steps_done']:,} steps × batch {s.get('batch_size')} × {s.get('seq_len')} nt = "
        f"{training['tokens_seen']:,} tokens; wall time {training['elapsed_s'] / 60:.0f} min ({_devices(training)}).",
        f"- AdamW lr {s.get('lr')} (warm-up {s.get('warmup_steps')}, cosine to {s.get('min_lr_ratio')}×; "
        f"{_schedule(training)}), weight decay {s.get('weight_decay')}, "
        f"seed {s.get('seed')}, reverse-complement augmentation {s.get('rc_augment')}.",
        *[f"- {line}" for line in _restarts(training)],
        f"- Last logged: train {last.get('train_bits')} bits/nt, held-out {last.get('heldout_bits')} bits/nt (step {last.get('step')}).",
        *[f"- {line}" for line in bits_headline(evaluation.get("bits", {}))],
        "",
        "## Held-out bits per nucleotide",
        "",
        "Both models scored on exactly the same positions (every position with 5 preceding ACGT bases inside",
        "1,024-nt windows); the Markov model is 5th order, fitted on both strands of the same training DNA.",
        "",
        "| held-out DNA | nucleotides | model | 5th-order Markov |",
        "|---|---|---|---|",
    ]
    for key, b in evaluation.get("bits", {}).items():
        lines.append(f"| {key} | {b['n_nt']:,} | {b['model_bits_per_nt']:.3f} | {b['markov5_bits_per_nt']:.3f} |")
    lines += [
        "",
        "## Linear probes on never-seen genomes",
        "",
        "Protocol: read the + strand; label codon position (3 classes, inside + strand CDS) and sense CDS vs",
        "rest (negatives include antisense genes); logistic regression trained on the first contiguous half",
        "of the genome, scored on the second half. Baseline: the same probes on a 15-nt one-hot context.",
        f"Layer for the headline numbers: `{layer}` (the default `extract.layers`).",
        "",
        "| genome | features | codon-position accuracy | sense-CDS AUROC |",
        "|---|---|---|---|",
    ]
    for genome, probes in evaluation.get("probes", {}).items():
        oh = probes["onehot15"]
        lines.append(f"| {genome} | 15-nt one-hot | {oh['codon_accuracy']:.3f} | {oh['sense_cds_auroc']:.3f} |")
        for pool in ("none", "mean", "concat"):
            key = f"{layer}|rc_pool={pool}"
            if key in probes:
                lines.append(
                    f"| {genome} | `{layer}`, rc_pool={pool} | {probes[key]['codon_accuracy']:.3f} | "
                    f"{probes[key]['sense_cds_auroc']:.3f} |"
                )
        for pool in ("none", "concat"):
            (lc, c), (la, a) = _best(probes, pool, "codon_accuracy"), _best(probes, pool, "sense_cds_auroc")
            lines.append(f"| {genome} | best block, rc_pool={pool} | {c:.3f} (`{lc}`) | {a:.3f} (`{la}`) |")
    if notes:
        lines += ["", "## Notes", "", notes]
    lines += [
        "",
        "## Reproduce",
        "",
        "From the repository root (`training_settings.json` and `evaluation_settings.json` sit next to this card;",
        "the workflow's `train_model` rule runs the same trainer from the config's `training:` block):",
        "",
        "```",
        f"dnalens train-model --settings resources/models/{name}/training_settings.json --out results/models/{name}",
        f"dnalens eval-model --model results/models/{name} \\",
        "  --train-genome resources/genomes/training/ecoli_K12_MG1655.fasta.gz --train-genome resources/genomes/training/saureus_N315.fasta.gz \\",
        "  --train-genome resources/genomes/training/hpylori_G27.fasta.gz --train-genome resources/genomes/training/cdiphtheriae_NCTC11397.fna.gz \\",
        f"  --settings resources/models/{name}/evaluation_settings.json --out evaluation.json --card MODEL_CARD.md",
        "```",
        "",
    ]
    if int(training["steps_done"]) < int(training.get("steps") or 0):
        lines[-1:] = [
            "",
            "Finish the schedule from this checkpoint (same step counter, batches and learning rate by step; rerun",
            "the same command until `steps_done` reaches `steps`, each run stopping after `max_minutes`):",
            "",
            "```",
            f"dnalens train-model --resume-from resources/models/{name} --out results/models/{name}-finished",
            "```",
            "",
        ]
    return "\n".join(lines)
