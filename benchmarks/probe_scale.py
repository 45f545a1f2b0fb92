"""The probe stage at dictionary scale: this checkout's kernels side by side with the previous ones, one run.

    .venv/bin/python benchmarks/probe_scale.py                          # Evo 2-shaped synthetic buffer
    .venv/bin/python benchmarks/probe_scale.py --tokens 200000          # reduced scale (shared machine)
    .venv/bin/python benchmarks/probe_scale.py --buffer results/vcholerae_chr2  # a finished run's buffer
    .venv/bin/python benchmarks/probe_scale.py --device cuda            # also the torch path on a GPU

Synthetic: N = 1,000,000 tokens (half on each read strand of one contig), F = 32,768 features, k = 64,
L = 40 concepts (`_probing_data` codes: Zipf-like feature frequencies, bf16-rounded values; labels:
`genome_like_labels`, 10 interval families with instance ids, each with 3 codon-position-like point
concepts), a random sequence for the k-mer/GC baselines,
1,024-nt windows for the edge baseline. Each row is its own process pinned to 2 cores (wall time and
peak RSS): the stage (`run_probe`, linear probes off: they do not scale with F) with this checkout's
kernels, with the previous kernels patched back in (expansion kernel for every concept sum, one AUROC
per explicitly built shifted label set: the code before issue 20), and one plain sparse-AUROC pass
(every feature × concept over all tokens) with each kernel, the unit of the issue's "passes".
Targets (issue 20): stage ≤ 10 min and ≤ 3 GB RSS on 2 cores at full scale; ≤ 1.5 plain passes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _probing_data as data  # noqa: E402


def previous_kernels() -> None:
    """Patch the pre-issue-20 kernels back in (the baseline rows)."""
    from dnalens.probe.auroc import RankedCodes
    from dnalens.probe.token_concepts import TokenConcepts, expand

    def expansion_counts(self, seg, tokens, n_seg, weights=None):
        n_l = self.flipped.size
        out = np.zeros(n_seg * n_l, np.int64 if weights is None else np.float64)
        for a in range(0, len(tokens), 1 << 16):
            b = a + (1 << 16)
            cnt, pos = expand(np.asarray(tokens[a:b], np.int64), self.indptr)
            key = np.repeat(np.asarray(seg[a:b], np.int64) * n_l, cnt) + self.concept[pos]
            w = None if weights is None else np.repeat(weights[a:b], cnt)
            out += np.bincount(key, weights=w, minlength=n_seg * n_l).astype(out.dtype, copy=False)
        out = out.reshape(n_seg, n_l)
        if self.flipped.any():
            seg_total = np.bincount(seg, weights=weights, minlength=n_seg)
            out[:, self.flipped] = (seg_total[:, None] - out[:, self.flipped]).astype(out.dtype)
        return out

    def per_shift_auroc(self, labels, sources, source_ids, n_pos):
        return np.stack([self.auroc(labels.take(src)) for src in sources])

    TokenConcepts.counts = expansion_counts
    RankedCodes.shifted_auroc = per_shift_auroc


def genome_like_labels(n: int, n_labels: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Concepts in families of four, as annotations come: a region concept (`_probing_data` intervals with
    instance ids) and its three codon-position-like subsets (every third token inside it, point concepts).
    Real label rows are few (~1,100 distinct on V. cholerae and the chloroplast); independent random
    concepts (`make_labels`) would give tens of thousands."""
    base, base_instances = data.make_labels(n, -(-n_labels // 4), seed)
    labels = np.zeros((n, n_labels), bool)
    instances = np.full((n, n_labels), -1, np.int32)
    phase = np.arange(n) % 3
    for j in range(n_labels):
        family, kind = divmod(j, 4)
        labels[:, j] = base[:, family] if kind == 0 else base[:, family] & (phase == kind - 1)
        if kind == 0:
            instances[:, j] = base_instances[:, family]
    return labels, instances


def synthetic_inputs(directory: Path):
    from dnalens.probe.inputs import ProbeInputs

    codes, labels, instances = data.load(directory)
    n = codes.shape[0]
    half = n // 2
    minus = np.arange(n) >= half
    position = np.where(minus, n - 1 - np.arange(n), np.arange(n)).astype(np.int64)
    rng = np.random.default_rng(7)
    names = [f"concept{j}" for j in range(labels.shape[1])]
    return ProbeInputs(
        codes=codes,
        labels=labels,
        label_names=names,
        instances=np.asarray(instances),
        token_contig=np.zeros(n, np.int64),
        token_position=position % max(half, 1),
        token_minus=minus,
        contig_names=["chr"],
        contig_lengths={"chr": max(half, 1)},
        sequence={"chr": rng.integers(0, 4, max(half, 1)).astype(np.uint8)},
        edge_distance=np.minimum(np.arange(n) % 1024, 1023 - np.arange(n) % 1024),
    )


def tables_hash(result) -> str:
    """Hash of every table cell (features less mean_active, a float64 sum whose order the torch path
    changes): equal hashes = the same tables bit for bit."""
    import hashlib

    import pandas as pd

    digest = hashlib.sha256()
    for table in (result.feature_concept, result.features.drop(columns=["mean_active"]), result.concepts):
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def worker(args: list[str]) -> None:
    kind, source, device = args[0], args[1], args[2]
    data.pin_two_cores()
    if kind == "make":
        n, f, k, n_labels = (int(x) for x in args[3:7])
        codes = data.make_codes(n, f, k)
        labels, instances = genome_like_labels(n, n_labels)
        data.save(Path(source), codes, labels, instances)
        print(json.dumps({"nnz": int(codes.nnz)}))
        return
    if kind.endswith("previous"):
        previous_kernels()
    from dnalens.probe.settings import ProbeSettings
    from dnalens.probe.stage import run_probe

    if Path(source, "buffer.json").is_file():
        from dnalens.probe.inputs import inputs_from_buffer

        inputs = inputs_from_buffer(source, fasta=args[3] if len(args) > 3 and args[3] else None)
    else:
        inputs = synthetic_inputs(Path(source))
    if kind.startswith("plain"):
        from dnalens.formats.feature_columns import feature_blocks
        from dnalens.probe.auroc import auroc_matrix
        from dnalens.probe.token_concepts import TokenConcepts

        codes = inputs.feature_columns if inputs.feature_columns is not None else inputs.codes
        with data.Timer() as t:
            labels = TokenConcepts.from_labels(inputs.labels)
            for _, _, block in feature_blocks(codes, 8_000_000):
                auroc_matrix(block, labels)
        print(json.dumps({"seconds": t.seconds, "cpu_seconds": t.cpu_seconds, "peak_rss_mb": data.peak_rss_mb()}))
        return
    settings = ProbeSettings(probes=False, device=device)
    with data.Timer() as t:
        result = run_probe(inputs, settings)
    out = {
        "seconds": t.seconds,
        "cpu_seconds": t.cpu_seconds,
        "peak_rss_mb": data.peak_rss_mb(),
        "n_null_shifts": result.summary["n_null_shifts"],
        "annotated": result.summary["n_annotated_pairs"],
        "checksum": float(np.nansum(result.feature_concept[["auroc_test", "p", "q"]].to_numpy(np.float64))),
        "tables_hash": tables_hash(result),
    }
    print(json.dumps(out))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", help="a finished run's buffer directory instead of the synthetic one")
    parser.add_argument("--fasta", default="", help="with --buffer: the genome FASTA (k-mer and GC baselines)")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=32_768)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--concepts", type=int, default=40)
    parser.add_argument("--device", default="cpu", help="also time the stage with probe.device = this")
    parser.add_argument("--skip-previous", action="store_true", help="skip the previous-kernel stage row (slow)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dnalens-probe-scale-") as tmp:
        source = args.buffer
        if source is None:
            source = tmp
            made = data.run_worker(
                __file__, "make", tmp, "cpu", str(args.tokens), str(args.features), str(args.k), str(args.concepts)
            )
            print(f"synthetic: N={args.tokens:,} F={args.features:,} k={args.k} L={args.concepts}  nnz={made['nnz']:,}")
        else:
            print(f"buffer: {source}")
        print(f"  (each row: own process, 2 cores; load average {data.load_average():.1f})")
        rows = [
            ("plain pass, previous kernel", "plain-previous", "cpu"),
            ("plain pass, this checkout", "plain", "cpu"),
            ("probe stage, this checkout", "stage", "cpu"),
        ]
        if not args.skip_previous:
            rows.append(("probe stage, previous kernels", "stage-previous", "cpu"))
        if args.device != "cpu":
            rows.append((f"probe stage, torch on {args.device}", "stage", args.device))
        results = {}
        for label, kind, device in rows:
            r = data.run_worker(__file__, kind, source, device, args.fasta)
            results[kind if device == "cpu" else "device"] = r
            extra = f"  shifts {r['n_null_shifts']}, annotated pairs {r['annotated']}" if "annotated" in r else ""
            print(
                f"  {label:34s} {r['seconds']:8.1f} s wall {r['cpu_seconds']:8.1f} s CPU  "
                f"peak RSS {r['peak_rss_mb'] / 1024:5.2f} GB{extra}"
            )
        plain, plain_new, stage = results["plain-previous"], results["plain"], results["stage"]
        for unit in ("seconds", "cpu_seconds"):  # wall, and CPU time (the honest unit on a shared machine)
            print(
                f"  [{'wall' if unit == 'seconds' else 'CPU'}] stage = {stage[unit] / plain[unit]:.2f} plain passes "
                f"(previous kernel), {stage[unit] / plain_new[unit]:.2f} (this checkout's kernel)   target <= 1.5"
            )
            if "stage-previous" in results:
                prev = results["stage-previous"]
                print(
                    f"  [{'wall' if unit == 'seconds' else 'CPU'}] previous stage = {prev[unit] / plain[unit]:.2f} "
                    f"plain passes; speed-up {prev[unit] / stage[unit]:.2f} x"
                )
        if "stage-previous" in results:
            prev = results["stage-previous"]
            same = abs(prev["checksum"] - stage["checksum"]) <= 1e-9 * max(1.0, abs(stage["checksum"]))
            print(
                f"  tables {'same' if same else 'DIFFERENT'} (checksum of held-out AUROC, p and q over all pairs; "
                "tests/probe/test_fast_paths.py compares every column)"
            )
        if "device" in results:
            same = results["device"]["tables_hash"] == stage["tables_hash"]
            print(
                f"  torch stage: {results['device']['seconds']:.1f} s (target <= 30 s on a GPU); tables "
                f"{'same as numpy' if same else 'DIFFERENT from numpy'} (every cell but mean_active)"
            )


if __name__ == "__main__":
    main()
