"""The label store: layout, read order, shards, the CLI contract and clean failures."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import SeqIO

from dnalens.cli import main
from dnalens.concepts.context import ConceptContext
from dnalens.concepts.genome_data import GenomeSequence, encode
from dnalens.concepts.registry import compute_concepts
from dnalens.concepts.settings import concept_settings
from dnalens.formats.label_store import LabelStore
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.genome.model import Annotation, Feature
from dnalens.labels.build import build_label_store
from dnalens.labels.merge import concat_label_stores
from dnalens.labels.pipeline import run_labels


def _f(seqid, ftype, start, end, strand, fid, parents=(), phase=None):
    return Feature(seqid, ftype, start, end, strand, fid, tuple(parents), phase)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Two contigs (circular c, linear d), genes on both strands, random windows incl. an origin wrap."""
    rng = random.Random(3)
    seqs = {"c": "".join(rng.choice("ACGT") for _ in range(1000)), "d": "".join(rng.choice("ACGT") for _ in range(500))}
    genome = GenomeSequence({k: encode(v) for k, v in seqs.items()}, frozenset({"c"}), 11)
    features = [
        _f("c", "gene", 900, 1000, "+", "g1"),
        _f("c", "mRNA", 900, 1000, "+", "t1", ["g1"]),
        _f("c", "exon", 900, 1000, "+", "t1e1", ["t1"]),
        _f("c", "exon", 0, 60, "+", "t1e2", ["t1"]),
        _f("c", "CDS", 930, 1000, "+", "t1c", ["t1"], 0),
        _f("c", "CDS", 0, 50, "+", "t1c", ["t1"], 2),
        _f("c", "gene", 100, 400, "-", "g2"),
        _f("c", "CDS", 100, 400, "-", "c2", ["g2"], 0),
        _f("d", "gene", 50, 200, "+", "g3"),
        _f("d", "CDS", 50, 200, "+", "c3", ["g3"], 0),
        _f("d", "tRNA", 300, 380, "-", "t3"),
    ]
    cs = compute_concepts(ConceptContext(Annotation(features), genome, concept_settings({})))
    windows = [
        Window("c", 950, 1080, "+", "wrap+"),
        Window("c", 950, 1080, "-", "wrap-"),
        Window("d", 0, 500, "-", "d-"),
    ]
    for i in range(20):
        contig = rng.choice("cd")
        n = len(seqs[contig])
        start = rng.randrange(0, n - 50)
        windows.append(Window(contig, start, start + rng.randrange(10, 50), rng.choice("+-"), f"r{i}"))
    d = tmp_path_factory.mktemp("small")
    meta = build_label_store(d / "store", cs, genome, windows)
    return genome, cs, windows, LabelStore.open(d / "store"), meta


def test_store_equals_brute_force_per_token(small):
    genome, cs, windows, store, _ = small
    assert store.concept_names == cs.concept_names and store.n_tokens == sum(w.length for w in windows)
    labels, instances = store.labels(), store.instances()
    aa, classes = store.categorical("amino_acid")
    assert len(classes) == 21
    aa_concept = next(c for c in cs.categoricals if c.name == "amino_acid")
    for w, win in enumerate(windows):
        n = genome.lengths[win.contig]
        positions = [p % n for p in range(win.start, win.end)][:: -1 if win.strand == "-" else 1]  # DESIGN.md's rule
        contig, pos = store.token_genome_positions(w)
        assert contig == win.contig and pos.tolist() == positions
        rows = store.window_tokens(w)
        assert (np.asarray(store.token_window[rows]) == w).all()
        for j, col in enumerate(cs.columns):
            want = [bool(col.values(win.contig, n, win.strand)[p]) for p in positions]
            assert labels[rows, j].tolist() == want, (col.name, win)
        for r, col in enumerate(cs.region_columns):
            ids = col.instance_values(win.contig, n, win.strand, cs.id_offsets[col.concept.name])
            assert instances[rows, r].tolist() == [int(ids[p]) for p in positions], (col.name, win)
        want_aa = aa_concept.values(win.contig, n, win.strand)
        assert np.asarray(aa[rows]).tolist() == [int(want_aa[p]) for p in positions]


def test_files_are_plain_npy_with_documented_bit_order(small):
    _, cs, _, store, meta = small
    packed = np.load(store.path / "labels.npy", allow_pickle=False)
    assert packed.dtype == np.uint8 and packed.shape == (store.n_tokens, -(-len(cs.columns) // 8))
    assert meta["bit_order"] == "big"
    j = store.concept_names.index("CDS")
    np.testing.assert_array_equal(store.column("CDS"), (packed[:, j // 8] >> (7 - j % 8)) & 1 == 1)
    # instance ids as runs: column r's runs are pointers[r]:pointers[r+1], each (first token, id)
    pointers, starts, ids = (np.load(store.path / f"instances.{p}.npy") for p in ("pointers", "starts", "ids"))
    assert (pointers.dtype, starts.dtype, ids.dtype) == (np.int64, np.int64, np.int32)
    assert pointers.size == len(store.region_concepts) + 1 and pointers[-1] == starts.size == ids.size
    inst = np.full((store.n_tokens, len(store.region_concepts)), 7, np.int32)
    for r in range(len(store.region_concepts)):
        bounds = starts[pointers[r] : pointers[r + 1]].tolist() + [store.n_tokens]
        for a, b, value in zip(bounds[:-1], bounds[1:], ids[pointers[r] : pointers[r + 1]].tolist()):
            inst[a:b, r] = value
    np.testing.assert_array_equal(store.instances(), inst)
    assert (inst[~store.column("CDS"), store.region_concepts.index("CDS")] == -1).all()
    assert not (store.path / "instances.npy").exists() and not (store.path / "token_window.npy").exists()
    stored = json.loads((store.path / "meta.json").read_text())
    assert stored["region_concepts"] == [c.name for c in cs.region_columns]
    assert np.load(store.path / "window_offsets.npy").tolist()[-1] == store.n_tokens


def test_spliced_cds_across_the_origin_keeps_its_frame(small):
    genome, cs, _, _, _ = small
    col = {c.name: c for c in cs.columns}
    # CDS 930..1000 (70 nt, phase 0) then 0..50 (phase 2): 70 = 23 codons + 1, so base 999 is codon
    # position 1, bases 0 and 1 are positions 2 and 3 and base 2 is position 1 again.
    for name, where in (("CDS_codon_pos1", [999, 2]), ("CDS_codon_pos2", [0]), ("CDS_codon_pos3", [1])):
        values = col[name].values("c", 1000, "+")
        assert all(values[p] for p in where), name
    assert "intron" not in col  # exons 900-1000 and 0-60 only meet at the origin


def test_shards_concatenate_to_the_full_store(small, tmp_path):
    genome, cs, windows, store, _ = small
    rows = np.array_split(np.arange(len(windows)), 3)
    parts = []
    for i, r in enumerate(rows):
        build_label_store(tmp_path / f"s{i}", cs, genome, windows, window_rows=r)
        parts.append(tmp_path / f"s{i}")
    merged = LabelStore.open(concat_label_stores(parts, tmp_path / "merged"))
    np.testing.assert_array_equal(merged.packed_labels, store.packed_labels)
    np.testing.assert_array_equal(merged.instances(), store.instances())
    np.testing.assert_array_equal(merged.token_window, store.token_window)
    np.testing.assert_array_equal(merged.window_offsets, store.window_offsets)
    np.testing.assert_array_equal(merged.categorical("codon_position")[0], store.categorical("codon_position")[0])
    assert merged.windows == store.windows
    assert [c["tokens"] for c in merged.meta["concepts"]] == [c["tokens"] for c in store.meta["concepts"]]
    shard = LabelStore.open(parts[1])
    np.testing.assert_array_equal(shard.token_window, np.repeat(rows[1], [windows[i].length for i in rows[1]]))


@pytest.fixture(scope="module")
def plasmid(tmp_path_factory, genomes_dir: Path):
    d = tmp_path_factory.mktemp("plasmid")
    record = SeqIO.read(genomes_dir / "NC_005816.gb", "genbank")
    SeqIO.write([record], d / "genome.fa", "fasta")
    return d, record, genomes_dir / "NC_005816.gb"


def test_cli_contract_bed6_per_concept(plasmid, capsys):
    d, record, gb = plasmid
    out, beds = d / "labels", d / "beds"
    assert (
        main(
            [
                "labels",
                "--fasta",
                str(d / "genome.fa"),
                "--annotation",
                str(gb),
                "--out",
                str(out),
                "--export-bed",
                str(beds),
                "--summary",
                str(d / "concept_summary.tsv"),
            ]
        )
        == 0
    )
    store = LabelStore.open(out)
    assert store.n_tokens == 2 * len(record)  # default windows: the whole contig on + and on −
    table = store.instance_table()
    written = sorted(p.stem for p in beds.glob("*.bed"))
    assert written == sorted(c["name"] for c in store.meta["concepts"] if c["instances"] is not None)
    assert {"CDS", "CDS_antisense", "gene", "intergenic", "start_codon", "stop_codon", "promoter"} <= set(written)
    for name in written:
        bed = pd.read_csv(beds / f"{name}.bed", sep="\t", header=None, dtype={0: str})
        assert bed.shape[1] == 6
        assert (bed[0] == record.id).all() and (bed[1] >= 0).all() and (bed[1] < bed[2]).all()
        assert (bed[2] <= len(record)).all() and set(bed[5]) <= {"+", "-", "."}
        sense = name.removesuffix("_antisense")
        rows = table[table.concept == sense]
        assert set(zip(bed[1], bed[2], bed[3], bed[5])) == set(zip(rows.start, rows.end, rows.instance_id, rows.strand))
    cds = pd.read_csv(beds / "CDS.bed", sep="\t", header=None)
    want = {
        (int(p.start), int(p.end), "+" if p.strand == 1 else "-")
        for f in record.features
        if f.type == "CDS"
        for p in f.location.parts
    }
    assert set(zip(cds[1], cds[2], cds[5])) == want
    summary = pd.read_csv(d / "concept_summary.tsv", sep="\t").set_index("concept")
    assert summary.loc["CDS", "instances"] == 10
    assert summary.loc["CDS", "tokens"] == store.column("CDS").sum()
    cds_nt = len({(x, s) for a, b, s in want for x in range(a, b)})
    assert summary.loc["CDS", "genome_nt"] == cds_nt


def test_bad_windows_fail_cleanly_without_output(plasmid, capsys, tmp_path):
    d, record, gb = plasmid
    assert record.annotations["topology"] == "circular"  # so 9000-9700 wraps; 9000-19000 is too long
    write_windows_bed(
        [Window(record.id, 9000, 9700, "+", "wraps"), Window(record.id, 9000, 19_000, "+", "bad")], tmp_path / "w.bed"
    )
    code = main(
        [
            "labels",
            "--fasta",
            str(d / "genome.fa"),
            "--annotation",
            str(gb),
            "--windows",
            str(tmp_path / "w.bed"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "lies outside the contig" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out*")) == []


def test_rerun_replaces_the_store(plasmid, tmp_path):
    d, record, gb = plasmid
    for settings in ({}, {"include": ["genes"]}):
        run_labels(d / "genome.fa", gb, tmp_path / "labels", settings=settings)
    store = LabelStore.open(tmp_path / "labels")
    assert "base_A" not in store.concept_names and "CDS" in store.concept_names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels"]
