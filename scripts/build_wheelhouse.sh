#!/usr/bin/env bash
# Build the offline wheelhouse that `make gpu-check` installs on a bare CUDA host (docs/GPU_CHECK.md).
#
# Run on a machine that reaches PyPI (and, for bedtools, a Debian apt mirror). It downloads, for the HOST's
# Python (not this one), exactly the pinned packages (constraints.txt) that such a host lacks: everything
# minus HOST_HAS (what /work/shared/GPU.md found on a typical torch host), minus pulp (only Snakemake's ILP
# scheduler: gpu_check runs `--scheduler greedy`) and zstandard (only nnsight's remote mode), plus CARRY
# (pins that matter even though the host has the package). Adds a wheel of dnalens and the bedtools and aragorn .debs.
#
#   scripts/build_wheelhouse.sh [OUT]          # default OUT: wheelhouse/ (git-ignored)
#   PY_VERSION=3.11 PIP="/path/to/pip" HOST_HAS="..." CARRY="" scripts/build_wheelhouse.sh /tmp/wh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${WHEELHOUSE:-$REPO/wheelhouse}}
PY_VERSION=${PY_VERSION:-3.12}
PIP=${PIP:-python3 -m pip}
CONSTRAINTS=${CONSTRAINTS:-$REPO/constraints.txt}
PLATFORMS=${PLATFORMS:-"manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64"}
# What a bare CUDA PyTorch host already has (GPU.md), with the dependencies those packages pull in.
HOST_HAS=${HOST_HAS:-"torch numpy pandas scipy scikit-learn joblib threadpoolctl pyarrow safetensors transformers
  tokenizers huggingface-hub hf-xet regex requests certifi charset-normalizer idna urllib3 filelock fsspec
  packaging tqdm jinja2 markupsafe pyyaml pytest iniconfig pluggy pygments sympy mpmath networkx typing-extensions
  python-dateutil six tzdata"}
# Carried anyway: the project's numpy pin (numpy 2.5 broke the labels stage once; the check runs the pins).
CARRY=${CARRY:-numpy}
DROP=${DROP:-"pulp zstandard"}
EXTRA=${EXTRA:-"setuptools wheel"}  # unpinned; lets tests/models/test_packaging.py build a wheel on the host
# Left out of the wheels (never imported): test and example data, and Cython/C sources of compiled packages.
SLIM_DIRS=${SLIM_DIRS:-"pybedtools/test/data/ pybarrnap/example_data/"}
SLIM_SOURCES=${SLIM_SOURCES:-"pybedtools pysam pyrodigal pyhmmer pyaragorn pybigwig"}

norm() { tr 'A-Z_.' 'a-z--' <<<"$1"; }
in_list() { local x; for x in $2; do [ "$(norm "$x")" = "$1" ] && return 0; done; return 1; }

mkdir -p "$OUT"
rm -f "$OUT"/*.whl "$OUT"/*.deb "$OUT"/MANIFEST.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pyver=${PY_VERSION/./}
platform_args=()
for p in $PLATFORMS; do platform_args+=(--platform "$p"); done

wanted=()
while IFS= read -r line; do
  line=${line%%#*}; line=${line// /}
  [[ $line == *==* ]] || continue
  name=$(norm "${line%%==*}")
  version=${line#*==}; version=${version%%+*}  # torch==2.13.0+cpu -> 2.13.0
  if in_list "$name" "$DROP"; then continue; fi
  if in_list "$name" "$HOST_HAS" && ! in_list "$name" "$CARRY"; then continue; fi
  wanted+=("$name==$version")
done < "$CONSTRAINTS"
for e in $EXTRA; do wanted+=("$e"); done

failed=()
n=0
for spec in "${wanted[@]}"; do
  n=$((n + 1))
  if $PIP download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
      --abi "cp$pyver" --abi abi3 --abi none "${platform_args[@]}" -d "$OUT" "$spec" >"$tmp/log" 2>&1; then
    continue
  fi
  # No wheel for the host: build one from the sdist, kept only if it is pure Python (py3-none-any).
  rm -rf "$tmp/sdist" "$tmp/built"
  if $PIP download -q --no-deps --no-binary=:all: -d "$tmp/sdist" "$spec" >>"$tmp/log" 2>&1 \
     && $PIP wheel -q --no-deps -w "$tmp/built" "$tmp"/sdist/* >>"$tmp/log" 2>&1 \
     && ls "$tmp"/built/*-none-any.whl >/dev/null 2>&1; then
    mv "$tmp"/built/*-none-any.whl "$OUT"/
  else
    failed+=("$spec")
    echo "FAILED: $spec" >&2; tail -3 "$tmp/log" >&2
  fi
done

# Slim the wheels: drop SLIM_DIRS entries and, for SLIM_SOURCES, .pyx/.pxd/.c/.cpp/.h files (RECORD rewritten).
python3 - "$OUT" "$SLIM_DIRS" "$SLIM_SOURCES" <<'EOF'
import os, sys, zipfile
out, dirs, sources = sys.argv[1], tuple(sys.argv[2].split()), set(sys.argv[3].lower().split())
saved = 0
for name in sorted(os.listdir(out)):
    if not name.endswith(".whl"):
        continue
    dist, path = name.split("-")[0].lower(), os.path.join(out, name)
    drop = lambda f: f.startswith(dirs) or (dist in sources and f.endswith((".pyx", ".pxd", ".c", ".cpp", ".h")))
    with zipfile.ZipFile(path) as z:
        if not any(drop(i.filename) for i in z.infolist()):
            continue
        with zipfile.ZipFile(path + ".tmp", "w") as w:
            for info in z.infolist():
                if drop(info.filename):
                    continue
                data = z.read(info)
                if info.filename.endswith(".dist-info/RECORD"):
                    data = "".join(l + "\n" for l in data.decode().splitlines() if not drop(l.split(",")[0])).encode()
                w.writestr(info, data)
    saved += os.path.getsize(path) - os.path.getsize(path + ".tmp")
    os.replace(path + ".tmp", path)
print(f"slimmed wheels: {saved / 1e6:.1f} MB of test/example data and C sources left out")
EOF

# dnalens itself, built from a copy of the sources (no build/ or egg-info left in the checkout).
# DNALENS_WHEEL=0 leaves it out (5.6 MB, mostly the bundled model the checkout has anyway): gpu_check.sh
# then runs the checkout's src/ through a small `dnalens` launcher.
if [ "${DNALENS_WHEEL:-1}" = 1 ]; then
  mkdir -p "$tmp/src/resources/models"
  cp "$REPO/pyproject.toml" "$REPO/README.md" "$tmp/src/"
  [ -f "$REPO/MANIFEST.in" ] && cp "$REPO/MANIFEST.in" "$tmp/src/"
  cp -r "$REPO/src" "$tmp/src/src"
  cp -r "$REPO/resources/models/dnalens-tiny-bacteria" "$tmp/src/resources/models/"
  find "$tmp/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
  if ! $PIP wheel -q --no-deps -w "$OUT" "$tmp/src" >"$tmp/log" 2>&1 \
     && ! $PIP wheel -q --no-deps --no-build-isolation -w "$OUT" "$tmp/src" >>"$tmp/log" 2>&1; then
    failed+=("dnalens (wheel build)"); tail -5 "$tmp/log" >&2
  fi
fi

# bedtools and aragorn (intron-split tRNAs): Debian packages (about 0.7 and 0.1 MB); gpu_check.sh unpacks
# them with dpkg -x.
for deb_pkg in bedtools aragorn; do
  if ! (cd "$OUT" && apt-get download -q "$deb_pkg" >"$tmp/log" 2>&1); then
    failed+=("$deb_pkg (.deb: apt-get download $deb_pkg failed; run apt-get update, or copy a $deb_pkg binary)")
    tail -3 "$tmp/log" >&2
  fi
done

{
  echo "# dnalens wheelhouse for Python $PY_VERSION ($PLATFORMS), built $(date -u +%FT%TZ)"
  echo "# from $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo 'unknown commit') (uncommitted changes included)"
  echo "# host has: $(echo $HOST_HAS)"
  echo "# carried anyway: $CARRY; dropped: $DROP"
  for f in "$OUT"/*.whl "$OUT"/*.deb; do [ -e "$f" ] && echo "$(stat -c %s "$f") $(basename "$f")"; done
  for f in "${failed[@]}"; do echo "# FAILED: $f"; done
} > "$OUT/MANIFEST.txt"

bytes=$(cat "$OUT"/*.whl "$OUT"/*.deb 2>/dev/null | wc -c)
echo "wheelhouse $OUT: $(ls "$OUT"/*.whl 2>/dev/null | wc -l) wheels + $(ls "$OUT"/*.deb 2>/dev/null | wc -l) .deb," \
     "$(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB (target < 60 MB); ${#wanted[@]} packages wanted"
echo "largest:"; ls -S "$OUT" | head -5 | while read -r f; do echo "  $(du -h "$OUT/$f" | cut -f1) $f"; done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'not in the wheelhouse (%d):\n' ${#failed[@]}; printf '  %s\n' "${failed[@]}"
  exit 1
fi
