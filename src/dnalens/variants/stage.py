"""`dnalens variants`: a genome's VCF -> variants.tsv (+ parquet), the annotated VCF + index, summary.json.

Order of work: read and check the VCF (vcf_input), classify each allele (consequence), group alleles into
shared windows (windows), then per chunk of windows one batched run of the model over every reference and
alt window on both strands (scoring.run_passes: log-likelihood and the SAE's layer from one pass), the Δ
log-likelihoods and the latent changes near each variant (latent_changes), and the sequence-only baselines
(baseline). Everything is written into a temporary directory that replaces results/<g>/variants/ at the end,
so a killed job leaves the old outputs or none.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from dnalens.errors import InputError
from dnalens.variants.latent_changes import LatentReader, region
from dnalens.variants.scoring import both_strands, delta_log_likelihood, run_passes
from dnalens.variants.settings import VariantSettings
from dnalens.variants.vcf_input import Allele
from dnalens.variants.windows import SharedWindow, plan_windows, window_sequences

log = logging.getLogger(__name__)
_CHUNK_WINDOWS = 8  # windows per batched model run: bounds the rows held on the host


@dataclass(frozen=True)
class BufferSae:
    """What the genome's buffer says about its codes: the layer, the SAE (path, digest) and the trims."""

    layer: str
    sae_path: str
    sae_digest: str | None
    trims: tuple[int, int]


def read_buffer_sae(buffer_dir: str | Path) -> BufferSae:
    path = Path(buffer_dir) / "buffer.json"
    if not path.is_file():
        raise InputError("buffer.json not found.", path=path, fix="run the buffer stage for this genome first.")
    meta = json.loads(path.read_text())
    for key in ("layer", "sae"):
        if not meta.get(key):
            raise InputError(f"buffer.json has no `{key}`.", path=path, fix="rebuild the buffer with this dnalens.")
    return BufferSae(
        meta["layer"],
        meta["sae"],
        meta.get("sae_digest"),
        (int(meta.get("trim_start", 0)), int(meta.get("trim_end", 0))),
    )


def load_buffer_sae(info: BufferSae, buffer_dir):
    """The SAE the buffer's codes came from, checked against the digest it recorded."""
    from dnalens.sae.encode_resume import sae_identity
    from dnalens.sae.io import load_sae

    sae = load_sae(info.sae_path)
    digest = sae_identity(sae, "cpu")["weights"]
    if info.sae_digest and digest != info.sae_digest:
        raise InputError(
            f"the SAE at {info.sae_path} ({digest}) is not the one that encoded this buffer ({info.sae_digest}).",
            path=Path(buffer_dir) / "buffer.json",
            fix="rerun the encode and buffer stages, or restore the dictionary the buffer was built with.",
        )
    return sae


def check_reader(adapter, sae, layer: str) -> None:
    """The pooled rows the SAE will read must have its width (and a strand-shared SAE concat rows)."""
    from dnalens.sae.strand_shared import StrandSharedSAE

    pool = adapter.spec.rc_pool
    if isinstance(sae, StrandSharedSAE) and pool != "concat":
        raise InputError(
            f"a strand-shared SAE needs model.rc_pool: concat, not {pool!r}.", fix="set model.rc_pool: concat."
        )
    width = adapter.d_model(layer)  # the pooled width (activations pool as rc_pool says)
    if width != sae.d_in:
        raise InputError(
            f"layer {layer} gives rows of width {width} but the SAE reads d_in={sae.d_in}.",
            fix="use the model and layer the genome's SAE was trained on.",
        )


def score_alleles(
    adapter,
    layer: str,
    reader: LatentReader,
    fasta,
    alleles: Sequence[Allele],
    windows: Sequence[SharedWindow],
    lengths: dict[str, int],
    settings: VariantSettings,
    *,
    progress: bool = False,
) -> tuple[dict[int, dict[str, Any]], int]:
    """{allele index: Δ LL and latent columns} and the number of sequences run through the model."""
    from tqdm import tqdm

    out: dict[int, dict[str, Any]] = {}
    passes = 0
    with tqdm(
        total=len(alleles), desc="variants", unit="allele", file=sys.stderr, disable=not progress, mininterval=5.0
    ) as bar:
        for c in range(0, len(windows), _CHUNK_WINDOWS):
            chunk = windows[c : c + _CHUNK_WINDOWS]
            seqs = [window_sequences(fasta, w, alleles, lengths[w.contig]) for w in chunk]
            flat = both_strands([s for ref, alts in seqs for s in (ref, *alts)])
            reads = run_passes(adapter, flat, layer)
            passes += len(flat)
            at = 0
            for win, (ref, alts) in zip(chunk, seqs):
                ref_pair = (reads[at], reads[at + 1])
                at += 2
                for i, alt_seq in zip(win.alleles, alts):
                    alt_pair = (reads[at], reads[at + 1])
                    at += 2
                    out[i] = _allele_columns(
                        reader, alleles[i], win, lengths, ref, ref_pair, alt_seq, alt_pair, settings
                    )
                    bar.update(1)
    return out, passes


def _allele_columns(reader, allele, win, lengths, ref, ref_pair, alt_seq, alt_pair, settings) -> dict[str, Any]:
    fwd, rc, mean = delta_log_likelihood(ref_pair, alt_pair)
    off = win.offset(allele, lengths[win.contig])
    w = settings.latent_window
    ref_idx = region(off, len(allele.ref), w, len(ref))
    alt_idx = region(off, len(allele.alt), w, len(alt_seq))
    codes_ref = {
        s: reader.codes(*[p.rows for p in ref_pair], ref, ref_idx, "+" if s == "fwd" else "-") for s in ("fwd", "rc")
    }
    codes_alt = {
        s: reader.codes(*[p.rows for p in alt_pair], alt_seq, alt_idx, "+" if s == "fwd" else "-")
        for s in ("fwd", "rc")
    }
    change = reader.change(codes_ref, codes_alt)
    on = np.union1d(change.flips_on["fwd"], change.flips_on["rc"])
    off_ = np.union1d(change.flips_off["fwd"], change.flips_off["rc"])
    return {
        "window_start": win.start,
        "window_end": win.end,
        "offset_from_centre": off - (win.end - win.start) // 2,
        "delta_ll_fwd": fwd,
        "delta_ll_rc": rc,
        "delta_ll": mean,
        "top_latents": ";".join(f"{j}:{label}:{agg:.3g}" for j, label, agg, _, _ in change.top),
        "top_delta_fwd": ";".join(f"{d:.3g}" for _, _, _, d, _ in change.top),
        "top_delta_rc": ";".join(f"{d:.3g}" for _, _, _, _, d in change.top),
        "n_flips_on": len(on),
        "n_flips_off": len(off_),
        "n_flips_on_fwd": len(change.flips_on["fwd"]),
        "n_flips_off_fwd": len(change.flips_off["fwd"]),
        "n_flips_on_rc": len(change.flips_on["rc"]),
        "n_flips_off_rc": len(change.flips_off["rc"]),
        "flips_on": "+".join(map(str, on)),
        "flips_off": "+".join(map(str, off_)),
        "latent_abs_delta": change.total_abs,
    }


def run_variants(
    vcf: str | Path,
    fasta_path: str | Path,
    annotation: str | Path,
    genome_json: str | Path,
    buffer_dir: str | Path,
    probe_dir: str | Path,
    model_spec,
    settings: VariantSettings,
    out: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Write results/<g>/variants/ (see formats/variants.py) as a whole; returns summary.json's content."""
    from dataclasses import replace

    from dnalens.atomic import atomic_dir
    from dnalens.formats.variants import SUMMARY, VCF, write_variants_table
    from dnalens.genome.fasta import open_fasta
    from dnalens.genome.prepare import read_genome_info
    from dnalens.models.base import load_model, parse_spec
    from dnalens.sae.strand_shared import StrandSharedSAE
    from dnalens.variants import baseline
    from dnalens.variants.annotated_vcf import write_annotated_vcf
    from dnalens.variants.consequence import CONSEQUENCES, load_consequence_model
    from dnalens.variants.latent_changes import probe_labels
    from dnalens.variants.vcf_input import SKIP_REASONS, read_vcf

    began = time.time()
    info = read_genome_info(genome_json)
    lengths = info.lengths
    circular = frozenset(c.name for c in info.contigs if c.topology == "circular")
    fasta = open_fasta(fasta_path)
    found = read_vcf(vcf, fasta, lengths, max_allele=settings.max_allele)
    csq_model = load_consequence_model(annotation, fasta, genome_json)
    buffer = read_buffer_sae(buffer_dir)
    sae = load_buffer_sae(buffer, buffer_dir)
    spec = replace(parse_spec(model_spec), batch_size=settings.batch_size)
    adapter = load_model(spec)
    check_reader(adapter, sae, buffer.layer)
    reader = LatentReader(
        sae,
        adapter.spec.rc_pool,
        probe_labels(probe_dir),
        strand_shared=isinstance(sae, StrandSharedSAE),
        trims=buffer.trims,
        top_n=settings.top_latents,
    )
    alleles = found.alleles
    windows = plan_windows(alleles, lengths, circular, settings.window, settings.shared_span)
    scores, passes = score_alleles(
        adapter, buffer.layer, reader, fasta, alleles, windows, lengths, settings, progress=progress
    )
    kmers, codons = baseline.kmer_counts(csq_model.sequences), baseline.codon_counts(csq_model)
    rows = []
    for i, a in enumerate(alleles):
        csq = csq_model.classify(a.contig, a.start, a.ref, a.alt)
        rows.append(
            {
                "chrom": a.contig, "pos": a.pos, "id": a.id, "ref": a.ref, "alt": a.alt,
                "record": a.record, "alt_index": a.alt_index, **asdict(csq), **scores[i],
                "kmer5_score": baseline.kmer5_score(kmers, csq_model.sequences[a.contig], a.start, a.ref, a.alt),
                "codon_usage_score": baseline.codon_usage_score(codons, csq.codon_change),
            }
        )  # fmt: skip
    table = pd.DataFrame(rows)
    if table.empty:
        from dnalens.formats.variants import VARIANT_COLUMNS

        table = pd.DataFrame(columns=list(VARIANT_COLUMNS))
    table = table.sort_values(["record", "alt_index"], kind="stable").reset_index(drop=True)
    summary = {
        "vcf": str(vcf),
        "n_records": found.n_records,
        "n_alleles_scored": len(alleles),
        "skipped": {reason: int(found.skipped.get(reason, 0)) for reason in SKIP_REASONS},
        "skip_reasons": SKIP_REASONS,
        "consequences": {k: int((table["consequence"] == k).sum()) for k in CONSEQUENCES} if len(table) else {},
        "n_windows": len(windows),
        "sequences_run": passes,
        "model": asdict(adapter.spec),
        "layer": buffer.layer,
        "sae": buffer.sae_path,
        "sae_digest": buffer.sae_digest,
        "settings": asdict(settings),
        "seconds": round(time.time() - began, 1),
    }
    scored = {(a.record, a.alt_index): _vcf_values(table.iloc[k]) for k, a in enumerate(_in_table_order(alleles))}
    with atomic_dir(out) as tmp:
        write_variants_table(table, tmp)
        write_annotated_vcf(vcf, tmp / VCF, scored, found.skipped_keys, list(lengths), lengths)
        (tmp / SUMMARY).write_text(json.dumps(summary, indent=1, default=str) + "\n")
    log.info(
        "%d allele(s) scored in %d window(s), %d sequences run, %.0f s",
        len(alleles),
        len(windows),
        passes,
        summary["seconds"],
    )
    return summary


def _in_table_order(alleles: Sequence[Allele]) -> list[Allele]:
    return sorted(alleles, key=lambda a: (a.record, a.alt_index))


def _vcf_values(row) -> tuple[float, str, str]:
    top = "|".join(row["top_latents"].split(";")) if row["top_latents"] else ""
    return float(row["delta_ll"]), str(row["consequence"]), top
