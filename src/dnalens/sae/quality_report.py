"""sae_quality.json: how well a dictionary reconstructs held-out rows, for one genome or pooled over several.

Per genome the rows are that genome's held-out blocks; pooled, every genome gives an equal share of
`quality_tokens` (and of `loss_windows` for loss recovered), so a long genome does not drown a short one
and dead or dense latents are judged on the mix the dictionary was trained on.
"""

from __future__ import annotations

from itertools import chain
from typing import Sequence

from dnalens.errors import InputError
from dnalens.sae.sources import SampleSource, equal_shares, same_layer


def quality_report(
    sae_path: str,
    sources: Sequence[SampleSource],
    settings,
    *,
    model: str | None = None,
    replicate: str | None = None,
    measured_on: str = "held_out",
) -> dict:
    """The whole sae_quality.json for `sources` (one genome or several, pooled); `measured_on` "train": on
    training windows spread over the genome instead (what a choice among SAEs may read, sae/bench_settings.py)."""
    from dnalens.formats.activation_shards import read_manifest
    from dnalens.formats.window_table import read_windows_bed
    from dnalens.sae.data import evaluation_windows, holdout_mask, window_batches
    from dnalens.sae.io import load_sae
    from dnalens.sae.quality import reconstruction_quality
    from dnalens.sae.row_bases import open_row_bases
    from dnalens.sae.settings import resolve_device
    from dnalens.sae.strand_shared import StrandSharedSAE, require_concat

    device = resolve_device(settings.device)
    sae = load_sae(sae_path, k=settings.k, device=device)
    manifests = [read_manifest(src.activations) for src in sources]
    manifest = same_layer(manifests, sources)
    if isinstance(sae, StrandSharedSAE):
        for src, m in zip(sources, manifests):
            require_concat(m, src.activations)
    windows = [read_windows_bed(src.windows) for src in sources]
    held = [holdout_mask(w, settings.holdout_fraction, settings.holdout_blocks) for w in windows]
    if measured_on == "train":
        budgets = equal_shares(settings.quality_tokens, len(sources))
        evaluated = tuple(spread_training_windows(w, h, t) for w, h, t in zip(windows, held, budgets))
        held_out = (False,) * len(sources)
    else:
        evaluated, held_out = zip(*(evaluation_windows(h) for h in held))
    report = {
        "sae": str(sae_path),
        "layer": manifest.get("layer"),
        "architecture": sae.architecture,
        "d_in": sae.d_in,
        "d_sae": sae.d_sae,
        "k": sae.k,
        "genomes": [src.name for src in sources],
        "held_out": all(held_out),
        "evaluation_windows": int(sum(int(e.sum()) for e in evaluated)),
        "holdout_fraction": settings.holdout_fraction,
        "holdout_blocks": settings.holdout_blocks,
    }
    if measured_on == "train":
        report["measured_on"] = "train"
    bases = [
        open_row_bases(src.activations, w, src.fasta, context=sae.lookup_context) for src, w in zip(sources, windows)
    ]
    report["base_lookup"] = sae.lookup_context
    report["strand_shared"] = isinstance(sae, StrandSharedSAE)
    budgets = equal_shares(settings.quality_tokens, len(sources))

    def rows():
        return chain.from_iterable(
            window_batches(src.activations, e, max_tokens=max(1, t), bases=b)
            for src, e, t, b in zip(sources, evaluated, budgets, bases)
        )

    report.update(reconstruction_quality(sae, rows()))
    report["dictionary"] = dictionary_block(sae_path, sae, report, rows, replicate)
    report["loss"] = loss_block(sae, sources, manifest, windows, evaluated, settings, model)
    return report


def spread_training_windows(windows, held, tokens: int):
    """bool [n_windows]: training windows (not `held`) spread evenly over the genome, both read strands of a
    stretch together, about `tokens` nucleotides in all (window lengths count), so train-row quality is not
    the genome's first stretch only."""
    import numpy as np

    train = np.flatnonzero(~np.asarray(held, bool))
    spans: dict[tuple, list[int]] = {}
    for i in train:
        w = windows[i]
        spans.setdefault((w.contig, w.start, w.end), []).append(int(i))
    total = sum(windows[i].end - windows[i].start for i in train)
    step = max(1, int(total // max(int(tokens), 1)))
    out = np.zeros(len(windows), bool)
    for j, members in enumerate(spans.values()):
        if j % step == 0:
            out[members] = True
    return out


def dictionary_block(path, sae, report, rows, replicate=None) -> dict:
    """Per strand state for a strand-shared SAE (its per-strand dictionary on both halves of each row),
    else per row: the `dictionary` block of sae_quality.json (dictionary.py). The replicate's decoder comes
    from `replicate` (an SAE directory) or, when train-sae trained both, from the file saved next to the SAE."""
    from dnalens.sae.dictionary import decoder, dictionary_report
    from dnalens.sae.io import load_dictionary_reference, load_sae
    from dnalens.sae.quality import reconstruction_quality
    from dnalens.sae.strand_shared import StrandSharedSAE, strand_states

    if isinstance(sae, StrandSharedSAE):
        states = (strand_states(batch, sae.lookup_context) for batch in rows())
        metrics, d_in, unit = reconstruction_quality(sae.strand_sae, states), sae.strand_sae.d_in, "strand state"
    else:
        metrics, d_in, unit = report, sae.d_in, "row"
    own, reference = decoder(sae), load_dictionary_reference(path)
    if replicate:
        twin = decoder(load_sae(replicate, device="cpu"))
        if tuple(twin.shape) != tuple(own.shape):
            raise InputError(
                f"the replicate's decoder is {tuple(twin.shape)}, this SAE's {tuple(own.shape)}.",
                path=replicate,
                fix="give the replicate trained with the same sae settings (train-sae --as-replicate).",
            )
        reference["W_dec_replicate"] = twin
    return dictionary_report(metrics, d_in, own, reference, unit=unit)


def loss_block(sae, sources, manifest, windows, held, settings, model) -> dict:
    """Splice the SAE into the model on held-out windows (each strand pass when activations are pooled);
    several genomes share `loss_windows` equally and their passes are pooled."""
    if model is None or any(src.fasta is None for src in sources):
        return {"loss_recovered": None, "reason": "no --fasta/--model given"}
    from dnalens.formats.window_table import window_sequence
    from dnalens.genome.fasta import open_fasta
    from dnalens.models.base import load_model, model_arg
    from dnalens.sae.quality import gate_loss_recovered, pooled_loss_recovered
    from dnalens.sae.splice import strand_passes

    adapter = load_model(model_arg(model))
    seqs = []
    for src, genome_windows, used, n in zip(sources, windows, held, equal_shares(settings.loss_windows, len(sources))):
        fasta = open_fasta(src.fasta)
        rows = [i for i in range(len(genome_windows)) if used[i]][: max(1, n)]
        seqs.extend(window_sequence(fasta, genome_windows[i]) for i in rows)
    passes = strand_passes(
        adapter,
        seqs,
        manifest["layer"],
        sae.to(adapter.device),
        trim_start=int(manifest.get("trim_start", 0)),
        trim_end=int(manifest.get("trim_end", 0)),
    )
    if not passes:
        return {"loss_recovered": None, "reason": "no held-out window longer than the trimmed positions"}
    result = gate_loss_recovered(pooled_loss_recovered(passes), settings.min_ablation_gap)
    return {
        **result,
        "windows": len(seqs),
        "passes": len(passes),
        "rc_pool": adapter.spec.rc_pool,
        "tokens": int(sum(p.tokens.size for p in passes)),
    }
