"""Files `dnalens explain --out DIR` writes, and their columns (README.md, "Explain your sequence").

explain.tsv: one row per nucleotide of each input sequence, in order.
  seq_id          the FASTA record id, or the region as given (contig:start-end, 1-based)
  pos             1-based position within the sequence
  chrom           the contig (a genome region) or seq_id (a FASTA record): the bigWigs' chromosome
  chrom_pos       1-based position on `chrom` (= pos for a FASTA record)
  base            the nucleotide (upper case)
  log_likelihood  ln P(base | the bases before it in its window) under the model (natural log; NaN at the
                  first base of a sequence and at N)
  edge            true where the nucleotide was read with less context than the genome run's trims give
                  (the first/last trim nucleotides of a sequence without genome flanks): no stored twin
  latent_<feature>_<label>  the activation of one shown latent (a feature id of the dictionary's codes: for a
                  strand-shared dictionary j < n is latent j on the read strand, j >= n latent j - n on the
                  other strand); <label> is the probe stage's label when the latent passed the strict
                  annotation rule, else `unlabelled`

latents.tsv: one row per shown latent, in column order.
  column, feature, latent (the dictionary's latent), view (own / opposite / single), label (empty unless
  annotated), annotated, role (annotated / top), max_activation (on this input), auroc_test and margin (the
  probe table's held-out AUROC and margin over the best sequence-only baseline for `label`), bigwig (file name)

tracks/: `<column>.bw` per shown latent and `log_likelihood.bw` (one value per base, span 1), and
chrom.sizes (the genome's contigs, or the FASTA's sequences).
explain.html: self-contained (inline SVG, no network).
"""

from __future__ import annotations

import re

TABLE = "explain.tsv"
LATENTS = "latents.tsv"
PAGE = "explain.html"
TRACKS = "tracks"
CHROM_SIZES = "chrom.sizes"
LOG_LIKELIHOOD_TRACK = "log_likelihood.bw"
BASE_COLUMNS = ("seq_id", "pos", "chrom", "chrom_pos", "base", "log_likelihood", "edge")
LATENT_COLUMNS = (
    "column",
    "feature",
    "latent",
    "view",
    "label",
    "annotated",
    "role",
    "max_activation",
    "auroc_test",
    "margin",
    "bigwig",
)
UNLABELLED = "unlabelled"


def latent_column(feature: int, label: str) -> str:
    """`latent_<feature>_<label>` with the label reduced to letters, digits, _ . - (a file-name-safe column)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label or UNLABELLED).strip("_") or UNLABELLED
    return f"latent_{int(feature)}_{safe}"
