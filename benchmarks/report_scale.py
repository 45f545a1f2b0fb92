"""The report at dictionary scale: a synthetic Evo 2-shaped buffer through `dnalens report`, this
checkout against a baseline source tree, side by side (issue 20, point 4).

    git archive <old commit> src workflow/schemas | tar -x -C /tmp/report_base   # the baseline's code
    PYTHONPATH=src .venv/bin/python benchmarks/report_scale.py --work /tmp/report_scale \
        [--baseline-src /tmp/report_base/src] [--parts 2] [--tokens 1024000] [--features 32768] [--k 64]

Inputs (written once into --work, reused on later runs): a 512 kb circular contig with a gene + CDS
every kb (genome.fa, annotation.gff3, written by dnalens.genome), 1,024-nt windows tiling it on both
strands (1,024,000 tokens), and an ActivationBuffer (dnalens.buffer: CSR + feature-major copy) where
each token has exactly k active features, one from each of k groups of features/k, drawn with a
Zipf-like skew so feature frequencies span two orders of magnitude as a real dictionary's do; runs of
8 tokens share a feature set so hits are intervals. Probe tables in the columns the report reads: every
feature × concept pair, with `--annotated` latents passing on one concept each.

Each side runs `dnalens report` in its own process (PYTHONPATH = that side's source) with the same
inputs; with --parts N also this checkout scattered: N `--part` processes at once, then the
`dnalens report-merge` gather, as the workflow's report_part / report rules. Printed: wall time, CPU
time (user + system: what a shared machine cannot inflate), peak RSS (the child's ru_maxrss; for the
scattered side the largest process), report.html bytes, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

WINDOW = 1024
RUN = 8  # tokens in a row that share one feature set


def write_genome(root: Path, length: int) -> None:
    from dnalens.genome.fasta import index_fasta, write_fasta
    from dnalens.genome.gff3 import write_normalized_gff3
    from dnalens.genome.model import Annotation, Feature

    rng = np.random.default_rng(1)
    sequence = "".join(np.array(list("ACGT"))[rng.integers(0, 4, length)])
    write_fasta([("chrS", sequence)], root / "genome.fa")
    index_fasta(root / "genome.fa")
    features = []
    for i, start in enumerate(range(50, length - 1000, 1000)):
        strand = "+" if i % 2 == 0 else "-"
        gene = f"gene{i:04d}"
        features.append(Feature("chrS", "gene", start, start + 900, strand, gene, attributes=(("Name", f"syn{i}"),)))
        features.append(
            Feature(
                "chrS",
                "CDS",
                start,
                start + 900,
                strand,
                f"cds{i:04d}",
                parents=(gene,),
                phase=0,
                attributes=(("product", f"synthetic protein {i % 97}"),),
            )
        )
    write_normalized_gff3(
        Annotation(features, circular_seqids=frozenset({"chrS"})), root / "annotation.gff3", {"chrS": length}
    )
    (root / "chrom.sizes").write_text(f"chrS\t{length}\n")


def windows_table(n_windows: int) -> pd.DataFrame:
    half = n_windows // 2
    starts = np.tile(np.arange(half) * WINDOW, 2)
    strand = np.repeat(["+", "-"], half)
    rows = np.arange(n_windows)
    return pd.DataFrame(
        {
            "row": rows,
            "contig": "chrS",
            "start": starts,
            "end": starts + WINDOW,
            "strand": strand,
            "name": [f"w{i}" for i in rows],
            "token_start": rows * WINDOW,
            "token_end": (rows + 1) * WINDOW,
            "read_offset": 0,
        }
    )


def code_shards(n_tokens: int, n_features: int, k: int, rng, shard_tokens: int = 131072):
    """Row-major shards (CsrArrays): k features per token, one per group of n_features / k."""
    from dnalens.formats.codes import CsrArrays

    group = n_features // k
    weights = 1.0 / (np.arange(group) + 8.0)
    weights /= weights.sum()
    perm = rng.permutation(group)  # which offsets are the busy ones
    for t0 in range(0, n_tokens, shard_tokens):
        n = min(shard_tokens, n_tokens - t0)
        n_runs = -(-n // RUN)
        offsets = perm[rng.choice(group, size=(n_runs, k), p=weights)]
        cols = (np.repeat(offsets, RUN, axis=0)[:n] + np.arange(k) * group).astype(np.int32)
        values = rng.gamma(2.0, 1.0, size=(n, k)).astype(np.float16)
        yield CsrArrays(np.arange(n + 1, dtype=np.int64) * k, cols.ravel(), values.ravel(), n_features)


def write_buffer(root: Path, n_tokens: int, n_features: int, k: int, concepts: list[str]) -> None:
    from dnalens.atomic import atomic_dir
    from dnalens.formats.buffer_files import write_buffer_meta, write_windows_table
    from dnalens.formats.buffer_labels import write_inline
    from dnalens.formats.codes import CsrArrays, write_csr
    from dnalens.formats.feature_columns import column_counts, write_feature_major

    rng = np.random.default_rng(0)
    shards = list(code_shards(n_tokens, n_features, k, rng))
    whole = CsrArrays(
        np.arange(n_tokens + 1, dtype=np.int64) * k,
        np.concatenate([s.indices for s in shards]),
        np.concatenate([s.values for s in shards]),
        n_features,
    )
    with atomic_dir(root / "buffer") as tmp:
        write_csr(tmp, "codes", whole)
        write_feature_major(tmp, shards, column_counts(shards, n_features), n_tokens)
        write_inline(tmp, np.zeros((n_tokens, -(-len(concepts) // 8)), np.uint8), np.zeros((n_tokens, 0), np.int32))
        write_windows_table(tmp / "windows.parquet", windows_table(n_tokens // WINDOW))
        write_buffer_meta(
            tmp,
            {"genome": "synthetic", "layer": "blocks.26", "sae": "synthetic_sae", "k": k},
            n_tokens=n_tokens,
            n_features=n_features,
            nnz=n_tokens * k,
            label_names=concepts,
            instance_names=[],
            dense_width=None,
        )


def write_probe(root: Path, n_features: int, concepts: list[str], n_annotated: int) -> None:
    """Probe tables in the probing stage's column names (report/inputs.py SCORE_REQUIRED etc.)."""
    from dnalens.atomic import atomic_dir

    rng = np.random.default_rng(2)
    n_c = len(concepts)
    feature = np.repeat(np.arange(n_features, dtype=np.int32), n_c)
    concept = pd.Categorical(np.tile(concepts, n_features), categories=concepts)
    auroc_train = rng.uniform(0.45, 0.7, feature.size).astype(np.float32)
    auroc_test = (auroc_train + rng.normal(0, 0.01, feature.size)).astype(np.float32)
    baseline = np.tile(rng.uniform(0.55, 0.65, n_c), n_features).astype(np.float32)
    label_of = rng.integers(0, n_c, n_features)
    annotated = np.zeros(feature.size, bool)
    chosen = rng.choice(n_features, n_annotated, replace=False)
    annotated[chosen * n_c + label_of[chosen]] = True
    auroc_test[annotated] = rng.uniform(0.8, 0.95, n_annotated)
    auroc_train[annotated] = auroc_test[annotated]
    margin = auroc_test - baseline
    f1 = rng.uniform(0.1, 0.9, feature.size).astype(np.float32)
    pairs = pd.DataFrame(
        {
            "feature": feature,
            "concept": concept,
            "auroc_train": auroc_train,
            "auroc_test": auroc_test,
            "baseline_auroc_test": baseline,
            "margin": margin,
            "f1_train": f1,
            "f1_test": f1,
            "precision_train": f1,
            "precision_test": f1,
            "recall_train": f1,
            "recall_test": f1,
            "threshold": rng.choice(np.float32([0.0, 0.15, 0.5, 0.6]), feature.size),
            "p": np.float32(1e-4),
            "q": np.float32(1e-3),
            "f1_supported": True,
            "annotated": annotated,
            "best_for_concept": False,
        }
    )
    best = pairs.groupby("concept", observed=True)["auroc_train"].idxmax().to_numpy()
    pairs.loc[best, "best_for_concept"] = True
    labels = pd.DataFrame(
        {
            "feature": np.arange(n_features, dtype=np.int32),
            "label": pd.array(np.asarray(concepts)[label_of], dtype="string"),
            "annotated": False,
            "n_annotated_concepts": np.zeros(n_features, np.int32),
        }
    )
    labels.loc[chosen, ["annotated", "n_annotated_concepts"]] = [True, 1]
    top = pairs.loc[best]
    concept_table = pd.DataFrame(
        {
            "concept": concepts,
            "evaluated": True,
            "baseline": "kmer5",
            "baseline_auroc_test": top["baseline_auroc_test"].to_numpy(),
            "best_feature_auroc": top["feature"].to_numpy(),
            "best_auroc_train": top["auroc_train"].to_numpy(),
            "best_auroc_test": top["auroc_test"].to_numpy(),
            "best_margin": top["margin"].to_numpy(),
            "best_auroc_q": 1e-3,
            "best_annotated": top["annotated"].to_numpy(),
        }
    )
    with atomic_dir(root / "probe") as tmp:
        pairs.to_parquet(tmp / "feature_concept.parquet", index=False)
        labels.to_parquet(tmp / "features.parquet", index=False)
        concept_table.to_parquet(tmp / "concepts.parquet", index=False)
        settings = {"min_auroc": 0.75, "min_margin": 0.05, "max_q": 0.05, "min_instances": 10}
        (tmp / "summary.json").write_text(json.dumps({"settings": settings}))
    summary = pd.DataFrame({"concept": concepts, "instances": 100, "nucleotides": 10_000, "coverage": 0.02})
    summary.to_csv(root / "labels_summary.tsv", sep="\t", index=False)


def make_inputs(root: Path, args) -> None:
    if (root / "buffer" / "buffer.json").exists() and (root / "probe" / "summary.json").exists():
        meta = json.loads((root / "buffer" / "buffer.json").read_text())
        if (meta["n_tokens"], meta["n_features"], meta.get("k")) == (args.tokens, args.features, args.k):
            return
    root.mkdir(parents=True, exist_ok=True)
    concepts = [f"concept_{i:02d}" for i in range(args.concepts)]
    t0 = time.perf_counter()
    write_genome(root, args.tokens // 2)
    write_buffer(root, args.tokens, args.features, args.k, concepts)
    write_probe(root, args.features, concepts, args.annotated)
    print(f"inputs written in {time.perf_counter() - t0:.1f} s -> {root}", flush=True)


def _report_cmd(root: Path, extra: list[str], merge: list[str] | None = None) -> list[str]:
    """`dnalens report ...`, or with `merge` (part tables) the gather `dnalens report-merge PARTS ...`."""
    return [
        sys.executable,
        "-c",
        "import sys; from dnalens.cli import main; sys.exit(main(sys.argv[1:]))",
        *(["report-merge", *merge] if merge else ["report"]),
        "--genome",
        "synthetic",
        "--buffer",
        str(root / "buffer"),
        "--probe",
        str(root / "probe"),
        "--fasta",
        str(root / "genome.fa"),
        "--annotation",
        str(root / "annotation.gff3"),
        "--chrom-sizes",
        str(root / "chrom.sizes"),
        "--label-summary",
        str(root / "labels_summary.tsv"),
        *extra,
    ]


def _run_together(cmds: list[list[str]], env: dict, log, deadline: float) -> tuple[bool, float, float]:
    """Run the commands at once; (all succeeded, CPU seconds summed, largest peak RSS in MB), from wait4."""
    children = {subprocess.Popen(c, env=env, stdout=log, stderr=subprocess.STDOUT).pid for c in cmds}
    ok, cpu, rss = True, 0.0, 0.0
    while children:
        for pid in list(children):
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if not done and time.perf_counter() >= deadline:  # too slow: stop it and count it as failed
                os.kill(pid, 9)
                done, status, usage = os.wait4(pid, 0)
            if done:
                children.discard(pid)
                ok &= os.waitstatus_to_exitcode(status) == 0
                cpu += usage.ru_utime + usage.ru_stime
                rss = max(rss, usage.ru_maxrss / 1024)
        time.sleep(0.1)
    return ok, cpu, rss


def run_side(name: str, src: Path, root: Path, timeout: float, parts: int = 0) -> dict:
    """`dnalens report` in a child process, or `parts` report_part processes at once and the gather."""
    out = root / f"out_{name}"
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    with open(root / f"{name}.log", "w") as log:
        if parts:
            files = [str(root / f"parts_{name}" / f"part-{i}.parquet") for i in range(parts)]
            ok, cpu, rss = _run_together(
                [
                    _report_cmd(root, ["--part", str(i), "--parts", str(parts), "--part-out", f])
                    for i, f in enumerate(files)
                ],
                env,
                log,
                t0 + timeout,
            )
            if ok:
                ok, cpu2, rss2 = _run_together(
                    [_report_cmd(root, ["--out", str(out)], merge=files)], env, log, t0 + timeout
                )
                cpu, rss = cpu + cpu2, max(rss, rss2)
        else:
            ok, cpu, rss = _run_together([_report_cmd(root, ["--out", str(out)])], env, log, t0 + timeout)
    html = out / "report.html"
    return {
        "name": name,
        "ok": ok,
        "wall": time.perf_counter() - t0,
        "cpu": cpu,
        "rss_mb": rss,
        "html": html.stat().st_size if ok and html.exists() else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True, help="inputs and outputs (reused between runs)")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="src/ of the path to compare with (e.g. `git archive` of main, with workflow/schemas)",
    )
    parser.add_argument("--tokens", type=int, default=1_024_000)
    parser.add_argument("--features", type=int, default=32_768)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--concepts", type=int, default=40)
    parser.add_argument("--annotated", type=int, default=300, help="latents whose label pair passes")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per side before it is stopped")
    parser.add_argument(
        "--parts",
        type=int,
        default=0,
        help="also run this checkout scattered: this many report_part processes at once, then the gather",
    )
    args = parser.parse_args()
    make_inputs(args.work, args)
    here = Path(__file__).resolve().parents[1] / "src"
    sides = [run_side("this", here, args.work, args.timeout)]
    if args.baseline_src:
        sides.append(run_side("baseline", args.baseline_src.resolve(), args.work, args.timeout))
    if args.parts:
        sides.append(run_side(f"{args.parts}parts", here, args.work, args.timeout, args.parts))
    print(
        f"buffer: {args.tokens:,} tokens x {args.features:,} features, k = {args.k}, {args.concepts} concepts, "
        f"{args.annotated} annotated latents; {os.cpu_count()} CPUs visible"
    )
    for s in sides:
        state = "" if s["ok"] else f"  (FAILED or stopped at {args.timeout:.0f} s: see {s['name']}.log)"
        html = f"{s['html'] / 1e6:7.2f} MB" if s["html"] else "      –"
        print(
            f"{s['name']:>9}: wall {s['wall']:7.1f} s   CPU {s['cpu']:7.1f} s   peak RSS {s['rss_mb']:7.0f} MB   "
            f"report.html {html}{state}"
        )
    if args.baseline_src and sides[0]["ok"] and sides[1]["ok"]:
        a, b = sides[:2]
        print(
            f"    ratio: wall {b['wall'] / a['wall']:.1f}x faster, CPU {b['cpu'] / a['cpu']:.1f}x less, "
            f"peak RSS {a['rss_mb'] / b['rss_mb']:.2f}x and html {a['html'] / b['html']:.2f}x of the baseline's"
        )


if __name__ == "__main__":
    main()
