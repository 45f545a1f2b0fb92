"""Dry run of a 200-genome genome sheet: wall time and number of jobs (issue 28 target: <= 30 s).

Writes, in a fresh directory, a sheet of N rows that all point at the bundled 9.6 kb Yersinia plasmid
(GenBank) and a config naming it, then times `snakemake -n --cores 1 --configfile <config>` (the DAG is
the same whatever the genome's size: nothing is read but the sheet). Baselines in the same run, side by
side: the same N genomes written as a YAML mapping (what the sheet costs over YAML), and the parse of
the sheet alone (`read_genome_sheet`, in-process).

    .venv/bin/python benchmarks/sheet_dryrun.py                 # 200 genomes
    .venv/bin/python benchmarks/sheet_dryrun.py --genomes 50 --profile /tmp/sheet.prof   # + cProfile of the sheet run
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
GENBANK = REPO / "resources" / "genomes" / "NC_005816.gb"


def write_inputs(work: Path, n: int) -> tuple[Path, Path]:
    """(config naming a sheet of n genomes, config with the same n genomes as a YAML mapping)."""
    rows = ["name\tgenbank\tkingdom"] + [f"g{i:04d}\t{GENBANK}\tprokaryote" for i in range(n)]
    (work / "genomes.tsv").write_text("\n".join(rows) + "\n")
    sheet_config = work / "sheet.yaml"
    sheet_config.write_text(yaml.safe_dump({"genomes": str(work / "genomes.tsv")}))
    mapping_config = work / "mapping.yaml"
    genomes = {f"g{i:04d}": {"genbank": str(GENBANK), "kingdom": "prokaryote"} for i in range(n)}
    mapping_config.write_text(yaml.safe_dump({"genomes": genomes}))
    return sheet_config, mapping_config


def dry_run(work: Path, config: Path, profile: Path | None = None) -> tuple[float, int]:
    """(wall seconds, jobs) of `snakemake -n --cores 1 --configfile config` run in `work`."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    snakemake = [str(bin_dir / "snakemake")]
    if profile is not None:
        snakemake = [sys.executable, "-m", "cProfile", "-o", str(profile), str(bin_dir / "snakemake")]
    cmd = [*snakemake, "-s", str(REPO / "Snakefile"), "-n", "--cores", "1", "--configfile", str(config)]
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"dry run failed:\n{run.stderr[-3000:]}")
    totals = re.findall(r"^total\s+(\d+)\s*$", run.stdout + run.stderr, re.M)
    return wall, int(totals[-1]) if totals else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genomes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="dry runs of each config (the fastest is shown)")
    parser.add_argument("--profile", type=Path, help="also write a cProfile of the sheet dry run here")
    args = parser.parse_args()

    from dnalens.genome.sheet import read_genome_sheet

    with tempfile.TemporaryDirectory(prefix="sheet_dryrun_") as tmp:
        work = Path(tmp)
        sheet_config, mapping_config = write_inputs(work, args.genomes)
        start = time.perf_counter()
        parsed = read_genome_sheet(work / "genomes.tsv")
        parse = time.perf_counter() - start
        assert len(parsed) == args.genomes
        sheet, mapping = [], []
        for _ in range(args.repeat):  # alternating, best of each: a cold file cache hits the first run only
            sheet.append(dry_run(work, sheet_config))
            mapping.append(dry_run(work, mapping_config))
        (sheet_wall, sheet_jobs), (mapping_wall, mapping_jobs) = min(sheet), min(mapping)
        if args.profile:
            dry_run(work, sheet_config, args.profile)
    print(f"{args.genomes} genomes (each the 9.6 kb plasmid), snakemake -n --cores 1, best of {args.repeat}")
    print("| config | jobs | wall s | vs YAML mapping |")
    print("|---|---|---|---|")
    print(f"| genome sheet (TSV) | {sheet_jobs:,} | {sheet_wall:.1f} | {sheet_wall / mapping_wall:.2f} |")
    print(f"| same genomes as a YAML mapping | {mapping_jobs:,} | {mapping_wall:.1f} | 1.00 |")
    print(f"| read_genome_sheet alone (in-process) | - | {parse:.2f} | {parse / mapping_wall:.3f} |")
    print("target: the sheet's dry run <= 30 s")
    if args.profile:
        print(f"cProfile of the sheet dry run: {args.profile} (python -m pstats)")


if __name__ == "__main__":
    main()
