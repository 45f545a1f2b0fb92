"""Build the demo VCF of designed variants (in-silico mutagenesis) for V. cholerae chr2.

    python scripts/make_demo_vcf.py --fasta resources/genomes/vcholerae_O395_chr2.fasta.gz \
        --annotation results/vcholerae_chr2/annotation.gff3 --out resources/variants/vcholerae_chr2_demo.vcf.gz

What it writes (deterministic: the same inputs give the same bytes). `--genes` protein genes are taken evenly
spaced along the contig among the pyrodigal calls that are complete (partial=00), start with ATG, have a
Shine-Dalgarno motif (rbs_motif) and are at least 300 nt long. In each gene, on its coding strand:
- stop_gained: the first codon from codon 10 on that one substitution turns into a stop;
- synonymous: the first codon from codon 20 on with a third-base change that keeps the amino acid;
- missense: the first codon from codon 30 on with a change to another (non-stop) amino acid;
- start_lost: ATG -> ATA;
- sd_scramble: the 6-mer 4-15 nt upstream of the start that best matches AGGAGG, replaced by its bases in a
  seeded shuffled order that keeps at most 2 of them in place (one MNV record);
and one intergenic SNV (a transition) in the middle of the intergenic gap before the gene, when the gap
is at least 60 nt. Each record has ID <design>_<gene> and INFO DESIGN (the designed class) and GENE; the
script checks every coding design against dnalens' own consequence classifier and leaves out the few that an
overlapping gene turns into another class (said on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dnalens.concepts.units import transcript_units  # noqa: E402
from dnalens.formats.window_table import reverse_complement  # noqa: E402
from dnalens.genome.annotation import load_annotation  # noqa: E402
from dnalens.genome.fasta import open_fasta  # noqa: E402
from dnalens.variants.consequence import ConsequenceModel  # noqa: E402

TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}
DESIGNS = ("stop_gained", "synonymous", "missense", "start_lost", "sd_scramble", "intergenic")


def pick_genes(annotation, units, n: int) -> list:
    """Evenly spaced complete ATG-start protein genes with a Shine-Dalgarno motif, >= 300 nt."""
    gene_rows = {f.id: f for f in annotation.features if f.type == "gene"}
    ok = []
    for u in units:
        gene = gene_rows.get(u.gene_id)
        if not u.cds or gene is None or len(u.cds) != 1:
            continue
        if gene.attr("partial") != "00" or gene.attr("start_type") != "ATG" or gene.attr("rbs_motif") in (None, "None"):
            continue
        if u.cds[0].end - u.cds[0].start >= 300:
            ok.append(u)
    ok.sort(key=lambda u: u.cds[0].start)
    step = max(1, len(ok) // n)
    return ok[::step][:n]


def coding_changes(cds: str, model: ConsequenceModel):
    """(design, codon index, base offset in the codon, new base) for the three coding designs."""
    table = model.table
    stops = set(table.stop_codons)

    def aa(c):
        return "*" if c in stops else table.forward_table[c]

    found = {}
    n = len(cds) // 3
    for design, first in (("stop_gained", 10), ("synonymous", 20), ("missense", 30)):
        for c in range(first, n - 1):
            codon = cds[3 * c : 3 * c + 3]
            offsets = (2,) if design == "synonymous" else (0, 1, 2)
            hit = None
            for o in offsets:
                for b in "ACGT":
                    new = codon[:o] + b + codon[o + 1 :]
                    if b == codon[o] or codon in stops:
                        continue
                    if design == "stop_gained" and new in stops:
                        hit = (c, o, b)
                    elif design == "synonymous" and new not in stops and aa(new) == aa(codon):
                        hit = (c, o, b)
                    elif design == "missense" and new not in stops and aa(new) != aa(codon):
                        hit = (c, o, b)
                    if hit:
                        break
                if hit:
                    break
            if hit:
                found[design] = hit
                break
    found["start_lost"] = (0, 2, "A")
    return found


def genome_pos(unit, cds_index: int) -> tuple[int, bool]:
    part = unit.cds[0]
    minus = part.strand == "-"
    return (part.end - 1 - cds_index if minus else part.start + cds_index), minus


def sd_scramble(seq: str, unit, rng) -> tuple[int, str, str] | None:
    """(0-based genome start, REF, ALT) of the scrambled best AGGAGG match upstream of the start codon."""
    part = unit.cds[0]
    minus = part.strand == "-"
    if minus:
        upstream = reverse_complement(seq[part.end + 3 : part.end + 15 + 1])  # 5'->3' on the gene strand
    else:
        upstream = seq[part.start - 16 : part.start - 4 + 1]
    best, where = -1, 0
    for i in range(len(upstream) - 5):
        score = sum(a == b for a, b in zip(upstream[i : i + 6], "AGGAGG"))
        if score > best:
            best, where = score, i
    ref = upstream[where : where + 6]
    for _ in range(100):
        order = rng.permutation(6)
        alt = "".join(ref[j] for j in order)
        if sum(a == b for a, b in zip(alt, ref)) <= 2:
            break
    else:
        return None
    if minus:
        start = part.end + 15 + 1 - (where + 6)
        return start, reverse_complement(ref), reverse_complement(alt)
    return part.start - 16 + where, ref, alt


def build_records(fasta_path, annotation_path, n_genes: int, seed: int) -> tuple[str, int, list[tuple]]:
    fasta = open_fasta(fasta_path)
    contig = list(fasta.keys())[0]
    seq = str(fasta[contig][:]).upper()
    lengths = {contig: len(seq)}
    annotation = load_annotation(annotation_path, "gff3", contig_lengths=lengths, circular=[contig])
    units = transcript_units(annotation, lengths, frozenset({contig}))
    model = ConsequenceModel(units, {contig: seq}, 11, lengths, frozenset({contig}))
    rng = np.random.default_rng(seed)
    starts = sorted((p.start, p.end) for u in units for p in (*u.cds, *u.body))
    records = []
    for unit in pick_genes(annotation, units, n_genes):
        name = unit.name
        part = unit.cds[0]
        cds = seq[part.start : part.end]
        cds = reverse_complement(cds) if part.strand == "-" else cds
        for design, (c, o, base) in coding_changes(cds, model).items():
            pos, minus = genome_pos(unit, 3 * c + o)
            ref, alt = seq[pos], reverse_complement(base) if minus else base
            got = model.classify(contig, pos, ref, alt).consequence
            if got != design:  # an overlapping gene makes it something else: left out, said on stderr
                print(f"{name}: designed {design} at {pos + 1} is {got} (overlapping gene); left out", file=sys.stderr)
                continue
            records.append((pos, ref, alt, design, name))
        sd = sd_scramble(seq, unit, rng)
        if sd is not None:
            records.append((sd[0], sd[1], sd[2], "sd_scramble", name))
        gap = _gap_before(starts, part)
        if gap is not None:
            mid = (gap[0] + gap[1]) // 2
            if model.classify(contig, mid, seq[mid], TRANSITION[seq[mid]]).consequence == "intergenic":
                records.append((mid, seq[mid], TRANSITION[seq[mid]], "intergenic", name))
    records.sort()
    return contig, len(seq), records


def _gap_before(intervals: list[tuple[int, int]], part) -> tuple[int, int] | None:
    """The annotation-free gap 5' of the gene (upstream on its strand), when it is >= 60 nt."""
    if part.strand == "-":
        after = [s for s, _ in intervals if s >= part.end]
        end = min(after) if after else None
        return (part.end, end) if end is not None and end - part.end >= 60 else None
    before = [e for _, e in intervals if e <= part.start]
    start = max(before) if before else None
    return (start, part.start) if start is not None and part.start - start >= 60 else None


def write_vcf(out: Path, contig: str, length: int, records: list[tuple], argv: list[str]) -> None:
    import pysam

    lines = [
        "##fileformat=VCFv4.2",
        "##source=dnalens scripts/make_demo_vcf.py (designed in-silico mutagenesis, not observed variants)",
        f"##contig=<ID={contig},length={length}>",
        '##INFO=<ID=DESIGN,Number=1,Type=String,Description="Designed class: ' + ", ".join(DESIGNS) + '">',
        '##INFO=<ID=GENE,Number=1,Type=String,Description="The gene the design targets (pyrodigal call)">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for pos, ref, alt, design, gene in records:
        lines.append(f"{contig}\t{pos + 1}\t{design}_{gene}\t{ref}\t{alt}\t.\t.\tDESIGN={design};GENE={gene}")
    out.parent.mkdir(parents=True, exist_ok=True)
    plain = out.with_name(out.name + ".plain.vcf")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(out), force=True)
    plain.unlink()
    pysam.tabix_index(str(out), preset="vcf", force=True)  # the .tbi beside it: htslib looks for one on open


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fasta", required=True, help="the genome FASTA (the bundled .fasta.gz or results/<g>/genome.fa)"
    )
    parser.add_argument("--annotation", required=True, help="results/vcholerae_chr2/annotation.gff3 (pyrodigal calls)")
    parser.add_argument("--out", required=True, help="the VCF to write (.vcf.gz, bgzip)")
    parser.add_argument("--genes", type=int, default=60, help="genes to design variants in")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Shine-Dalgarno shuffles")
    args = parser.parse_args(argv)
    contig, length, records = build_records(args.fasta, args.annotation, args.genes, args.seed)
    write_vcf(Path(args.out), contig, length, records, argv or [])
    counts = {d: sum(r[3] == d for r in records) for d in DESIGNS}
    print(f"{len(records)} records -> {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
