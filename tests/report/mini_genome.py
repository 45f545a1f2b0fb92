"""A 300 bp circular genome with one gene, read in overlapping windows on both strands.

chr1: gene `abcA` on + at 40-130 with CDS 60-120 (0-based half-open); an intron-bearing gene `xyzB`
on − at 180-280 with exons 180-200 and 240-280 and CDS 190-200 + 240-270. Windows: 100 bp, step
50, both strands; the last ones wrap the origin. Feature 0 fires on every base of the sense CDS of
abcA (activation 1 + base/1000 so the peak is the last base), feature 1 on the same bases read
antisense, feature 2 on xyzB's splice donor (first intron base, 199) read on −, feature 3 never.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dnalens.formats.probe_dir import SCORE_COLUMNS
from dnalens.report.inputs import ReportInputs
from dnalens.report.regions import Regions

LENGTH = 300
SEQ = ("ACGT" * 75)[:LENGTH]
CDS_BED = [("chr1", 60, 120, "abcA_cds", 0, "+")]  # what the labels stage exports for concept CDS


def windows() -> pd.DataFrame:
    rows = []
    token = 0
    for strand in "+-":
        for start in range(0, LENGTH, 50):
            rows.append(("chr1", start, start + 100, strand, token, token + 100))
            token += 100
    return pd.DataFrame(rows, columns=["contig", "start", "end", "strand", "token_start", "token_end"])


def codes(win: pd.DataFrame) -> sp.csr_matrix:
    n = int(win["token_end"].max())
    dense = np.zeros((n, 4), np.float32)
    for w in win.itertuples():
        for k in range(100):
            pos = (w.end - 1 - k if w.strand == "-" else w.start + k) % LENGTH
            row = w.token_start + k
            if 60 <= pos < 120:
                dense[row, 0 if w.strand == "+" else 1] = 1 + pos / 1000
            if pos == 199 and w.strand == "-":
                dense[row, 2] = 2.0
    return sp.csr_matrix(dense)


def scores() -> pd.DataFrame:
    """probe/feature_concept.parquet rows (probing contract: train-chosen `best_for_concept`, `annotated`
    from AUROC, margin over the best baseline and q)."""
    base = dict(auroc_train=0.9, f1_train=0.8, precision_train=0.8, recall_train=0.8, threshold=0.0, p=0.001)
    rows = [
        {
            "feature": 0,
            "concept": "CDS",
            "auroc_test": 0.99,
            "baseline_auroc_test": 0.6,
            "f1_test": 0.95,
            "precision_test": 1.0,
            "recall_test": 0.9,
            "q": 0.001,
            "annotated": True,
            "best_for_concept": True,
        },
        {
            "feature": 0,
            "concept": "gene",
            "auroc_test": 0.9,
            "baseline_auroc_test": 0.8,
            "f1_test": 0.7,
            "precision_test": 1.0,
            "recall_test": 0.5,
            "q": 0.001,
            "f1_train": 0.6,
            "annotated": False,
            "best_for_concept": True,
        },
        {
            "feature": 1,
            "concept": "CDS_antisense",
            "auroc_test": 0.98,
            "baseline_auroc_test": 0.6,
            "f1_test": 0.9,
            "precision_test": 1.0,
            "recall_test": 0.8,
            "q": 0.01,
            "annotated": True,
            "best_for_concept": True,
        },
        {
            "feature": 2,
            "concept": "intron",
            "auroc_test": 0.6,
            "baseline_auroc_test": 0.58,
            "f1_test": 0.1,
            "precision_test": 1.0,
            "recall_test": 0.05,
            "q": 0.5,
            "annotated": False,
            "best_for_concept": True,
        },
    ]
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["margin"] = frame["auroc_test"] - frame["baseline_auroc_test"]
    return frame.reindex(columns=list(SCORE_COLUMNS))


def feature_labels() -> pd.DataFrame:
    """probe/features.parquet: each feature's label (largest train margin)."""
    return pd.DataFrame({"feature": [0, 1, 2, 3], "label": ["CDS", "CDS_antisense", "intron", None]})


def concepts(s: pd.DataFrame | None = None) -> pd.DataFrame:
    """probe/concepts.parquet from the score rows flagged best_for_concept (train-chosen)."""
    s = scores() if s is None else s
    best = s.loc[s["best_for_concept"].astype(bool)]
    return pd.DataFrame(
        {
            "concept": best["concept"],
            "evaluated": True,
            "control": "",
            "baseline": "kmer3",
            "baseline_auroc_train": best["baseline_auroc_test"],
            "baseline_auroc_test": best["baseline_auroc_test"],
            "best_feature_auroc": best["feature"],
            "best_auroc_train": best["auroc_train"],
            "best_auroc_test": best["auroc_test"],
            "best_margin": best["margin"],
            "best_auroc_q": best["q"],
            "best_annotated": best["annotated"],
            "dense_probe_auroc": np.where(best["concept"] == "CDS", 0.97, np.nan),
            "sae_probe_auroc": np.where(best["concept"] == "CDS", 0.95, np.nan),
        }
    ).reset_index(drop=True)


def regions() -> Regions:
    table = pd.DataFrame(
        [
            ("chr1", "gene", 40, 130, "+", "abcA", "gene-abcA", "ABC transporter"),
            ("chr1", "CDS", 60, 120, "+", "abcA", "cds-abcA", "ABC transporter"),
            ("chr1", "gene", 180, 280, "-", "xyzB", "gene-xyzB", ""),
            ("chr1", "exon", 180, 200, "-", "xyzB", "ex1", ""),
            ("chr1", "exon", 240, 280, "-", "xyzB", "ex2", ""),
            ("chr1", "CDS", 190, 200, "-", "xyzB", "cds-xyzB", ""),
            ("chr1", "CDS", 240, 270, "-", "xyzB", "cds-xyzB", ""),
        ],
        columns=["contig", "type", "start", "end", "strand", "name", "id", "product"],
    )
    return Regions(table, {"chr1": LENGTH})


def anchors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "contig": ["chr1", "chr1", "chr1", "chr1"],
            "position": [60, 117, 239, 199],
            "strand": ["+", "+", "-", "-"],
            "kind": ["start_codon", "stop_codon", "splice_donor", "splice_acceptor"],
        }
    )


def sequence_of(contig: str, start: int, end: int, strand: str) -> str:
    bases = "".join(SEQ[p % LENGTH] for p in range(start, end))
    return bases[::-1].translate(str.maketrans("ACGT", "TGCA")) if strand == "-" else bases


def inputs(tmp_dir) -> ReportInputs:
    win = windows()
    return ReportInputs(
        genome="mini",
        codes=codes(win),
        windows=win,
        contig_lengths={"chr1": LENGTH},
        scores=scores(),
        label_summary=pd.DataFrame(
            {
                "concept": ["CDS", "CDS_antisense", "gene", "intron"],
                "instances": [2, 2, 2, 1],
                "genome_nt": [100, 100, 190, 40],
                "genome_coverage": [0.17, 0.17, 0.32, 0.07],
            }
        ),
        concepts=concepts(),
        feature_labels=feature_labels(),
        regions=regions(),
        anchors=anchors(),
        sequence_of=sequence_of,
        genome_fasta=tmp_dir / "genome.fa",
        annotation_gff3=tmp_dir / "annotation.gff3",
        model="tiny-test",
        layer="blocks.1",
        sae="topk-16",
        sae_quality={"explained_variance": 0.91, "l0": 12.5},
    )
