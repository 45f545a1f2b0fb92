"""The variants stage's outputs (results/<genome>/variants/): what `dnalens variants` writes and the report reads.

- variants.tsv (+ variants.parquet, the same table): one row per VCF record x ALT that was scored, in file
  order; columns below (REQUIRED are the DESIGN.md contract).
- variants.vcf.gz + .tbi: the input records, sorted, with INFO DNALENS_DLL (Δ LL mean), DNALENS_CSQ,
  DNALENS_TOP (latent:label:Δ joined by '|') and DNALENS_SKIP (why an ALT was not scored).
- summary.json: record and allele counts, `skipped` (allele count per reason, every reason listed),
  `skip_reasons` (their meaning), consequence counts, passes run, the model, layer and SAE used, settings.

Δ log-likelihoods are in nats, alt − ref, summed over the window the variant is read in (`window_start`,
`window_end`, 0-based half-open; `window_end` passes the contig length on a circular contig): `delta_ll_fwd`
reads it on +, `delta_ll_rc` its reverse complement, `delta_ll` is their mean (Evo 2's scoring). For an indel
the two windows differ in length and their totals are compared as they are.
Latent columns: latent ids are features.tsv's; Δ = alt − ref of the latent's activation summed over the
positions within ± variants.latent_window nt of the variant; FWD = the + read, RC = the − read, aggregate
= (ΔFWD + ΔRC) / 2. `top_latents` = "latent:label:aggregate;..." (label empty when the probe stage did not
annotate the latent), largest |aggregate| first, with `top_delta_fwd` / `top_delta_rc` the per-strand values
in the same order; flips count latents active somewhere in the region in one allele only (`_on`: alt only,
`_off`: reference only), on either strand (`n_flips_on`), or per strand; `flips_on` / `flips_off` list them
(either strand, joined by '+').
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnalens.atomic import atomic_path
from dnalens.errors import InputError

TSV, PARQUET, VCF, SUMMARY = "variants.tsv", "variants.parquet", "variants.vcf.gz", "summary.json"
VARIANT_COLUMNS = (
    "chrom",  # contig, as in the VCF
    "pos",  # 1-based POS, as in the VCF
    "id",
    "ref",
    "alt",
    "record",  # 0-based index of the record in the VCF
    "alt_index",  # 0-based index of this ALT in the record
    "consequence",  # variants.consequence.CONSEQUENCES
    "gene",  # name of the transcript behind the consequence ('' intergenic)
    "codon_change",  # e.g. TGG>TAG, CDS strand (substitutions in a CDS)
    "protein_change",  # e.g. W45*, 1-based codon number
    "window_start",
    "window_end",
    "offset_from_centre",  # nt from the window centre to the variant's first REF base
    "delta_ll_fwd",
    "delta_ll_rc",
    "delta_ll",
    "top_latents",
    "top_delta_fwd",
    "top_delta_rc",
    "n_flips_on",
    "n_flips_off",
    "n_flips_on_fwd",
    "n_flips_off_fwd",
    "n_flips_on_rc",
    "n_flips_off_rc",
    "flips_on",
    "flips_off",
    "latent_abs_delta",  # sum over latents of |aggregate Δ|
    "kmer5_score",  # variants.baseline: sequence-only expectation of the change
    "codon_usage_score",
)
REQUIRED = ("chrom", "pos", "ref", "alt", "consequence", "delta_ll_fwd", "delta_ll_rc", "delta_ll", "top_latents")


# the `consequence` column's vocabulary, most severe first (variants/consequence.py decides them)
CONSEQUENCES = {
    "stop_gained": "a codon becomes a stop codon",
    "frameshift": "an indel in a CDS whose length is not a multiple of 3",
    "stop_lost": "the stop codon becomes a sense codon",
    "start_lost": "the start codon becomes a codon other than ATG, GTG, TTG",
    "inframe_indel": "an indel in a CDS whose length is a multiple of 3",
    "missense": "a codon becomes one of another amino acid",
    "coding_sequence_variant": "a CDS base whose codon is incomplete (partial gene)",
    "splice_region": "within 3 exon or 8 intron bases of an intron end",
    "synonymous": "a codon becomes one of the same amino acid (or a start / stop codon stays one)",
    "utr": "an exon base of a coding transcript outside its CDS",
    "ncrna_gene": "inside a non-coding RNA transcript (tRNA, rRNA, ncRNA, ...)",
    "intron": "inside an intron, away from its ends",
    "intergenic": "no annotated transcript",
}
NON_SYNONYMOUS = ("stop_gained", "missense", "start_lost", "stop_lost")


def write_variants_table(table: pd.DataFrame, directory: str | Path) -> list[Path]:
    """variants.tsv (NA for missing, 6 significant digits) and variants.parquet in `directory`, atomically."""
    directory = Path(directory)
    table = table.reindex(columns=list(VARIANT_COLUMNS))
    tsv, parquet = directory / TSV, directory / PARQUET
    with atomic_path(tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    return [tsv, parquet]


def read_variants_table(path: str | Path) -> pd.DataFrame:
    """variants.parquet (or .tsv) with the contract's columns checked."""
    path = Path(path)
    if not path.is_file():
        raise InputError("variants table not found.", path=path, fix="run `dnalens variants` first.")
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["NA"])
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(
            f"variants table lacks column(s) {', '.join(missing)}.",
            path=path,
            fix="rerun `dnalens variants` (this dnalens version writes them).",
        )
    return table
