"""Bytes per token of a genome's results/ directory, file by file, against one compact copy of its codes.

    .venv/bin/python benchmarks/results_bytes.py results/vcholerae_chr2            # what is on disk
    .venv/bin/python benchmarks/results_bytes.py /work/main/results/vcholerae_chr2 --after /tmp/rebuilt
        # ... and, in the same run, that directory with labels/ and buffer/ taken from REBUILT: the label
        # store and buffer this version writes (`dnalens labels`/`labels-merge`/`buffer` run into REBUILT)

Per file (grouped by top-level entry; a directory's files summed unless --files) the bytes and bytes per
buffer token, then results/ in total over the compact copy of the codes: nnz x 4 bytes (float16 value +
uint16 index). Target (issue 19): results/ <= 2 x that copy.

--after never writes: it counts RESULTS without the temp() outputs (activations/, codes/ and the parts)
and with REBUILT's labels/ and buffer/ in place of its own (label store format 2: instance ids as runs,
no token_window.npy; buffer format 2: no labels or instance ids, read through the store). REBUILT must
hold the same codes (its buffer.json's nnz is checked). Also times the on-demand transposition of
REBUILT's buffer into the feature-major view.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dnalens.formats.buffer import ActivationBuffer  # noqa: E402

GONE_AFTER = {"activations", "codes", "codes_parts", "labels_parts"}  # temp() outputs of this version
REBUILT = ("labels", "buffer")  # taken from --after


def file_sizes(root: Path, per_file: bool, only: tuple[str, ...] | None = None) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".snakemake"):
            continue
        rel = path.relative_to(root)
        if only is not None and rel.parts[0] not in only:
            continue
        key = str(rel) if per_file or len(rel.parts) == 1 else f"{rel.parts[0]}/"
        sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sizes


def after_sizes(root: Path, rebuilt: Path, per_file: bool) -> tuple[dict[str, int], float]:
    drop = GONE_AFTER | set(REBUILT)
    sizes = {k: v for k, v in file_sizes(root, per_file).items() if k.split("/")[0] not in drop}
    sizes.update(file_sizes(rebuilt, per_file, REBUILT))
    reopened = ActivationBuffer.open(rebuilt / "buffer")
    t0 = time.perf_counter()
    columns = reopened.feature_columns
    seconds = time.perf_counter() - t0
    del columns
    return sizes, seconds


def table(name: str, sizes: dict[str, int], n_tokens: int, compact: int) -> int:
    total = sum(sizes.values())
    print(f"\n{name}")
    print(f"  {'file':46s}{'MB':>10s}{'B/token':>10s}{'x compact':>11s}")
    for key, value in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if value >= total / 1000:
            print(f"  {key:46s}{value / 1e6:10.1f}{value / n_tokens:10.1f}{value / compact:11.3f}")
    print(f"  {'total':46s}{total / 1e6:10.1f}{total / n_tokens:10.1f}{total / compact:11.3f}")
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="a finished results/<genome> directory (read only)")
    ap.add_argument("--after", metavar="REBUILT", help="a directory with labels/ and buffer/ rebuilt by this version")
    ap.add_argument("--files", action="store_true", help="every file on its own line (default: per top-level entry)")
    args = ap.parse_args()
    root = Path(args.results)
    meta = json.loads((root / "buffer" / "buffer.json").read_text())
    n, nnz = int(meta["n_tokens"]), int(meta["nnz"])
    compact = nnz * 4
    print(
        f"{root}: {n:,} buffer tokens, {nnz:,} stored codes (mean L0 {nnz / n:.2f}), "
        f"compact copy nnz x 4 = {compact / 1e6:.1f} MB"
    )
    before = table("as on disk", file_sizes(root, args.files), n, compact)
    if args.after:
        rebuilt = Path(args.after)
        other = json.loads((rebuilt / "buffer" / "buffer.json").read_text())
        if (int(other["n_tokens"]), int(other["nnz"])) != (n, nnz):
            sys.exit(f"{rebuilt}/buffer holds other codes ({other['n_tokens']} tokens, {other['nnz']} values)")
        sizes, seconds = after_sizes(root, rebuilt, args.files)
        after = table(f"this version (labels/ and buffer/ from {rebuilt})", sizes, n, compact)
        print(
            f"\nresults/ over the compact copy: {before / compact:.2f}x -> {after / compact:.2f}x "
            f"(target <= 2x); {before / after:.2f}x less disk"
        )
        print(f"feature-major view transposed on demand (temporary, 6 B/value): {seconds:.1f} s")


if __name__ == "__main__":
    main()
