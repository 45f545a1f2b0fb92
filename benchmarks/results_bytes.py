"""Bytes per token of a genome's results/ directory, file by file, against one compact copy of its codes.

    .venv/bin/python benchmarks/results_bytes.py results/vcholerae_chr2            # what is on disk
    .venv/bin/python benchmarks/results_bytes.py /work/main/results/vcholerae_chr2 --after
        # ... and, in the same run, the layout this version leaves for the same codes (never writes there)

Per file (grouped by top-level entry; a directory's files summed unless --files) the bytes and bytes per
buffer token, then results/ in total over the compact copy of the codes: nnz x 4 bytes (float16 value +
uint16 index). Target (issue 19): results/ <= 2 x that copy.

--after re-lays a finished run out as this version leaves it, from the same codes (the fused path writes
the very codes the stored path writes: tests/extract/test_fused.py): the buffer is re-saved with
ActivationBuffer.save into a temporary directory and measured there (uint16 indices, no feature-major
copy); activations/ and codes/ are temp() outputs now and gone after a run; sample/windows.bed is
counted at the size of windows.bed (an upper bound). Also times the on-demand transposition that
replaces the stored feature-major copy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from dnalens.buffer import ActivationBuffer  # noqa: E402

GONE_AFTER = {"activations", "codes", "codes_parts", "labels_parts"}  # temp() outputs of this version


def file_sizes(root: Path, per_file: bool) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".snakemake"):
            continue
        rel = path.relative_to(root)
        key = str(rel) if per_file or len(rel.parts) == 1 else f"{rel.parts[0]}/"
        sizes[key] = sizes.get(key, 0) + path.stat().st_size
    return sizes


def after_sizes(root: Path, per_file: bool, tmp: Path) -> tuple[dict[str, int], float]:
    sizes = {k: v for k, v in file_sizes(root, per_file).items() if k.split("/")[0] not in GONE_AFTER | {"buffer"}}
    buffer = ActivationBuffer.open(root / "buffer")
    saved = buffer.save(tmp / "buffer")
    for key, value in file_sizes(saved.parent, per_file).items():
        sizes[key] = sizes.get(key, 0) + value
    sizes["sample/windows.bed (<=)"] = (root / "windows.bed").stat().st_size
    reopened = ActivationBuffer.open(saved)
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
    ap.add_argument("--after", action="store_true", help="also measure this version's layout of the same codes")
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
        with tempfile.TemporaryDirectory(prefix="dnalens-results-") as tmp:
            sizes, seconds = after_sizes(root, args.files, Path(tmp))
            after = table("this version (same codes)", sizes, n, compact)
        print(
            f"\nresults/ over the compact copy: {before / compact:.2f}x -> {after / compact:.2f}x "
            f"(target <= 2x); {before / after:.2f}x less disk"
        )
        print(f"feature-major view transposed on demand (temporary, 6 B/value): {seconds:.1f} s")


if __name__ == "__main__":
    main()
