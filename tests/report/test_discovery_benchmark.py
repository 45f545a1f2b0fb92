"""benchmarks/discovery.py's parts against brute force and hand-made genes (the run itself needs a buffer).

The benchmark is loaded from its file by path (no sys.path entry, no module left behind in sys.modules):
these tests exercise exactly benchmarks/discovery.py, and no other test can import it, or its helper
benchmarks/annotation_trust.py, by accident."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from dnalens.report.regions import Regions

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """benchmarks/discovery.py as a module of its own; whatever its run adds to sys.path or sys.modules
    (it imports its sibling annotation_trust.py) is undone after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("discovery_benchmark", BENCHMARKS / "discovery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert Path(module.__file__) == BENCHMARKS / "discovery.py"
    yield module
    for name in set(sys.modules) - before:
        if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == BENCHMARKS:
            del sys.modules[name]


def test_sparse_auroc_equals_sklearn_with_ties(bench):
    rng = np.random.default_rng(3)
    n = 500
    dense = np.where(rng.random(n) < 0.2, rng.integers(1, 5, n).astype(float), 0.0)  # many ties, zeros too
    labels = np.stack([rng.random(n) < 0.3, dense > 2, rng.random(n) < 0.05], axis=1)
    rows = np.flatnonzero(dense)
    got = bench.sparse_auroc(rows, dense[rows], labels, n)
    want = [roc_auc_score(labels[:, j], dense) for j in range(labels.shape[1])]
    assert got == pytest.approx(want)


def test_token_labels_in_read_orientation(bench):
    # + gene at 3..9 (codons 3-5, 6-8), − gene at 12..18 (first codon base = 17)
    genes = pd.DataFrame(
        {
            "contig": ["c", "c"],
            "start": [3, 12],
            "end": [9, 18],
            "strand": ["+", "-"],
            "id": ["a", "b"],
            "name": ["a", "b"],
        }
    )
    pos = np.array([3, 4, 5, 8, 17, 12, 3, 17, 0])
    minus = np.array([False] * 4 + [True, True, True, False, False])
    labels = bench.token_labels(np.zeros(len(pos), int), pos, minus, ["c"], genes, {"c": 20})
    assert labels["CDS"].tolist() == [True, True, True, True, True, True, False, False, False]
    assert labels["CDS_codon_pos1"].tolist() == [True, False, False, False, True, False, False, False, False]
    assert labels["CDS_codon_pos3"].tolist() == [False, False, True, True, False, True, False, False, False]
    # the + gene read on − is antisense, and the − gene read on + too
    assert labels["CDS_antisense"].tolist() == [False] * 6 + [True, True, False]
    assert labels["CDS_codon_pos1_antisense"].tolist() == [False] * 6 + [True, True, False]


def test_spliced_cds_keeps_its_frame_across_the_intron(bench):
    # − strand CDS in two pieces: 20..25 (first in transcription, 5 bases) then 10..14 (4 bases)
    table = pd.DataFrame(
        {
            "type": ["CDS", "CDS"],
            "contig": ["c", "c"],
            "start": [10, 20],
            "end": [14, 25],
            "strand": ["-", "-"],
            "id": ["x", "x"],
        }
    )
    pieces = bench.cds_pieces(table)
    assert pieces.set_index("start")["offset"].to_dict() == {20: 0, 10: 5}
    frames = bench.frame_arrays(pieces, {"c": 30})[("c", "-")]
    # transcription order 24,23,22,21,20 | 13,12,11,10 → codon positions 0 1 2 0 1 | 2 0 1 2
    assert frames[[24, 23, 22, 21, 20, 13, 12, 11, 10]].tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2]
    assert frames[15:20].tolist() == [-1] * 5


def test_drop_and_reduce_and_score(bench):
    table = pd.DataFrame(
        [
            ("c", "gene", 100, 400, "+", "g1", "gene-1", ""),
            ("c", "CDS", 100, 400, "+", "g1", "cds-1", ""),
            ("c", "gene", 500, 800, "-", "g2", "gene-2", ""),
            ("c", "CDS", 500, 800, "-", "g2", "cds-2", ""),
            ("c", "tRNA", 900, 976, "+", "t", "t", ""),
        ],
        columns=["contig", "type", "start", "end", "strand", "name", "id", "product"],
    )
    regions = Regions(table, {"c": 2000})
    genes = bench.coding_genes(regions)
    assert genes[["start", "end", "strand", "id"]].values.tolist() == [
        [100, 400, "+", "cds-1"],
        [500, 800, "-", "cds-2"],
    ]
    dropped, kept = bench.drop_genes(genes, 0.5, seed=1)
    assert len(dropped) == 1 and len(kept) == 1
    assert bench.drop_genes(genes, 0.5, seed=1)[0].equals(dropped)  # seeded
    reduced = bench.reduced_regions(regions, dropped)
    other = "2" if dropped.at[0, "id"] == "cds-1" else "1"  # the gene that stays: its gene and CDS rows stay
    assert sorted(reduced.table["id"]) == [f"cds-{other}", f"gene-{other}", "t"]
    found = pd.DataFrame(
        {"contig": ["c", "c", "c"], "start": [120, 500, 1200], "end": [300, 600, 1500], "strand": ["+", "+", "+"]}
    )
    truth = genes
    assert bench.recovered(truth, found).tolist() == [True, False]  # 180/300 covered; wrong strand for g2
    assert bench.inside(found, truth).tolist() == [True, False, False]
    assert bench.inside(found, truth, stranded=False).tolist() == [True, True, False]


def test_cds_like_needs_auroc_and_margin(bench):
    aurocs = np.array([[0.9, 0.7], [0.76, 0.95], [0.74, 0.6], [0.8, 0.8]])
    baseline = np.array([0.6, 0.9])
    assert bench.cds_like(aurocs, baseline, ["CDS", "CDS_codon_pos3"]) == {0: "CDS", 1: "CDS", 3: "CDS"}


def write_results(
    root: Path, seq: str, genes: list[tuple[int, int, str]], contig: str = "c", noise_seed: int = 0
) -> Path:
    """A results/<genome>/ directory with a buffer whose latent 0 fires on codon position 3 of every gene
    (dropped or not: the SAE never saw the annotation), latent 1 at random, latent 2 never."""
    import scipy.sparse as sp

    from dnalens.formats.buffer import ActivationBuffer
    from dnalens.formats.codes import CsrArrays

    root.mkdir(parents=True)
    n = len(seq)
    (root / "genome.fa").write_text(f">{contig}\n{seq}\n")
    (root / "chrom.sizes").write_text(f"{contig}\t{n}\n")
    (root / "sae_quality.json").write_text('{"strand_shared": false}')
    lines = ["##gff-version 3", f"##sequence-region {contig} 1 {n}"]
    for i, (s, e, strand) in enumerate(genes):
        lines.append(f"{contig}\tt\tgene\t{s + 1}\t{e}\t.\t{strand}\t.\tID=gene{i};Name=g{i}")
        lines.append(f"{contig}\tt\tCDS\t{s + 1}\t{e}\t.\t{strand}\t0\tID=cds{i};Parent=gene{i};product=p{i}")
    (root / "annotation.gff3").write_text("\n".join(lines) + "\n")
    win = 1000
    rows = []
    for k, strand in enumerate("+-"):
        for j, start in enumerate(range(0, n, win)):
            t0 = (k * (n // win) + j) * win
            rows.append(
                {
                    "row": len(rows),
                    "contig": contig,
                    "start": start,
                    "end": start + win,
                    "strand": strand,
                    "name": f"w{len(rows)}",
                    "token_start": t0,
                    "token_end": t0 + win,
                    "read_offset": 0,
                }
            )
    windows = pd.DataFrame(rows)
    n_tokens = 2 * n
    pos = np.concatenate([np.arange(n), np.arange(n)[::-1].reshape(-1, win)[::-1].ravel()])
    minus = np.repeat([False, True], n)
    frame = np.full((2, n), -1)
    for s, e, strand in genes:
        p = np.arange(s, e)
        frame[int(strand == "-"), p] = ((p - s) if strand == "+" else (e - 1 - p)) % 3
    sense = np.where(minus, frame[1][pos], frame[0][pos])
    rng = np.random.default_rng(noise_seed)
    dense = np.zeros((n_tokens, 3), np.float32)
    dense[:, 0] = np.where(sense == 2, 1.0 + rng.random(n_tokens), 0.0)
    dense[:, 1] = np.where(rng.random(n_tokens) < 0.05, rng.random(n_tokens), 0.0)
    csr = sp.csr_matrix(dense)
    codes = CsrArrays(csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data.astype(np.float16), 3)
    ActivationBuffer(
        codes=codes,
        labels_packed=np.zeros((n_tokens, 1), np.uint8),
        label_names=["x"],
        instances=np.zeros((n_tokens, 0), np.int32),
        instance_names=[],
        windows=windows,
    ).save(root / "buffer")
    return root


@pytest.mark.filterwarnings("ignore:sequence should be at least")  # pyrodigal on a 40 kb toy genome
def test_run_end_to_end_finds_the_dropped_genes_of_a_codon_latent(bench, tmp_path):
    rng = np.random.default_rng(0)
    n = 40_000
    seq = "".join(rng.choice(list("ACGT"), n))
    genes = [(200 + 1900 * i, 200 + 1900 * i + 900, "+" if i % 2 else "-") for i in range(20)]
    root = write_results(tmp_path / "synthetic", seq, genes)
    r = bench.run(root, 0.1, 0, None)
    assert r["genes"] == 20 and r["dropped"] == 2 and r["cds_like_latents"] == 1
    assert r["labels"].startswith("f0 CDS")  # the codon latent, picked on the reduced labels
    assert r["model_recall"] == 1.0 and r["candidates"] == 2 and r["model_false_per_mb"] == 0.0
    assert 0.0 <= r["pyrodigal_recall"] <= 1.0  # random sequence: pyrodigal has nothing real to find
