"""The whole report stage on a hand-made genome: every output read back and checked against the labels."""

import gzip
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pyBigWig
import pysam
import pytest

from dnalens.report.options import ReportSettings
from dnalens.report.stage import run_report

from . import mini_genome
from .test_tracks import parse_gff3_strict


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results") / "mini"
    root.mkdir()
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    (root / "annotation.gff3").write_text("##gff-version 3\n")
    counts = run_report(mini_genome.inputs(root), ReportSettings(sequence_flank=40), root)
    assert counts["annotated"] == 2 and counts["tracks"] == 2  # browser files: annotated latents only
    return root


def test_features_table(out):
    table = pd.read_csv(out / "features.tsv", sep="\t")
    assert list(table["latent"]) == [0, 1, 2, 3]  # annotated first, by margin over the baseline
    assert (table["view"] == "own").all() and not any(c.startswith("opposite_") for c in table.columns)
    f = table.set_index("latent")
    assert f.loc[0, "label"] == "CDS" and f.loc[0, "annotated"]
    assert f.loc[0, "margin"] == pytest.approx(0.39) and f.loc[0, "baseline_auroc_test"] == pytest.approx(0.6)
    assert f.loc[0, "top_locus"] == "chr1:61-120" and f.loc[0, "top_strand"] == "+" and f.loc[0, "n_hits"] == 1
    assert f.loc[0, "top_genes"] == "abcA (ABC transporter)" and f.loc[2, "top_genes"] == "xyzB"
    assert f.loc[1, "label"] == "CDS_antisense" and f.loc[1, "top_strand"] == "-"
    # a latent that does not pass carries no label: its train-chosen concept is a marked candidate
    assert pd.isna(f.loc[2, "label"]) and not f.loc[2, "annotated"]
    assert f.loc[2, "best_candidate"] == "intron" and f.loc[2, "best_candidate_status"].startswith("fails")
    assert f.loc[2, "top_locus"] == "chr1:200-200" and f.loc[2, "top_strand"] == "-"
    assert f.loc[3, "n_hits"] == 0 and f.loc[3, "max_activation"] == 0
    # 60 CDS bases, each read by two + windows, out of 1,200 tokens
    assert f.loc[0, "activation_frequency"] == pytest.approx(120 / 1200)
    assert f.loc[0, "max_activation"] == pytest.approx(1.119, abs=1e-6)
    assert (table["layer"] == "blocks.1").all() and (table["sae"] == "topk-16").all()
    parquet = pd.read_parquet(out / "features.parquet")
    assert list(parquet.columns) == list(table.columns) and parquet["annotated"].dtype == bool
    pd.testing.assert_frame_equal(
        parquet[["latent", "n_hits", "label", "top_locus"]],
        table[["latent", "n_hits", "label", "top_locus"]],
        check_dtype=False,
    )
    assert parquet["f1_test"].tolist()[:3] == pytest.approx([0.95, 0.9, 0.1])


def test_feature_concepts_and_concept_summary(out):
    pairs = pd.read_csv(out / "feature_concepts.tsv", sep="\t")
    assert list(zip(pairs["latent"], pairs["concept"])) == [
        (0, "CDS"),
        (1, "CDS_antisense"),
        (0, "gene"),
        (2, "intron"),
    ]
    assert (pairs["view"] == "own").all() and "feature" not in pairs
    assert {"f1_train", "f1_test", "auroc_test", "margin", "q", "threshold"} <= set(pairs.columns)
    summary = pd.read_csv(out / "concept_summary.tsv", sep="\t").set_index("concept")
    assert summary.loc["CDS", "n_features_passing"] == 1 and summary.loc["CDS", "passes"]
    assert summary.loc["CDS", "best_latent"] == 0 and summary.loc["CDS", "baseline"] == "kmer3"
    assert summary.loc["gene", "beats_baseline"] and not summary.loc["gene", "passes"]  # margin 0.1, not annotated
    assert list(summary.index) == ["CDS", "gene", "intron"]  # one row per finding, passing first
    assert summary.loc["CDS", "twin"] == "CDS_antisense" and summary.loc["CDS", "twin_outcome"] == "passes"
    assert summary.loc["CDS", "strand"] == "sense" and summary.loc["CDS", "folded"] == "CDS, CDS_antisense"
    assert summary.loc["CDS", "dense_probe_auroc"] == 0.97 and summary.loc["CDS", "instances"] == 2
    assert pd.isna(summary.loc["intron", "dense_probe_auroc"])


def test_hits_match_the_label_bed(out):
    text = gzip.decompress((out / "tracks" / "hits.bed.gz").read_bytes()).decode()
    assert text.startswith("track ")
    lines = [line.split("\t") for line in text.splitlines()[1:]]
    by_name = {}
    for r in lines:
        by_name.setdefault(r[3], []).append((r[0], int(r[1]), int(r[2]), r[5]))
    ((contig, start, end, _, _, strand),) = mini_genome.CDS_BED
    assert by_name["f0:CDS"] == [(contig, start, end, strand)]
    assert by_name["f1:CDS_antisense"] == [(contig, start, end, "-")]
    # f2 fires (chr1:200, −) but fails the annotation rule; f3 never fires: neither is drawn
    assert set(by_name) == {"f0:CDS", "f1:CDS_antisense"}
    f0 = next(r for r in lines if r[3] == "f0:CDS")
    assert (int(f0[6]), int(f0[7])) == (119, 120) and f0[4] == "1000"  # peak = last CDS base


def test_bigwig_tracks_cover_exactly_the_cds(out):
    bw = pyBigWig.open(str(out / "tracks" / "f0.plus.bw"))
    entries = bw.intervals("chr1")
    assert [(s, e) for s, e, _ in entries] == [(p, p + 1) for p in range(60, 120)]
    assert [v for _, _, v in entries] == pytest.approx([1 + p / 1000 for p in range(60, 120)], abs=1e-6)
    bw.close()
    bw = pyBigWig.open(str(out / "tracks" / "f0.minus.bw"))
    assert not bw.intervals("chr1")
    bw.close()
    bw = pyBigWig.open(str(out / "tracks" / "f1.minus.bw"))
    assert bw.intervals("chr1")[0][:2] == (60, 61) and len(bw.intervals("chr1")) == 60
    bw.close()
    assert sorted(p.name for p in (out / "tracks").glob("*.bw")) == [
        "f0.minus.bw",
        "f0.plus.bw",
        "f1.minus.bw",
        "f1.plus.bw",
    ]  # annotated latents only


def test_gff3_is_valid_and_matches_labels(out):
    records = parse_gff3_strict(gzip.decompress((out / "hits.gff3.gz").read_bytes()).decode())
    f0 = [r for r in records if r["feature_id"] == "0"]
    assert [(r["seqid"], r["start"], r["end"], r["strand"]) for r in f0] == [("chr1", 61, 120, "+")]
    assert f0[0]["label"] == "CDS" and f0[0]["annotated"] == "true" and f0[0]["view"] == "own"


def test_gff3_reads_with_dnalens_reader(out, tmp_path):
    from dnalens.genome import gff3

    plain = tmp_path / "hits.gff3"
    plain.write_bytes(gzip.decompress((out / "hits.gff3.gz").read_bytes()))
    parsed = gff3.parse_gff3(plain)
    features = getattr(parsed, "features", parsed)
    got = sorted((f.start, f.end, f.strand) for f in features if f.type == "sequence_feature")
    assert got == [(60, 120, "+"), (60, 120, "-")]  # normalised to 0-based half-open


def test_tabix_queries_return_the_hits_in_a_region(out):
    """pysam reads the .tbi the stage wrote: a region query returns exactly the hits overlapping it."""
    with pysam.TabixFile(str(out / "tracks" / "hits.bed.gz")) as bed:
        assert bed.contigs == ["chr1"]
        got = [tuple(r.split("\t")[:4]) for r in bed.fetch("chr1", 100, 101)]
        assert got == [("chr1", "60", "120", "f0:CDS"), ("chr1", "60", "120", "f1:CDS_antisense")] or got == [
            ("chr1", "60", "120", "f1:CDS_antisense"),
            ("chr1", "60", "120", "f0:CDS"),
        ]
        assert list(bed.fetch("chr1", 0, 60)) == [] and list(bed.fetch("chr1", 120, 300)) == []
    with pysam.TabixFile(str(out / "hits.gff3.gz")) as gff:
        rows = [r.split("\t") for r in gff.fetch("chr1", 60, 61)]  # 0-based query = 1-based base 61
        assert [(r[3], r[4], r[6]) for r in rows] == [("61", "120", "+"), ("61", "120", "-")]
        assert list(gff.fetch("chr1", 0, 60)) == [] and list(gff.fetch("chr1", 120, 300)) == []


def test_top_windows_sequence_and_genes(out):
    top = pd.read_csv(out / "top_windows.tsv", sep="\t")
    f0 = top[top["latent"] == 0].iloc[0]
    assert f0["peak"] == 120 and f0["strand"] == "+" and f0["genes"] == "abcA (ABC transporter)"
    # peak ± 40 in read order, clipped to the window (51-150; ties go to the first window):
    # bases 80..150 (1-based); CDS bases 80..120 are on (upper case)
    assert (f0["context_start"], f0["context_end"]) == (80, 150) and f0["locus"] == "chr1:51-150"
    seq = f0["sequence"]
    assert seq.upper() == mini_genome.SEQ[79:150]
    assert re.fullmatch(r"[ACGT]{41}[acgt]{30}", seq)
    f1 = top[top["latent"] == 1].iloc[0]
    assert f1["strand"] == "-" and f1["sequence"].upper() == mini_genome.sequence_of(
        "chr1", f1["context_start"] - 1, f1["context_end"], "-"
    )
    assert len(top[top["latent"] == 0]) <= 5 and 3 not in set(top["latent"])


def test_igv_session_loads_relative_files(out):
    root = ET.parse(out / "tracks" / "igv_session.xml").getroot()
    assert root.get("genome") == "../genome.fa"
    paths = [r.get("path") for r in root.iter("Resource")]
    made = {p.name for p in (out / "tracks").glob("*.bw")} | {"hits.bed.gz", "../hits.gff3.gz"}
    assert sorted(paths) == sorted(made | {"../annotation.gff3"})  # exactly the files produced, once each
    for p in paths:
        assert not Path(p).is_absolute() and (out / "tracks" / p).resolve().exists(), p
        if p.endswith(".gz"):
            assert (out / "tracks" / (p + ".tbi")).resolve().exists(), p
    assert (out / "tracks" / "chrom.sizes").read_text() == "chr1\t300\n"


def test_report_html_is_self_contained(out):
    text = (out / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "f0" in text and "abcA" in text
    # no external resource; the only links out are IGV batch-port links (localhost, followed only on a click)
    external = [
        u
        for u in re.findall(r'(?:src|href)\s*=\s*"((?:https?:)?//[^"]*)"', text)
        if not u.startswith("http://localhost:60151/goto?locus=")
    ]
    assert re.findall(r'src\s*=\s*"(?:https?:)?//', text) == []
    assert not external and "@import" not in text
    # scripts: only the inline latent table (its data and its code), nothing loaded from a file or the network
    assert re.findall(r"<script[^>]*>", text) == [
        '<script type="application/gzip;base64" id="latent-data">',
        "<script>",
    ]
    assert text.count('<section class="card"') == 2  # the two annotated latents
    assert "2 of 3 concepts have a latent that beats the best local sequence-only baseline by ≥ 0.05" in text
    assert text.index("What passes") < text.index("Tested and failed") < text.index("Could not be tested")
    assert text.index("Could not be tested") < text.index("The model's context") < text.index("Run summary")
    assert "metagene" in text.lower() and "splice donor" in text
    assert "<details open>\n    <summary>How to read this report" in text  # open by default
    assert "abcA (ABC transporter)" in text  # gene product next to the strongest hit / windows
    assert "position in window (nt" in text and "mean activation</text>" in text  # axis titles
    # every <svg> parses as XML
    for svg in re.findall(r"<svg .*?</svg>", text, flags=re.S):
        ET.fromstring(svg)


def test_report_without_scores_or_annotation_still_renders(tmp_path):
    from dnalens.formats.probe_dir import SCORE_COLUMNS
    from dnalens.report.regions import REGION_COLUMNS, Regions

    inputs = mini_genome.inputs(tmp_path)
    inputs.scores = pd.DataFrame(columns=list(SCORE_COLUMNS))
    inputs.concepts = mini_genome.concepts(inputs.scores)
    inputs.feature_labels = pd.DataFrame(columns=["feature", "label"])
    inputs.regions = Regions(pd.DataFrame(columns=list(REGION_COLUMNS)), {"chr1": mini_genome.LENGTH})
    inputs.anchors = pd.DataFrame(columns=["contig", "position", "strand", "kind"])
    counts = run_report(inputs, ReportSettings(), tmp_path)
    assert counts["annotated"] == 0 and counts["cards"] == 0  # no candidates dressed up as findings
    table = pd.read_csv(tmp_path / "features.tsv", sep="\t")
    assert table["label"].isna().all() and not table["annotated"].any()
    # no concept threshold: hits use hit_threshold (0.5 × max) — f0 still covers the whole CDS
    assert table.set_index("latent").loc[0, "top_locus"] == "chr1:61-120"
    html = (tmp_path / "report.html").read_text()
    assert "No probing scores were found" in html and "no cards" in html


def test_feature_columns_in_small_blocks_give_the_same_files(tmp_path, monkeypatch):
    """The buffer's feature-major copy read a few features at a time writes the same bytes as the whole
    in-memory matrix."""
    import dataclasses

    import numpy as np
    import scipy.sparse as sp

    from dnalens.formats.codes import CsrArrays
    from dnalens.formats.feature_columns import FeatureColumns, column_counts, write_feature_major
    from dnalens.report import stage

    roots = []
    for name in ("memory", "columns"):
        root = tmp_path / name / "mini"
        root.mkdir(parents=True)
        (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
        (root / "annotation.gff3").write_text("##gff-version 3\n")
        inputs = mini_genome.inputs(root)
        csr = sp.csr_matrix(inputs.codes, dtype=np.float32)
        csr.data = csr.data.astype(np.float16).astype(np.float32)  # what the buffer stores
        if name == "memory":
            inputs = dataclasses.replace(inputs, codes=csr)
        else:
            shard = CsrArrays(
                csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(np.float16), csr.shape[1]
            )
            write_feature_major(tmp_path, [shard], column_counts([shard], csr.shape[1]), csr.shape[0])
            inputs = dataclasses.replace(inputs, codes=None, feature_columns=FeatureColumns(tmp_path, csr.shape[0]))
            monkeypatch.setattr(stage, "FEATURE_BLOCK_ENTRIES", max(1, csr.nnz // 5))
        run_report(inputs, ReportSettings(sequence_flank=40), root)
        roots.append(root)
    for name in ("features.tsv", "feature_concepts.tsv", "top_windows.tsv", "hits.gff3.gz", "tracks/hits.bed.gz"):
        assert (roots[0] / name).read_bytes() == (roots[1] / name).read_bytes(), name


def test_listed_latents_get_browser_files_too(tmp_path):
    """report.bigwig_features adds a latent that fails the rule; top_n_tracks caps the annotated ones."""
    root = tmp_path / "mini"
    root.mkdir()
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    run_report(mini_genome.inputs(root), ReportSettings(top_n_tracks=1, bigwig_features=(2,)), root)
    assert sorted(p.name for p in (root / "tracks").glob("*.bw")) == [
        "f0.minus.bw",
        "f0.plus.bw",
        "f2.minus.bw",
        "f2.plus.bw",
    ]
    bed = gzip.decompress((root / "tracks" / "hits.bed.gz").read_bytes()).decode().splitlines()[1:]
    assert sorted({line.split("\t")[3] for line in bed}) == ["f0:CDS", "f2:intron"]
    paths = {r.get("path") for r in ET.parse(root / "tracks" / "igv_session.xml").getroot().iter("Resource")}
    assert paths == {"hits.bed.gz", "../hits.gff3.gz", "f0.plus.bw", "f0.minus.bw", "f2.plus.bw", "f2.minus.bw"}


def test_descriptions_logos_and_candidates(out):
    table = pd.read_csv(out / "features.tsv", sep="\t").set_index("latent")
    assert table.loc[0, "description"].startswith(
        "coding sequence (CDS) (sense strand); annotated (held-out AUROC "
        "0.99, +0.39 over its best sequence-only baseline)"
    )
    # latent 0 fires on 60 bases of abcA's CDS (both tiles see them once): all inside genes
    assert "100 % of its top-60 positions inside genes" in table.loc[0, "description"]
    assert "its margin over the sequence-only baseline is below 0.05" in table.loc[2, "description"]  # +0.02
    assert table.loc[3, "description"] == "never fires on this genome (dead latent)"
    page = (out / "report.html").read_text()
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="logo"') == 2  # one per card
    assert page.count('class="description"') == 2
    gff = (out / "candidates.gff3").read_text()
    assert "# latents used (all pass the annotation rule): f0 CDS, f1 CDS_antisense" in gff
    assert [l for l in gff.splitlines() if not l.startswith("#")] == []  # they fire only inside annotated CDS
