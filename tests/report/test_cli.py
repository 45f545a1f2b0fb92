"""`dnalens report` on disk: an ActivationBuffer (buffer stage format), probe/ parquet tables (probing
stage format), genome.fa + annotation.gff3 read by the genome stage's readers."""

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from dnalens.cli import main

from . import mini_genome

ANNOTATION = """##gff-version 3
##sequence-region chr1 1 300
chr1\tdnalens\tregion\t1\t300\t.\t+\t.\tID=chr1;Is_circular=true
chr1\tdnalens\tgene\t41\t130\t.\t+\t.\tID=gene-abcA;Name=abcA
chr1\tdnalens\tmRNA\t41\t130\t.\t+\t.\tID=rna-abcA;Parent=gene-abcA
chr1\tdnalens\texon\t41\t130\t.\t+\t.\tID=exon-abcA;Parent=rna-abcA
chr1\tdnalens\tCDS\t61\t120\t.\t+\t0\tID=cds-abcA;Parent=rna-abcA
chr1\tdnalens\tgene\t181\t280\t.\t-\t.\tID=gene-xyzB;Name=xyzB
chr1\tdnalens\tmRNA\t181\t280\t.\t-\t.\tID=rna-xyzB;Parent=gene-xyzB
chr1\tdnalens\texon\t241\t280\t.\t-\t.\tID=exon-xyzB-1;Parent=rna-xyzB
chr1\tdnalens\texon\t181\t200\t.\t-\t.\tID=exon-xyzB-2;Parent=rna-xyzB
chr1\tdnalens\tCDS\t241\t270\t.\t-\t0\tID=cds-xyzB;Parent=rna-xyzB
chr1\tdnalens\tCDS\t191\t200\t.\t-\t0\tID=cds-xyzB;Parent=rna-xyzB
"""


def _write_buffer(path, win, codes):
    from dnalens.formats import buffer as store
    from dnalens.formats.codes import CsrArrays

    table = win.assign(row=np.arange(len(win)), name=[f"w{i}" for i in range(len(win))], read_offset=0)
    n = codes.shape[0]
    buffer = store.ActivationBuffer(
        codes=CsrArrays(
            codes.indptr.astype(np.int64), codes.indices.astype(np.int32), codes.data.astype(np.float16), codes.shape[1]
        ),
        labels_packed=np.zeros((n, 1), np.uint8),
        label_names=["CDS"],
        instances=np.full((n, 1), -1, np.int32),
        instance_names=["CDS"],
        windows=table,
        meta={"layer": "blocks.2", "sae": "results/mini/sae"},
    )
    buffer.save(path)


def _write_probe(probe):
    """probe/ as the probe stage writes it (its column names and dtypes)."""
    probe.mkdir()
    s = mini_genome.scores()
    s.assign(
        feature=s["feature"].astype(np.int32),
        concept=pd.Categorical(s["concept"]),
        annotated=[True, False, True, False],
    ).to_parquet(probe / "feature_concept.parquet")
    labels = mini_genome.feature_labels()
    labels.assign(
        feature=labels["feature"].astype(np.int32), frequency=0.1, annotated=[True, True, False, False]
    ).to_parquet(probe / "features.parquet")
    mini_genome.concepts(s.assign(annotated=[True, False, True, False])).to_parquet(probe / "concepts.parquet")
    (probe / "summary.json").write_text(
        json.dumps({"settings": {"min_auroc": 0.75, "min_margin": 0.05, "max_q": 0.05, "min_instances": 10}})
    )
    return probe


def _report_args(root, probe):
    return [
        "report",
        "--genome",
        "mini",
        "--buffer",
        str(root / "buffer"),
        "--probe",
        str(probe),
        "--fasta",
        str(root / "genome.fa"),
        "--annotation",
        str(root / "annotation.gff3"),
        "--chrom-sizes",
        str(root / "chrom.sizes"),
        "--label-summary",
        str(root / "labels_summary.tsv"),
        "--sae-quality",
        str(root / "sae_quality.json"),
        "--model-name",
        "tiny",
        "--out",
        str(root),
        "--settings",
        json.dumps({"top_n_tracks": 1}),
    ]


def _mini_results(tmp_path):
    """results/mini with a buffer, genome, sizes and annotation: what every report test starts from."""
    root = tmp_path / "results" / "mini"
    root.mkdir(parents=True)
    win = mini_genome.windows()
    _write_buffer(root / "buffer", win, mini_genome.codes(win))
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    (root / "chrom.sizes").write_text("chr1\t300\n")
    (root / "annotation.gff3").write_text(ANNOTATION)
    return root


def test_report_command_reads_every_stage_format(tmp_path):
    root = _mini_results(tmp_path)
    probe = _write_probe(root / "probe")
    (root / "labels_summary.tsv").write_text("concept\tinstances\tgenome_nt\tgenome_coverage\nCDS\t2\t100\t0.17\n")
    (root / "sae_quality.json").write_text(
        json.dumps({"architecture": "topk", "d_sae": 4, "k": 2, "fvu": 0.1, "loss": {"loss_recovered": 0.8}})
    )
    code = main(_report_args(root, probe))
    assert code == 0
    features = pd.read_csv(root / "features.tsv", sep="\t").set_index("latent")
    # the probe stage's flag decides: f0 × gene (F1 0.7) is not annotated there, f1 × CDS_antisense is
    assert features.loc[0, "annotated"] and features.loc[1, "annotated"] and not features.loc[2, "annotated"]
    assert features.loc[0, "layer"] == "blocks.2" and features.loc[0, "sae"] == "topk (4 features, k=2)"
    pairs = pd.read_csv(root / "feature_concepts.tsv", sep="\t")
    passing = pairs[pairs["passes"]]
    assert list(zip(passing["latent"], passing["concept"])) == [(0, "CDS"), (1, "CDS_antisense")]
    # every concept's best feature is listed too (all rows are best_for_concept in this fixture)
    assert (~pairs["passes"]).sum() == 2 and pairs["best_for_concept"].all()
    top = pd.read_csv(root / "top_windows.tsv", sep="\t")
    row = top[top["latent"] == 0].iloc[0]
    assert row["sequence"].upper() == mini_genome.SEQ[row["context_start"] - 1 : row["context_end"]]
    assert row["genes"] == "abcA"
    wrapped = top[(top["latent"] == 1)]  # − strand windows; sequences from pyfaidx, reverse-complemented
    for r in wrapped.itertuples():
        assert r.sequence.upper() == mini_genome.sequence_of("chr1", r.context_start - 1, r.context_end, "-")
    assert sorted(p.name for p in (root / "tracks").glob("*.bw")) == ["f0.minus.bw", "f0.plus.bw"]
    ET.parse(root / "tracks" / "igv_session.xml")
    html = (root / "report.html").read_text()
    assert "probe settings" in html and "loss recovered" in html and "start codon (n=2)" in html
    assert "seed agreement</dt><dd>not measured" in html  # sae_quality.json without a dictionary block
    assert "splice donor (exon|intron) (n=1)" in html


def test_old_probe_folder_fails_naming_the_missing_column(tmp_path, capsys):
    root = _mini_results(tmp_path)
    (root / "labels_summary.tsv").write_text("concept\tinstances\nCDS\t2\n")
    probe = _write_probe(root / "probe")
    old = pd.read_parquet(probe / "feature_concept.parquet").drop(columns=["margin", "baseline_auroc_test"])
    old.to_parquet(probe / "feature_concept.parquet")
    assert main(_report_args(root, probe)) != 0
    err = capsys.readouterr().err
    assert "baseline_auroc_test, margin" in err and "feature_concept.parquet" in err
    assert not (root / "features.tsv").exists()


def test_anchors_from_the_genome_readers_annotation(tmp_path):
    from dnalens.genome import gff3
    from dnalens.report.regions import anchors_from_annotation, regions_from_annotation

    (tmp_path / "a.gff3").write_text(ANNOTATION)
    annotation = gff3.parse_gff3(tmp_path / "a.gff3")
    got = sorted(map(tuple, anchors_from_annotation(annotation).values.tolist()))
    assert got == sorted(
        [
            ("chr1", 60, "+", "start_codon"),
            ("chr1", 117, "+", "stop_codon"),  # abcA CDS 61-120 (1-based)
            ("chr1", 269, "-", "start_codon"),
            ("chr1", 192, "-", "stop_codon"),  # xyzB CDS 241-270 + 191-200 on −
            ("chr1", 239, "-", "splice_donor"),
            ("chr1", 199, "-", "splice_acceptor"),  # intron 201-240 on −
        ]
    )
    regions = regions_from_annotation(annotation, {"chr1": 300})
    assert regions.gene_names("chr1", 250, 320) == ["xyzB"]  # wraps to bases 0-20: no gene there
    assert regions.gene_names("chr1", 250, 345) == ["xyzB", "abcA"]  # wraps to 0-45: reaches abcA (40-130)
    parts = regions.overlapping("chr1", 250, 345)
    assert set(parts.loc[parts["name"] == "abcA", "start"]) == {340}  # drawn past the end, unwrapped


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _merge(args, out, part_files):
    """`dnalens report-merge PARTS...` with the inputs of a `dnalens report` command line, writing to `out`."""
    at = args.index("--out")
    assert args[0] == "report"
    return ["report-merge", *map(str, part_files), *args[1 : at + 1], str(out), *args[at + 2 :]]


@pytest.mark.parametrize("parts", [1, 3, 7])  # 7 parts > 4 latents: some parts are empty
def test_report_parts_gather_to_the_unscattered_report(tmp_path, parts):
    """Scatter + gather equals one job: `--part i --parts n` tables gathered by `dnalens report-merge` write
    the same bytes as a plain `dnalens report` (workflow rules report_part / report)."""
    root = _mini_results(tmp_path)
    probe = _write_probe(root / "probe")
    (root / "labels_summary.tsv").write_text("concept\tinstances\nCDS\t2\n")
    (root / "sae_quality.json").write_text(json.dumps({"architecture": "topk", "d_sae": 4, "k": 2}))
    args = _report_args(root, probe)
    at = args.index("--out")
    whole, gathered = tmp_path / "whole", tmp_path / "gathered"
    assert main(args[: at + 1] + [str(whole)] + args[at + 2 :]) == 0
    part_files = [tmp_path / "parts" / f"part-{i}.parquet" for i in range(parts)]
    for i, path in enumerate(part_files):
        assert (
            main(args[:at] + args[at + 2 :] + ["--part", str(i), "--parts", str(parts), "--part-out", str(path)]) == 0
        )
    rows = [len(pd.read_parquet(p)) for p in part_files]
    assert sum(rows) == 4 and (parts < 4 or 0 in rows)
    assert main(_merge(args, gathered, part_files)) == 0
    a, b = _tree(whole), _tree(gathered)
    assert sorted(a) == sorted(b) and "report.html" in a and "features.tsv" in a
    assert [name for name in a if a[name] != b[name]] == []
    # the parts count in the settings (the workflow passes report.parts along) changes no byte either
    again = tmp_path / "again"
    settings = args.index("--settings") + 1
    other = args[:settings] + [json.dumps({"top_n_tracks": 1, "parts": parts + 1})] + args[settings + 1 :]
    assert main(_merge(other, again, part_files)) == 0
    assert _tree(again) == a
    # a missing part stops the gather naming the problem, before anything is written
    if parts > 1:
        assert main(_merge(args, tmp_path / "bad", part_files[:1])) != 0
        assert not (tmp_path / "bad" / "features.tsv").exists()


def test_part_ranges_split_stored_values_evenly():
    from dnalens.report.parts import part_ranges

    nnz = np.array([10, 0, 0, 10, 10, 10, 40, 10, 5, 5])  # 100 values over 10 latents
    assert part_ranges(nnz, 10, 1) == [(0, 10)]
    assert part_ranges(nnz, 10, 2) == [(0, 6), (6, 10)]  # 40 | 60: nearer 50 than 80 | 20
    ranges = part_ranges(nnz, 10, 4)
    assert ranges[0][0] == 0 and ranges[-1][1] == 10 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert [int(nnz[a:b].sum()) for a, b in ranges] == [20, 20, 40, 20]  # cuts nearest 25, 50, 75
    # a strand-shared SAE: only the own-strand columns (the first n_latents) are split
    assert part_ranges(np.concatenate([nnz, np.full(10, 1000)]), 10, 2) == [(0, 6), (6, 10)]
    many = part_ranges(nnz, 10, 20)  # more parts than latents: empty ranges, still one cover
    assert len(many) == 20 and many[-1] == (9, 10) and sum(b - a for a, b in many) == 10 and (6, 6) in many
