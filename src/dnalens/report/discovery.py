"""Discovery: strong runs of gene-like latents OUTSIDE the annotation → candidates.gff3.

A latent whose label is CDS-, gene-, tRNA-, rRNA- or promoter-like (annotated, or — when none is —
the best ones by margin, said so in the file header) fires in runs (report/hits.py merges them; on
above max(its label's threshold, STRONG_FRACTION) of its max).
Runs of one target family on one strand join when at most `CANDIDATE_GAP` nt apart; the parts that
overlap an annotated instance of the family (either strand) are cut away; what is left and long
enough is a candidate, scored by activation-weighted length (Σ hit score/1000 × bases) and listed
with the nearest annotated gene and its distance. Pure functions over DataFrames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnalens.report.orfs import SequenceOf, candidate_orf
from dnalens.report.regions import Regions
from dnalens.report.tracks import gff3_escape
from dnalens.settings import schema_defaults

# target family of a label (its name without "_antisense"), and what counts as an annotated instance
FAMILY_OF = (
    (re.compile(r"^(CDS|CDS_codon_pos\d|start_codon|stop_codon)$"), "CDS"),
    (re.compile(r"^(gene|exon)$"), "gene"),
    (re.compile(r"^tRNA$"), "tRNA"),
    (re.compile(r"^rRNA$"), "rRNA"),
    (re.compile(r"^(promoter|sigma70_minus_10_box|sigma70_minus_35_box)$"), "promoter"),
)
INSTANCE_TYPES = {
    "CDS": ("CDS", "gene", "pseudogene"),
    "gene": ("gene", "pseudogene", "CDS", "tRNA", "rRNA", "ncRNA"),
    "tRNA": ("tRNA",),
    "rRNA": ("rRNA",),
    "promoter": ("gene", "pseudogene"),
}
MIN_LENGTH = {"CDS": 90, "gene": 90, "tRNA": 50, "rRNA": 100, "promoter": 20}
# a promoter instance: this many nt upstream of an annotated gene (the labels stage's default window)
PROMOTER_UPSTREAM = schema_defaults("concepts")["promoter_upstream"]
STRONG_FRACTION = 0.5  # a run is on above max(label threshold, this) × the latent's max
CANDIDATE_GAP = 30  # runs of one family/strand at most this far apart form one candidate
MIN_HIT_SCORE = 200  # a run counts when its peak is >= this / 1000 of the latent's max
FALLBACK_LATENTS = 10  # when nothing is annotated: this many gene-like latents, largest train label margin
GENE_TYPES = ("gene", "pseudogene", "ncRNA_gene")
CANDIDATE_COLUMNS = (
    "rank",
    "contig",
    "start",
    "end",
    "strand",
    "family",
    "score",
    "n_hits",
    "latents",
    "nearest_gene",
    "distance",
)
# CDS- and gene-family candidates, when the genome sequence is given (report/orfs.py): 1-based closed span
ORF_COLUMNS = ("orf_frame", "orf_start", "orf_end", "orf_start_codon", "orf_stop_codon", "orf_covers")
ORF_FAMILIES = ("CDS", "gene")


@dataclass(frozen=True)
class Chosen:
    """Latents used for discovery: latent → (label, family, annotated); `annotated` False = fallback."""

    latents: dict[int, tuple[str, str, bool]]
    annotated: bool


def family_of(label) -> tuple[str | None, bool]:
    """(family, antisense) of a concept label; family None when it is not gene-like."""
    if not isinstance(label, str):
        return None, False
    antisense = label.endswith("_antisense")
    name = label[: -len("_antisense")] if antisense else label
    for pattern, family in FAMILY_OF:
        if pattern.match(name):
            return family, antisense
    return None, antisense


def choose_latents(table: pd.DataFrame, labels: pd.Series, n_fallback: int = FALLBACK_LATENTS) -> Chosen:
    """Annotated gene-like latents that fire; if there are none, the `n_fallback` gene-like ones with the
    largest (positive) held-out margin, marked as not passing. `labels`: latent → the drawn (own-strand) label."""
    rows = table[table["max_activation"] > 0]
    like = [(int(r.latent), labels.get(int(r.latent)), bool(r.annotated)) for r in rows.itertuples()]
    like = [(f, lab, ann) for f, lab, ann in like if family_of(lab)[0] is not None]
    annotated = [x for x in like if x[2]]
    margin = table.set_index("latent")["margin"].astype(float)
    positive = [x for x in like if margin.get(x[0], np.nan) > 0]  # a fallback latent must at least beat its baseline
    picked = annotated if annotated else sorted(positive, key=lambda x: -margin[x[0]])[:n_fallback]
    return Chosen({f: (lab, family_of(lab)[0], ann) for f, lab, ann in picked}, bool(annotated))


def instance_intervals(regions: Regions, family: str) -> pd.DataFrame:
    """contig, start, end of the annotated instances of a family (both strands), merged and sorted."""
    t = regions.table[regions.table["type"].isin(INSTANCE_TYPES[family])][["contig", "start", "end", "strand"]]
    if family == "promoter":
        plus = t["strand"] != "-"
        start = np.where(plus, t["start"] - PROMOTER_UPSTREAM, t["end"])
        end = np.where(plus, t["start"], t["end"] + PROMOTER_UPSTREAM)
        t = pd.DataFrame({"contig": t["contig"], "start": np.maximum(start, 0), "end": end})
    return merge_intervals(t[["contig", "start", "end"]], gap=0)


def merge_intervals(t: pd.DataFrame, gap: int, keys: tuple[str, ...] = ("contig",)) -> pd.DataFrame:
    """Union of intervals per key, joining those at most `gap` nt apart."""
    if t.empty:
        return t.iloc[:0].copy()
    t = t.sort_values([*keys, "start", "end"], kind="stable").reset_index(drop=True)
    key = pd.MultiIndex.from_frame(t[list(keys)]).codes if len(keys) > 1 else [pd.factorize(t[keys[0]])[0]]
    group = np.zeros(len(t), np.int64)
    for codes in key:
        group = group * (int(np.max(codes)) + 1) + np.asarray(codes)
    new = np.ones(len(t), bool)
    new[1:] = group[1:] != group[:-1]
    big = int(t["end"].max()) + gap + 1
    rank = np.cumsum(new)
    cum_end = np.maximum.accumulate(rank * big + t["end"].to_numpy(np.int64)) - rank * big
    opens = new.copy()
    opens[1:] |= t["start"].to_numpy()[1:] > cum_end[:-1] + gap
    block = np.cumsum(opens) - 1
    out = t.groupby(block).agg({**{k: "first" for k in keys}, "start": "min", "end": "max"})
    return out.reset_index(drop=True)


def subtract(start: int, end: int, blocked: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) minus the sorted, disjoint intervals `blocked` ([k, 2])."""
    pieces, pos = [], start
    lo = np.searchsorted(blocked[:, 1], start, side="right") if len(blocked) else 0
    for a, b in blocked[lo:]:
        if a >= end:
            break
        if a > pos:
            pieces.append((pos, int(a)))
        pos = max(pos, int(b))
    if pos < end:
        pieces.append((pos, end))
    return pieces


def find_candidates(
    hits: pd.DataFrame,
    chosen: Chosen,
    regions: Regions,
    *,
    gap: int = CANDIDATE_GAP,
    min_hit_score: int = MIN_HIT_SCORE,
    sequence_of: SequenceOf | None = None,
    genetic_code: int = 11,
) -> pd.DataFrame:
    """CANDIDATE_COLUMNS, best score first, plus ORF_COLUMNS when `sequence_of` is given (CDS- and gene-like
    candidates; empty for the others). `hits`: hits.HIT_COLUMNS with `feature` = latent id."""
    info = chosen.latents
    h = hits[hits["feature"].isin(list(info)) & (hits["score"] >= min_hit_score)]
    if h.empty:
        return pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    fam = np.array([info[int(f)][1] for f in h["feature"]], dtype=object)
    flip = np.array([family_of(info[int(f)][0])[1] for f in h["feature"]])
    strand = np.where(flip, np.where(h["strand"] == "+", "-", "+"), h["strand"])  # antisense label: other strand
    runs = pd.DataFrame(
        {
            "family": fam,
            "contig": h["contig"].to_numpy(),
            "strand": strand,
            "start": h["start"].to_numpy(np.int64),
            "end": h["end"].to_numpy(np.int64),
            "latent": h["feature"].to_numpy(np.int64),
            "score": h["score"].to_numpy(float),
        }
    )
    merged = merge_intervals(runs, gap, ("family", "contig", "strand"))
    rows = []
    for family, group in merged.groupby("family", sort=True):
        blocked = instance_intervals(regions, family)
        block_of = {c: g[["start", "end"]].to_numpy(np.int64) for c, g in blocked.groupby("contig")}
        members = runs[runs["family"] == family]
        no_block = np.zeros((0, 2), np.int64)
        for r in group.itertuples():
            pieces = [
                (a, b)
                for a, b in subtract(int(r.start), int(r.end), block_of.get(r.contig, no_block))
                if b - a >= MIN_LENGTH[family]
            ]
            if not pieces:  # most runs lie inside annotated genes: no run table filtering for them
                continue
            inside = members[
                (members["contig"] == r.contig)
                & (members["strand"] == r.strand)
                & (members["start"] < r.end)
                & (members["end"] > r.start)
            ]
            for a, b in pieces:
                part = inside[(inside["start"] < b) & (inside["end"] > a)]
                covered = np.minimum(part["end"], b) - np.maximum(part["start"], a)
                rows.append(
                    {
                        "contig": r.contig,
                        "start": a,
                        "end": b,
                        "strand": r.strand,
                        "family": family,
                        "score": float((part["score"] / 1000 * covered).sum()),
                        "n_hits": len(part),
                        "latents": ",".join(str(x) for x in sorted(set(part["latent"]))),
                    }
                )
    out = pd.DataFrame(rows, columns=[c for c in CANDIDATE_COLUMNS if c not in ("rank", "nearest_gene", "distance")])
    out = out.sort_values(["score", "contig", "start"], ascending=[False, True, True], kind="stable")
    out = out.reset_index(drop=True)
    near = [nearest_gene(regions, c, s, e) for c, s, e in zip(out["contig"], out["start"], out["end"])]
    out["nearest_gene"] = [n for n, _ in near]
    out["distance"] = [d for _, d in near]
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out = out[list(CANDIDATE_COLUMNS)]
    return out if sequence_of is None else with_orfs(out, sequence_of, regions.contig_lengths, genetic_code)


def with_orfs(candidates: pd.DataFrame, sequence_of: SequenceOf, lengths, genetic_code: int = 11) -> pd.DataFrame:
    """ORF_COLUMNS for the CDS- and gene-like candidates (report/orfs.py); other families get empty cells."""
    rows = []
    for r in candidates.itertuples():
        orf = None
        if r.family in ORF_FAMILIES and r.contig in lengths:
            orf = candidate_orf(
                sequence_of, r.contig, int(r.start), int(r.end), r.strand, int(lengths[r.contig]), code=genetic_code
            )
        rows.append(
            (orf.frame, orf.start + 1, orf.end, orf.start_codon or "none", orf.stop_codon or "none", orf.covers)
            if orf is not None
            else ("", pd.NA, pd.NA, "", "", np.nan)
        )
    extra = pd.DataFrame(rows, columns=list(ORF_COLUMNS), index=candidates.index)
    return pd.concat([candidates, extra.astype({"orf_start": "Int64", "orf_end": "Int64"})], axis=1)


def nearest_gene(regions: Regions, contig: str, start: int, end: int) -> tuple[str, int]:
    """("name (product)", distance in nt; 0 = overlapping) of the closest annotated gene, ("", -1) if none."""
    t = regions.table[(regions.table["contig"] == contig)]
    genes = t[t["type"].isin(GENE_TYPES + ("CDS", "tRNA", "rRNA", "ncRNA"))]  # a tRNA may have no gene parent
    if genes.empty:
        return "", -1
    gs, ge = genes["start"].to_numpy(np.int64), genes["end"].to_numpy(np.int64)
    dist = np.maximum(0, np.maximum(gs - end, start - ge))
    i = int(np.argmin(2 * dist + ~genes["type"].isin(GENE_TYPES).to_numpy()))  # a tie: the gene, not its CDS
    g = genes.iloc[i]
    name = g["name"] if isinstance(g["name"], str) and g["name"] else g["id"]
    product = g.get("product", "")
    return (f"{name} ({product})" if isinstance(product, str) and product else str(name)), int(dist[i])


def gene_spans(regions: Regions, types=INSTANCE_TYPES["gene"]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """contig → (starts, ends) of the merged annotated features of `types` (either strand)."""
    t = regions.table[regions.table["type"].isin(types)][["contig", "start", "end"]]
    merged = merge_intervals(t, gap=0)
    return {c: (g["start"].to_numpy(np.int64), g["end"].to_numpy(np.int64)) for c, g in merged.groupby("contig")}


def inside_share(contigs, positions, regions: Regions | dict, types=INSTANCE_TYPES["gene"]) -> float:
    """Share of (contig, 0-based position) pairs inside an annotated feature of `types` (either strand);
    `regions` may be `gene_spans(...)` already (computed once for many latents)."""
    positions = np.asarray(positions, dtype=np.int64)
    contigs = np.asarray(contigs, dtype=object)
    if len(positions) == 0:
        return float("nan")
    spans = regions if isinstance(regions, dict) else gene_spans(regions, types)
    inside = np.zeros(len(positions), bool)
    for contig in set(contigs):
        if contig not in spans:
            continue
        sel = contigs == contig
        s, e = spans[contig]
        i = np.searchsorted(s, positions[sel], side="right") - 1
        inside[sel] = (i >= 0) & (positions[sel] < e[np.maximum(i, 0)])
    return float(inside.mean())


def orf_attributes(r) -> dict[str, object]:
    """GFF3 attributes of a candidate's ORF (`find_candidates` with the sequence), {} when it has none."""
    frame = getattr(r, "orf_frame", "")
    if not isinstance(frame, str) or not frame:
        return {}
    return {
        "orf_frame": frame,
        "orf_span": f"{int(r.orf_start)}-{int(r.orf_end)}",
        "orf_length": int(r.orf_end) - int(r.orf_start) + 1,
        "orf_start_codon": r.orf_start_codon,
        "orf_stop_codon": r.orf_stop_codon,
        "orf_covers": f"{r.orf_covers:.2f}",
    }


def candidates_gff3(candidates: pd.DataFrame, chosen: Chosen, lengths: dict[str, int], genome: str) -> str:
    """GFF3 text: a header saying which latents were used (and whether they pass), one line per candidate."""
    lines = ["##gff-version 3"]
    lines += [f"##sequence-region {c} 1 {n}" for c, n in lengths.items()]
    lines.append(
        f"# dnalens discovery candidates for {genome}: strong runs of gene-like latents outside the "
        "annotated instances of their concept, best score first."
    )
    if not chosen.latents:
        lines.append(
            "# no latent that fires has a gene-, CDS-, tRNA-, rRNA- or promoter-like label that passes the "
            "annotation rule or at least beats its sequence-only baseline: no candidates."
        )
    elif chosen.annotated:
        lines.append(
            "# latents used (all pass the annotation rule): "
            + ", ".join(f"f{f} {lab}" for f, (lab, _, _) in sorted(chosen.latents.items()))
        )
    else:
        lines.append(
            "# NO gene-like latent passes the annotation rule; these candidates come from the "
            f"{len(chosen.latents)} gene-like latents with the largest margin, which DID NOT PASS: "
            + ", ".join(f"f{f} {lab}" for f, (lab, _, _) in sorted(chosen.latents.items()))
        )
    lines.append(
        "# score = sum over the candidate's runs of (peak activation / latent max) x bases; "
        "distance = nt to the nearest annotated gene."
    )
    lines.append(
        "# CDS/gene candidates: orf_frame (+1..+3 from the contig start, -1..-3 from its end), orf_span (1-based, "
        "start codon or upstream stop + 3 to the stop codon), orf_start_codon / orf_stop_codon (none = not found), "
        "orf_covers = share of the candidate inside the ORF. Hits were read up to report.max_hits_per_feature "
        "per latent (the strongest)."
    )
    for r in candidates.itertuples():
        attrs = {
            "ID": f"candidate{r.rank}",
            "Name": f"candidate {r.family} {r.rank}",
            "family": r.family,
            "latents": r.latents,
            "n_hits": r.n_hits,
            "passes_annotation_rule": str(chosen.annotated).lower(),
            "nearest_gene": r.nearest_gene or "none",
            "distance": r.distance,
            **orf_attributes(r),
        }
        text = ";".join(f"{k}={gff3_escape(v)}" for k, v in attrs.items())
        end = min(int(r.end), lengths.get(r.contig, int(r.end)))  # a run past a circular contig's origin: cut
        lines.append(
            "\t".join(
                [
                    r.contig,
                    "dnalens",
                    "sequence_feature",
                    str(int(r.start) + 1),
                    str(end),
                    f"{r.score:.3f}",
                    r.strand,
                    ".",
                    text,
                ]
            )
        )
    return "\n".join(lines) + "\n"
