"""The bundled Arabidopsis chloroplast (NC_000932.gb), checked against the GenBank record itself.

References are computed here from Bio.SeqIO (locations, /translation) and the raw sequence, not from
dnalens code: introns from the joins, codons from the sequence, proteins from the record.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from Bio.Data import CodonTable
from Bio.Seq import Seq

TABLE11 = CodonTable.unambiguous_dna_by_id[11]
RNA_EDITED_START = {"ndhD"}  # ACG start, edited to AUG in the transcript (the record's /translation says M)


def _bed(path) -> pd.DataFrame:
    return pd.read_csv(
        path, sep="\t", header=None, names=["contig", "start", "end", "name", "score", "strand"], dtype={"contig": str}
    )


def _codons(bed: pd.DataFrame, seq: str) -> dict[int, str]:
    """Instance id -> codon read 5'→3' on its strand, from the BED lines (parts may be split)."""
    out: dict[int, str] = {}
    for name, rows in bed.groupby("name"):
        strand = rows.strand.iloc[0]
        positions = sorted(p for _, r in rows.iterrows() for p in range(r.start, r.end))
        text = "".join(seq[p] for p in positions)
        out[int(name)] = str(Seq(text).reverse_complement()) if strand == "-" else text
    return out


def _genbank_introns(record) -> set[tuple[int, int, str]]:
    """Introns from the joins: consecutive parts on one strand, downstream in transcription order."""
    out = set()
    for f in record.features:
        if f.type not in ("CDS", "tRNA", "rRNA"):
            continue
        parts = list(f.location.parts)
        for a, b in zip(parts, parts[1:]):
            if a.strand != b.strand:
                continue
            if a.strand == 1 and int(b.start) > int(a.end):
                out.add((int(a.end), int(b.start), "+"))
            elif a.strand == -1 and int(b.end) < int(a.start):
                out.add((int(b.end), int(a.start), "-"))
    return out


def test_rna_instance_counts(cp_labels):
    table = cp_labels.store.instance_table()
    assert table[table.concept == "tRNA"].instance_id.nunique() == 37
    assert table[table.concept == "rRNA"].instance_id.nunique() == 7
    summary = pd.read_csv(cp_labels.out / "concept_summary.tsv", sep="\t").set_index("concept")
    assert summary.loc["tRNA", "instances"] == 37 and summary.loc["rRNA", "instances"] == 7


def test_start_and_stop_codons_read_table_11_codons(cp_labels, chloroplast):
    starts = _codons(_bed(cp_labels.bed / "start_codon.bed"), chloroplast.seq)
    stops = _codons(_bed(cp_labels.bed / "stop_codon.bed"), chloroplast.seq)
    assert len(starts) == 84 and len(stops) == 85  # 85 CDS; ndhD starts with ACG (RNA editing)
    assert all(c in TABLE11.start_codons for c in starts.values()), starts
    assert all(c in TABLE11.stop_codons for c in stops.values()), stops
    table = cp_labels.store.instance_table().set_index("instance_id")
    cds_without_start = set(table[table.concept == "CDS"].name) - set(table.loc[list(starts)].name)
    assert cds_without_start == RNA_EDITED_START


def test_introns_and_splice_sites_match_the_genbank_joins(cp_labels, chloroplast):
    expected = _genbank_introns(chloroplast.record)
    introns = _bed(cp_labels.bed / "intron.bed")
    got = set(zip(introns.start, introns.end, introns.strand))
    assert got == expected and len(got) == 25
    donors = _bed(cp_labels.bed / "splice_donor.bed")
    acceptors = _bed(cp_labels.bed / "splice_acceptor.bed")
    want_donor = {(e - 2, e, "-") if s == "-" else (b, b + 2, "+") for b, e, s in expected}
    want_acceptor = {(b, b + 2, "-") if s == "-" else (e - 2, e, "+") for b, e, s in expected}
    assert set(zip(donors.start, donors.end, donors.strand)) == want_donor
    assert set(zip(acceptors.start, acceptors.end, acceptors.strand)) == want_acceptor
    # the rps12 trans-splice junctions (69,611-69,724 to 98,562-98,793 on −; to 139,856-140,087 on +)
    assert not any(s < 69_724 < e or s < 97_998 < e for s, e, _ in got if e - s > 20_000)
    assert {(98_024, 98_561, "-"), (140_087, 140_624, "+")} <= got  # its two cis introns


def test_codon_labels_translate_to_the_genbank_proteins(cp_labels, chloroplast):
    """Independent check of parts and phases: biopython translation of the concatenated CDS parts;
    then the stored amino_acid labels read along each CDS, where no other CDS overlaps on its strand."""
    record, store = chloroplast.record, cp_labels.store
    aa, classes = store.categorical("amino_acid")
    codon_pos, _ = store.categorical("codon_position")
    n = len(record)
    genome = {s: (np.full(n, -1, np.int16), np.full(n, -1, np.int16)) for s in "+-"}
    for w in range(len(store.windows)):
        win = store.windows[w]
        _, pos = store.token_genome_positions(w)
        rows = store.window_tokens(w)
        genome[win.strand][0][pos] = aa[rows]
        genome[win.strand][1][pos] = codon_pos[rows]
    cds = [f for f in record.features if f.type == "CDS"]
    covered = defaultdict(int)
    for f in cds:
        for p in f.location.parts:
            for x in range(int(p.start), int(p.end)):
                covered[(x, p.strand)] += 1
    mismatched, checked = [], 0
    for f in cds:
        protein = f.qualifiers["translation"][0]
        translated = str(f.extract(record.seq).translate(table=11)).rstrip("*")
        assert translated[1:] == protein[1:], f.qualifiers["gene"]
        positions = [
            (x, p.strand)
            for p in f.location.parts
            for x in (
                range(int(p.end) - 1, int(p.start) - 1, -1) if p.strand == -1 else range(int(p.start), int(p.end))
            )
        ]
        if any(covered[k] > 1 for k in positions):
            continue  # psbC/psbD, atpB/atpE, rps3/rpl22 overlap in other frames: one frame per base
        checked += 1
        labels = "".join(
            "*" if classes[genome[s][0][x]] == "stop" else classes[genome[s][0][x]]
            for x, s in ((x, "+" if st == 1 else "-") for x, st in positions)
            if genome[s][1][x] == 0
        )
        if labels.rstrip("*")[1:] != protein[1:]:
            mismatched.append(f.qualifiers["gene"][0])
    assert checked >= 75 and mismatched == []


def test_cds_parts_and_phases_translate_to_the_genbank_proteins(chloroplast):
    """Our CDS parts (transcription order) and phases, concatenated and translated by biopython."""
    from dnalens.concepts.context import ConceptContext
    from dnalens.concepts.genome_data import load_genome_sequence
    from dnalens.genome.annotation import load_annotation

    genome = load_genome_sequence(chloroplast.fasta, circular={chloroplast.record.id})
    ctx = ConceptContext(load_annotation(chloroplast.gb, contig_lengths=genome.lengths), genome)
    proteins = defaultdict(set)
    for f in chloroplast.record.features:
        if f.type == "CDS":
            proteins[f.qualifiers["gene"][0]].add(f.qualifiers["translation"][0])
    units = [u for u in ctx.units if u.cds]
    assert len(units) == 85
    for u in units:
        text = "".join(
            str(Seq(chloroplast.seq[p.start : p.end]).reverse_complement())
            if p.strand == "-"
            else chloroplast.seq[p.start : p.end]
            for p in u.cds
        )[u.cds[0].phase or 0 :]
        protein = str(Seq(text).translate(table=11)).rstrip("*")
        assert any(protein[1:] == ref[1:] for ref in proteins[u.name]), u.name


def _partner(name: str, names: list[str]) -> str:
    swap = {"base_A": "base_T", "base_T": "base_A", "base_C": "base_G", "base_G": "base_C"}
    if name in swap:
        return swap[name]
    if name.endswith("_antisense"):
        return name.removesuffix("_antisense")
    twin = name + "_antisense"
    return twin if twin in names else name


def test_minus_windows_mirror_plus_windows(cp_labels, chloroplast):
    store = cp_labels.store
    names, regions = store.concept_names, store.region_concepts
    perm = [names.index(_partner(n, names)) for n in names]
    rperm = [regions.index(_partner(n, regions)) for n in regions]
    assert perm != list(range(len(names)))
    windows = store.windows
    assert windows[-2].end > len(chloroplast.record)  # one window wraps the origin
    for w in range(0, len(windows), 2):
        assert windows[w].strand == "+" and windows[w + 1].strand == "-"
        plus, minus = store.window_tokens(w), store.window_tokens(w + 1)
        np.testing.assert_array_equal(store.labels(minus), store.labels(plus)[::-1][:, perm])
        np.testing.assert_array_equal(store.instances(minus), store.instances(plus)[::-1][:, rperm])


def test_overlapping_opposite_strand_cds_are_both_labelled(cp_labels):
    """ycf1 (+) and ndhF (−) overlap at 110,397-110,436."""
    store = cp_labels.store
    table = store.instance_table().drop_duplicates("instance_id").set_index("instance_id")
    w = next(i for i, win in enumerate(store.windows) if win.strand == "+" and win.start <= 110_400 < win.end)
    k = store.window_tokens(w).start + 110_420 - store.windows[w].start
    labels = dict(zip(store.concept_names, store.labels(slice(k, k + 1))[0]))
    ids = dict(zip(store.region_concepts, store.instances(slice(k, k + 1))[0]))
    assert labels["CDS"] and labels["CDS_antisense"]
    assert table.loc[ids["CDS"], "name"] == "ycf1" and table.loc[ids["CDS_antisense"], "name"] == "ndhF"


@pytest.mark.parametrize("concept", ["tRNA", "rRNA", "CDS", "gene"])
def test_bed_strand_is_the_annotated_strand(cp_labels, chloroplast, concept):
    kind = {"tRNA": "tRNA", "rRNA": "rRNA", "CDS": "CDS", "gene": "gene"}[concept]
    want = {
        (int(p.start), int(p.end), "+" if p.strand == 1 else "-")
        for f in chloroplast.record.features
        if f.type == kind
        for p in f.location.parts
    }
    bed = _bed(cp_labels.bed / f"{concept}.bed")
    got = set(zip(bed.start, bed.end, bed.strand))
    if concept == "gene":  # GenBank gene joins are spans per strand run; compare strands of covered bases
        assert {s for _, _, s in got} == {"+", "-"}
    else:
        assert got == want
