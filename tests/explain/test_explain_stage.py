"""`dnalens explain` end to end on a tiny model and a small SAE: the table's columns and values, bigWigs read
back with pyBigWig, the page's tracks and annotation, and every bad input as one InputError without output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dnalens.errors import InputError
from dnalens.explain.inputs import parse_region, read_fasta
from dnalens.explain.sequence_read import ReadSettings, read_sequence
from dnalens.explain.settings import ExplainSettings
from dnalens.explain.stage import ExplainRequest, run_explain
from dnalens.sae.encode_resume import sae_identity
from dnalens.sae.io import save_sae

LAYER = "blocks.2"  # conftest.py: the layer the fixtures read
TRIM, WINDOW = (8, 8), 48


@pytest.fixture(scope="module")
def genome_dir(tmp_path_factory, sae):
    """results/<genome> as the workflow leaves it, at test size: FASTA, GFF3, windows, buffer.json, probe table."""
    root = tmp_path_factory.mktemp("results") / "g"
    (root / "buffer").mkdir(parents=True)
    (root / "probe").mkdir()
    rng = np.random.default_rng(7)
    chrom = "".join(rng.choice(list("ACGT"), 400))
    (root / "genome.fa").write_text(f">chrA\n{chrom}\n>chrB\n{chrom[:90]}\n")
    (root / "chrom.sizes").write_text("chrA\t400\nchrB\t90\n")
    (root / "windows.bed").write_text(
        "".join(f"chrA\t{s}\t{s + WINDOW}\tw{s}\t0\t+\n" for s in range(0, 400 - WINDOW + 1, 32))
    )
    (root / "annotation.gff3").write_text(
        "##gff-version 3\nchrA\tt\tgene\t101\t250\t.\t+\t.\tID=g1;Name=geneOne\n"
        "chrA\tt\tCDS\t101\t250\t.\t+\t0\tID=c1;Parent=g1\n"
    )
    save_sae(sae, root.parent / "dictionaries" / "d", metadata={"hook_name": LAYER})
    meta = {
        "layer": LAYER,
        "sae": str(root.parent / "dictionaries" / "d"),
        "sae_digest": sae_identity(sae, "cpu")["weights"],
    }
    (root / "buffer" / "buffer.json").write_text(json.dumps({**meta, "trim_start": TRIM[0], "trim_end": TRIM[1]}))
    pd.DataFrame(
        {
            "feature": [3, 5, 30],
            "label": ["CDS", "tRNA", "CDS_antisense"],
            "annotated": [True, False, True],
            "label_auroc_test": [0.9, 0.6, 0.8],
            "label_margin": [0.2, 0.01, 0.1],
        }
    ).to_parquet(root / "probe" / "features.parquet")
    return root


def _run(adapter, sae, tmp_path, **kwargs):
    req = ExplainRequest(out=tmp_path / "out", **kwargs)
    return run_explain(req, ExplainSettings(top=2), adapter=adapter, sae=sae), tmp_path / "out"


def test_fasta_table_tracks_and_page(adapter, sae, genome_dir, tmp_path):
    import pyBigWig

    rng = np.random.default_rng(3)
    seqs = {"one": "".join(rng.choice(list("ACGT"), 70)), "two": "acgtn" + "".join(rng.choice(list("ACGT"), 20))}
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">{k} some description\n{v[:40]}\n{v[40:]}\n" for k, v in seqs.items()))
    summary, out = _run(adapter, sae, tmp_path, fasta=fasta, genome_dir=genome_dir)
    table = pd.read_csv(out / "explain.tsv", sep="\t")
    latents = pd.read_csv(out / "latents.tsv", sep="\t")
    # the two annotated latents first (largest margin first), then the two strongest others
    assert list(latents["column"][:2]) == ["latent_3_CDS", "latent_30_CDS_antisense"]
    assert list(latents["role"]) == ["annotated", "annotated", "top", "top"]
    assert list(latents["view"][:2]) == ["own", "opposite"] and latents["latent"][1] == 30 - 24
    assert list(table.columns) == [
        "seq_id",
        "pos",
        "chrom",
        "chrom_pos",
        "base",
        "log_likelihood",
        "edge",
        *latents["column"],
    ]
    assert len(table) == 95 and summary["nucleotides"] == 95
    settings = ReadSettings(LAYER, WINDOW, TRIM)
    for seq_id, seq in seqs.items():
        rows = table[table.seq_id == seq_id]
        assert "".join(rows["base"]) == seq.upper() and rows["pos"].tolist() == list(range(1, len(seq) + 1))
        want = read_sequence(adapter, sae, seq.upper(), settings)
        got = rows[list(latents["column"])].to_numpy()
        np.testing.assert_allclose(got, want.codes[:, latents["feature"].to_numpy()].toarray(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rows["log_likelihood"], want.log_likelihood, rtol=1e-5, equal_nan=True)
    # the top latents are the strongest non-annotated ones over both sequences
    both = np.vstack([read_sequence(adapter, sae, s.upper(), settings).codes.toarray() for s in seqs.values()])
    peak = both.max(axis=0)
    peak[[3, 30]] = -1
    assert set(latents["feature"][2:]) == set(np.argsort(-peak)[:2])
    # edges: the first / last trim bases of "one" (70 nt > one window) have less context
    one = table[table.seq_id == "one"]
    assert one["edge"].tolist() == [True] * 8 + [False] * 54 + [True] * 8
    assert (out / "tracks" / "chrom.sizes").read_text() == "one\t70\ntwo\t25\n"
    bw = pyBigWig.open(str(out / "tracks" / "latent_3_CDS.bw"))
    assert bw.chroms() == {"one": 70, "two": 25}
    np.testing.assert_allclose(bw.values("one", 0, 70), one["latent_3_CDS"], atol=1e-5)
    bw.close()
    ll = pyBigWig.open(str(out / "tracks" / "log_likelihood.bw"))
    np.testing.assert_allclose(ll.values("one", 1, 70), one["log_likelihood"][1:], atol=1e-5)
    assert np.isnan(ll.values("one", 0, 1)[0])
    ll.close()
    html = (out / "explain.html").read_text()
    assert html.count("<svg") == 2 and "CDS_antisense · 30" in html and "log-likelihood" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in html


def test_region_reads_flanks_and_draws_the_annotation(adapter, sae, genome_dir, tmp_path):
    summary, out = _run(adapter, sae, tmp_path, region="chrA:101-250", genome_dir=genome_dir)
    table = pd.read_csv(out / "explain.tsv", sep="\t")
    assert table["chrom_pos"].tolist() == list(range(101, 251)) and not table["edge"].any()
    assert summary["edge_bases"] == 0
    # equal to reading the whole contig (windows on the genome's grid) and cutting the region out
    chrom = (genome_dir / "genome.fa").read_text().split("\n")[1]
    whole = read_sequence(adapter, sae, chrom, ReadSettings(LAYER, WINDOW, TRIM))
    np.testing.assert_allclose(table["latent_3_CDS"], whole.codes[100:250, 3].toarray().ravel(), rtol=1e-5)
    html = (out / "explain.html").read_text()
    assert "geneOne" in html and "chrA:101-250" in html
    assert (out / "tracks" / "chrom.sizes").read_text() == "chrA\t400\nchrB\t90\n"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "input file is empty"),
        ("\n\n", "no sequences"),
        (">a\n\n>b\nACGT\n", "'a' is empty"),
        (">a\nACGT\nACXT-\n", "in.fa:3: letters other than A, C, G, T, N in 'a': '-X'"),
        ("ACGT\n", "in.fa:1: sequence before the first"),
        (">a\nAC\n>a\nGT\n", "in.fa:3: sequence id 'a' appears twice"),
    ],
)
def test_bad_fasta(tmp_path, text, problem):
    path = tmp_path / "in.fa"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_fasta(path, 1000)
    assert problem in err.value.message and err.value.fix


@pytest.mark.parametrize(
    "region, problem",
    [
        ("chrZ:1-10", "contig 'chrZ' is not in the genome"),
        ("chrB:50-91", "ends past the end of chrB (90 nt)"),
        ("chrA:10", "is not contig:start-end"),
        ("chrA:20-10", "start must be >= 1"),
    ],
)
def test_bad_region_leaves_no_output(adapter, sae, genome_dir, tmp_path, region, problem):
    with pytest.raises(InputError) as err:
        _run(adapter, sae, tmp_path, region=region, genome_dir=genome_dir)
    assert problem in err.value.message and err.value.fix
    assert not (tmp_path / "out").exists()


def test_request_checks(adapter, sae, genome_dir, tmp_path):
    with pytest.raises(InputError, match="--genome-dir"):
        _run(adapter, sae, tmp_path, region="chrA:1-10")
    with pytest.raises(InputError, match="--fasta or --region"):
        _run(adapter, sae, tmp_path)
    other = tmp_path / "other"
    from dnalens.sae.strand_shared import StrandSharedSAE
    from dnalens.sae.topk import TopKSAE

    save_sae(StrandSharedSAE(TopKSAE(16, 24, k=3)), other, metadata={"hook_name": LAYER})
    with pytest.raises(InputError, match="probe labels"):
        _run(adapter, None, tmp_path, region="chrA:1-10", genome_dir=genome_dir, dictionary=other)
    assert parse_region("chrA:1,001-2,000").start == 1000
