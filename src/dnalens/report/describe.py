"""One generated line per latent ("feature description") from its own statistics: no language model,
nothing fetched, the same line on every run.

Built from what the pipeline measured and nothing else: the train-chosen label and the strand view,
the held-out AUROC and margin over the best sequence-only baseline, whether the label pair passes
the annotation rule (else "candidate" when the label beats its baseline but fails another part of
the rule, "below" when its margin is under the cut, "no concept beats its baseline" when its best,
train-chosen label does not beat it at all), the bases at the
latent's strongest positions, and the share of those positions inside annotated genes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from dnalens.settings import schema_defaults

# readable names of the labels stage's concepts (labels relative to the read strand)
CONCEPT_WORDS = {
    "CDS": "coding sequence (CDS)",
    "gene": "gene body",
    "exon": "exon",
    "intron": "intron",
    "intergenic": "intergenic DNA",
    "tRNA": "tRNA",
    "rRNA": "rRNA",
    "ncRNA": "non-coding RNA",
    "promoter": "promoter (upstream of a gene)",
    "start_codon": "start codon",
    "stop_codon": "stop codon",
    "splice_donor": "splice donor",
    "splice_acceptor": "splice acceptor",
    "exon_last_base": "last base of an exon",
    "exon_first_base": "first base of an exon",
    "Shine_Dalgarno_sequence": "Shine-Dalgarno sequence",
    "sigma70_minus_35_box": "σ70 −35 box",
    "sigma70_minus_10_box": "σ70 −10 box",
    "five_prime_UTR": "5′ UTR",
    "three_prime_UTR": "3′ UTR",
    "repeat_region": "repeat region",
    "mobile_genetic_element": "mobile element",
}
BASES = "ACGT"
EVEN_GC = 0.1  # G/C share within 0.5 ± this at a codon latent's peak: no preference claimed
DOMINANT_SHARE = 0.5  # a base at >= this share of the peak positions is named ("peak base mostly G")


@dataclass(frozen=True)
class LatentFacts:
    """What a description is made from; None / NaN where a statistic is not available."""

    label: str | None
    view: str = "own"  # strand view carrying the label ("own" | "opposite"; views.py)
    auroc_test: float = float("nan")
    margin: float = float("nan")
    annotated: bool = False
    min_margin: float = schema_defaults("probe")["min_margin"]  # the probe run's "beats the baseline" cut
    fires: bool = True  # max activation > 0
    peak_counts: tuple[int, int, int, int] | None = None  # A, C, G, T at the peak positions (read order)
    n_peaks: int = 0  # peak positions looked at
    inside_genes: float | None = None  # share of those peaks inside annotated genes


def concept_words(label: str) -> tuple[str, str]:
    """(what, strand) for a concept name: "CDS_codon_pos3_antisense" → ("codon position 3 of CDS", "antisense")."""
    strand = "sense"
    name = label
    if name.endswith("_antisense"):
        name, strand = name[: -len("_antisense")], "antisense"
    match = re.fullmatch(r"(\w+?)_codon_pos(\d)", name)
    if match:
        return f"codon position {match.group(2)} of {match.group(1)}", strand
    if name.startswith("base_"):
        return f"base {name[5:]}", "unstranded"
    if name == "intergenic":
        strand = "unstranded"
    return CONCEPT_WORDS.get(name, name.replace("_", " ")), strand


def _strand_text(strand: str, view: str) -> str:
    if strand == "unstranded":
        return "either strand"
    where = "sense" if strand == "sense" else "antisense"
    return f"{where} strand" + (", opposite-strand view" if view == "opposite" else "")


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float, np.floating, np.integer)) and bool(np.isfinite(x))


def _composition(counts: tuple[int, int, int, int], n: int) -> str:
    total = sum(counts)
    if total == 0:
        return ""
    shares = np.asarray(counts, dtype=float) / total
    top = int(np.argmax(shares))
    gc = shares[1] + shares[2]
    if shares[top] >= DOMINANT_SHARE:
        return f"peak base mostly {BASES[top]} ({100 * shares[top]:.0f} % of top-{n} positions)"
    return f"peak bases {100 * gc:.0f} % G/C (top-{n} positions)"


def describe(facts: LatentFacts) -> str:
    """The one-line description (see the module docstring); every clause states a measured number."""
    if not facts.fires:
        return "never fires on this genome (dead latent)"
    if not isinstance(facts.label, str) or not facts.label:
        head = "no concept label (not probed)"
    else:
        what, strand = concept_words(facts.label)
        head = f"{what} ({_strand_text(strand, facts.view)})"
    parts = [head]
    if isinstance(facts.label, str) and facts.label:
        numbers = []
        if _finite(facts.auroc_test):
            numbers.append(f"held-out AUROC {facts.auroc_test:.2f}")
        if _finite(facts.margin):
            numbers.append(f"{facts.margin:+.2f} over its best sequence-only baseline")
        if facts.annotated:
            verdict = "annotated"
        elif _finite(facts.margin) and facts.margin >= facts.min_margin:
            verdict = "candidate: beats its baseline but fails the annotation rule"
        elif _finite(facts.margin) and facts.margin > 0:
            verdict = f"not annotated: its margin over the sequence-only baseline is below {facts.min_margin:g}"
        else:
            verdict = "not annotated: no concept beats its sequence-only baseline"
        parts.append(verdict + (f" ({', '.join(numbers)})" if numbers else ""))
    if facts.peak_counts is not None and sum(facts.peak_counts) and facts.n_peaks:
        if is_codon_position(facts.label):  # the codon base it marks: G/C- or A/T-ending codons?
            gc = (facts.peak_counts[1] + facts.peak_counts[2]) / sum(facts.peak_counts)
            if abs(gc - 0.5) < EVEN_GC:
                parts.append(
                    f"no G/C or A/T preference at its peak base (G/C at {100 * gc:.0f} % of its "
                    f"top-{facts.n_peaks} positions)"
                )
            else:
                parts.append(
                    f"strongest on {'G/C' if gc > 0.5 else 'A/T'} at its peak base "
                    f"({100 * max(gc, 1 - gc):.0f} % of its top-{facts.n_peaks} positions)"
                )
        else:
            parts.append(_composition(facts.peak_counts, facts.n_peaks))
    if facts.inside_genes is not None and facts.n_peaks:
        parts.append(f"{100 * facts.inside_genes:.0f} % of its top-{facts.n_peaks} positions inside genes")
    return "; ".join(parts)


def is_codon_position(label) -> bool:
    return isinstance(label, str) and "_codon_pos" in label
