#!/usr/bin/env bash
# One-shot GPU check for a bare CUDA PyTorch host without internet (docs/GPU_CHECK.md), <= 8 minutes:
# installs the wheelhouse (scripts/build_wheelhouse.sh) next to the host's torch, puts bedtools from its .deb
# on PATH, then runs (a) pytest -m "not slurm", GPU-sensitive packages first, (b) a small workflow,
# (c) benchmarks/extract_overhead.py and probing_auroc.py on the device, each under a time limit, and writes
# gpu_check_summary.json + gpu_check_summary.md. Without CUDA it says so and runs everything on the CPU.
#
#   scripts/gpu_check.sh                      # WHEELHOUSE=wheelhouse, output in gpu_check/
#   GPU_CHECK_QUICK=1 scripts/gpu_check.sh    # a few test files, a reduced workflow, small benchmarks
# Settings (environment): WHEELHOUSE, PYTHON (the host's python with torch; default python3, or .venv's
#   python when there is no wheelhouse),
#   GPU_CHECK_OUT (gpu_check/), GPU_CHECK_WORK (/tmp/dnalens-gpu-check), GPU_CHECK_CONFIG (workflow config),
#   GPU_CHECK_BUDGET_S (470: whole check), GPU_CHECK_TESTS_S (230), GPU_CHECK_WORKFLOW_S (100),
#   GPU_CHECK_EXTRACT_S (45), GPU_CHECK_AUROC_S (60), GPU_CHECK_FULL_WORKFLOW=1 (no reduced probing/report),
#   GPU_CHECK_USE_WHEEL=1 (test the installed dnalens wheel instead of the checkout's src/),
#   GPU_CHECK_NO_VENV=1 (install with pip --target, as without the venv module).
set -uo pipefail  # no -e: every step runs and is reported

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
WHEELHOUSE=${WHEELHOUSE:-$REPO/wheelhouse}
OUT=${GPU_CHECK_OUT:-$REPO/gpu_check}
WORK=${GPU_CHECK_WORK:-/tmp/dnalens-gpu-check}
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then  # the host's python; without a wheelhouse, a venv made by `make setup` if there is one
  PYTHON=python3
  compgen -G "$WHEELHOUSE/*.whl" >/dev/null || { [ -x "$REPO/.venv/bin/python" ] && PYTHON=$REPO/.venv/bin/python; }
fi
QUICK=${GPU_CHECK_QUICK:-0}
BUDGET=${GPU_CHECK_BUDGET_S:-470}
T_TESTS=${GPU_CHECK_TESTS_S:-230}
T_WORKFLOW=${GPU_CHECK_WORKFLOW_S:-100}
T_EXTRACT=${GPU_CHECK_EXTRACT_S:-45}
T_AUROC=${GPU_CHECK_AUROC_S:-60}
T_PROBE=${GPU_CHECK_PROBE_S:-90}
CORES=$(nproc)
export GPU_CHECK_MODE=$([ "$QUICK" = 1 ] && echo quick || echo full)
mkdir -p "$OUT" "$WORK"  # clear only what an earlier check wrote (OUT and WORK may be user folders)
rm -rf "$WORK"/{venv,site,bedtools,aragorn,workflow,bin} "$WORK"/{reduced,quick}.yaml
rm -f "$OUT"/{*.step.json,*.log,tests.jsonl,env.json,gpu_check_summary.json,gpu_check_summary.md}
OUT=$(cd "$OUT" && pwd)

say() { echo "[gpu-check $((SECONDS))s] $*"; }
# step NAME STATUS SECONDS LIMIT DETAIL [key=value in EXTRA_FIELDS]: one small JSON record for the summary
step() {
  "${PY:-python3}" - "$OUT/$1.step.json" "${@:2:4}" "${EXTRA_FIELDS[@]}" <<'EOF'
import json, sys
path, status, seconds, limit, detail, *extra = sys.argv[1:]
record = {"status": status, "seconds": int(seconds), "limit_s": int(limit) if limit else None, "detail": detail}
json.dump({**record, **dict(a.split("=", 1) for a in extra)}, open(path, "w"))
EOF
  EXTRA_FIELDS=()
}
EXTRA_FIELDS=()
# limit WANTED: seconds a step may run so the whole check stays within BUDGET (0: no time left)
limit() {
  local left=$((BUDGET - SECONDS - 10))
  [ "$left" -lt 15 ] && { echo 0; return; }
  echo $(($1 < left ? $1 : left))
}
status_of() { case $1 in 0) echo ok ;; 124 | 137) echo "time limit" ;; *) echo "failed (exit $1)" ;; esac; }

# --- install -----------------------------------------------------------------------------------------
t0=$SECONDS
if compgen -G "$WHEELHOUSE/*.whl" >/dev/null; then
  host_py=$(command -v "$PYTHON")
  VENV=$WORK/venv
  # a venv that sees the host's torch: tests find snakemake next to sys.executable, as in `make test`.
  # The .pth adds the host interpreter's site-packages also when that interpreter is itself a venv.
  if [ "${GPU_CHECK_NO_VENV:-0}" != 1 ] \
     && "$host_py" -m venv --without-pip --system-site-packages "$VENV" 2>"$OUT/install.log" \
     && "$host_py" -c 'import site, sys; print("\n".join(site.getsitepackages()))' \
        >"$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_host_site.pth" \
     && "$VENV/bin/python" -m pip --version >>"$OUT/install.log" 2>&1; then
    "$VENV/bin/python" -m pip install -q --no-index --no-deps --ignore-installed --no-warn-script-location \
        "$WHEELHOUSE"/*.whl >>"$OUT/install.log" 2>&1
    rc=$?; PY=$VENV/bin/python; how="venv (system site-packages) $VENV"
  else  # no venv module: pip --target, with a python link beside the console scripts
    SITE=$WORK/site
    "$host_py" -m pip install -q --no-index --no-deps --no-warn-script-location --disable-pip-version-check \
        --target "$SITE" "$WHEELHOUSE"/*.whl >>"$OUT/install.log" 2>&1
    rc=$?; mkdir -p "$SITE/bin"; ln -sf "$(readlink -f "$host_py")" "$SITE/bin/python"
    PY=$SITE/bin/python; how="pip --target $SITE"
    # the link resolves to the base interpreter: name the host's site-packages (a venv's too) explicitly
    host_sites=$("$host_py" -c 'import os, site; print(os.pathsep.join(site.getsitepackages()))')
    export PYTHONPATH=$SITE:$host_sites${PYTHONPATH:+:$PYTHONPATH}
  fi
  n=$(ls "$WHEELHOUSE"/*.whl | wc -l)
  step install "$([ $rc = 0 ] && echo ok || echo "failed (exit $rc)")" $((SECONDS - t0)) "" "$n wheels into $how"
else
  PY=$(command -v "$PYTHON")
  step install skipped 0 "" "no wheels in $WHEELHOUSE: $PY used as it is"
fi
export PATH=$(dirname "$PY"):$PATH
[ "${GPU_CHECK_USE_WHEEL:-0}" = 1 ] || export PYTHONPATH=$REPO/src${PYTHONPATH:+:$PYTHONPATH}
if ! command -v dnalens >/dev/null 2>&1; then
  # no dnalens wheel (DNALENS_WHEEL=0): the workflow's rules call `dnalens`; launch the checkout's src/
  mkdir -p "$WORK/bin"
  printf '#!%s\nimport sys\nfrom dnalens.cli import main\nsys.exit(main())\n' "$PY" >"$WORK/bin/dnalens"
  chmod +x "$WORK/bin/dnalens"; export PATH=$WORK/bin:$PATH
fi
for tool in bedtools aragorn; do  # Debian packages from the wheelhouse, unpacked (no root needed)
  if ! command -v "$tool" >/dev/null 2>&1; then
    deb=$(ls "$WHEELHOUSE"/"$tool"_*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ]; then
      mkdir -p "$WORK/$tool"
      if command -v dpkg >/dev/null 2>&1; then dpkg -x "$deb" "$WORK/$tool"
      else (cd "$WORK/$tool" && ar x "$deb" && tar -xf data.tar.*); fi
      export PATH=$WORK/$tool/usr/bin:$PATH
    fi
  fi
done
say "install: $(cat "$OUT/install.step.json")"

"$PY" scripts/gpu_check_report.py env "$OUT/env.json"
if "$PY" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["cuda_available"] else 1)' "$OUT/env.json"; then
  DEVICE=cuda; say "CUDA device: $("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["gpu"]["name"])' "$OUT/env.json")"
else
  DEVICE=cpu; say "no CUDA device: running what it can on the CPU"
fi

# --- (a) tests: GPU-sensitive packages first, so a time limit cuts the others ----------------------
if [ "$QUICK" = 1 ]; then
  selection=(tests/models/test_resume_device.py tests/sample/test_shards.py tests/sae/test_settings.py)
else
  selection=(tests/models tests/sample tests/sae)  # then the rest; tests/workflow (whole snakemake runs) last
  for d in tests/*/; do
    d=${d%/}; case " ${selection[*]} tests/workflow " in *" $d "*) ;; *) selection+=("$d") ;; esac
  done
  for f in tests/test_*.py; do [ -e "$f" ] && selection+=("$f"); done
  [ -d tests/workflow ] && selection+=(tests/workflow)
fi
lim=$(limit "$T_TESTS"); t0=$SECONDS
say "tests (${#selection[@]} paths, limit ${lim}s)"
if [ "$lim" -gt 0 ]; then
  GPU_CHECK_TESTS=$OUT/tests.jsonl PYTHONPATH=$REPO/scripts:$PYTHONPATH timeout -s INT -k 20 "$lim" \
    "$PY" -m pytest -m "not slurm" -q -p gpu_check_report -p no:cacheprovider "${selection[@]}" >"$OUT/tests.log" 2>&1
  rc=$?; [ $rc = 1 ] && st="ok" || st=$(status_of $rc)  # exit 1: ran to the end with failures (counted)
  [ $rc = 5 ] && st="no tests collected"
else st="not run (no time left)"; fi
EXTRA_FIELDS=("selection=${selection[*]}"); step tests "$st" $((SECONDS - t0)) "$lim" "pytest exit ${rc:-}"
say "tests: $st; $(tail -1 "$OUT/tests.log" 2>/dev/null)"

# --- (b) a small workflow on the device -------------------------------------------------------------
CFG=${GPU_CHECK_CONFIG:-}
if [ -z "$CFG" ]; then
  CFG=config/genomes/evo2_rehearsal.yaml
  [ -f "$CFG" ] || CFG=config/genomes/yersinia_plasmid.yaml
fi
WF=$WORK/workflow
mkdir -p "$WF"
ln -s "$REPO/resources" "$WF/resources"
ln -s "$REPO/config" "$WF/config"
configs=("$REPO/$CFG")
cfgnote=$CFG
if [ "${GPU_CHECK_FULL_WORKFLOW:-0}" != 1 ]; then
  # probing and report as in tests/workflow/test_reliability.py: the check times the GPU stages, and the
  # CPU-bound null draws and per-feature probes of the full settings would not fit in the time limit
  printf '%s\n' "probe: {n_null: 2, min_null_draws: 10, probes: false, block_size: 2000}" \
    "report: {top_n_tracks: 2, detailed_features: 8, max_cards: 4}" >"$WORK/reduced.yaml"
  configs+=("$WORK/reduced.yaml"); cfgnote="$cfgnote + reduced probing/report"
fi
if [ "$QUICK" = 1 ]; then
  echo "sae: {expansion: 2, k: 4, tokens: 20000, batch_size: 1024, quality_tokens: 5000, loss_windows: 2}" \
    >"$WORK/quick.yaml"
  configs+=("$WORK/quick.yaml"); cfgnote="$cfgnote + quick SAE"
fi
lim=$(limit "$T_WORKFLOW"); t0=$SECONDS
say "workflow $CFG (limit ${lim}s)"
if [ "$lim" -gt 0 ]; then
  timeout -k 20 "$lim" snakemake -s "$REPO/Snakefile" --directory "$WF" --cores "$CORES" --scheduler greedy \
    --workflow-profile "$REPO/workflow/profiles/default" --configfile "${configs[@]}" >"$OUT/workflow.log" 2>&1
  rc=$?; st=$(status_of $rc)
  detail="$(find "$WF/results" -type f 2>/dev/null | wc -l) result files, $(grep -oE '[0-9]+ of [0-9]+ steps' \
    "$OUT/workflow.log" | tail -1) done"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    detail="$detail; stopped while running: $(grep -oE '^(local)?rule [a-z_]+' "$OUT/workflow.log" | tail -1)"
  elif [ $rc != 0 ]; then
    detail="$detail; $(grep -m1 -E '^Error in rule|Error' "$OUT/workflow.log" | cut -c1-200)"
  fi
  used=$(grep -rhoE "device[^,;]{0,20}cuda[:0-9]*" "$WF/logs" 2>/dev/null | head -1)
  [ -n "$used" ] && detail="$detail; logs say: $used"
else st="not run (no time left)"; detail=""; fi
EXTRA_FIELDS=("config=$cfgnote")
step workflow "$st" $((SECONDS - t0)) "$lim" "$detail"
say "workflow: $st in $((SECONDS - t0))s"

# --- (c) benchmarks on the device -------------------------------------------------------------------
bench() {  # NAME SECONDS ARGS...
  local name=$1 lim t0=$SECONDS st
  lim=$(limit "$2"); shift 2
  if [ "$lim" -gt 0 ]; then  # unbuffered: the figures printed before a time limit still count
    PYTHONUNBUFFERED=1 timeout -k 10 "$lim" "$PY" "benchmarks/$name.py" "$@" >"$OUT/$name.log" 2>&1
    st=$(status_of $?)
  else st="not run (no time left)"; fi
  step "$name" "$st" $((SECONDS - t0)) "$lim" "${*:1}"
  say "$name: $st"
}
if [ "$QUICK" = 1 ] || [ "$DEVICE" = cpu ]; then  # 256 windows x 1,024 nt would not fit the limit on a CPU
  bench extract_overhead "$T_EXTRACT" --device "$DEVICE" --windows 8 --length 512 --batch 8 --repeats 1 --layers blocks.6
else
  bench extract_overhead "$T_EXTRACT" --device "$DEVICE" --windows 256 --length 1024 --batch 64 --repeats 3 --threads "$CORES"
fi
bench probing_auroc "$T_AUROC" --device "$DEVICE" --size small
if [ "$QUICK" != 1 ] && [ "$DEVICE" != cpu ]; then  # issue #20's GPU figure: the probe stage at Evo 2 width
  bench probe_scale "$T_PROBE" --device "$DEVICE" --tokens 1000000 --skip-previous
fi

"$PY" scripts/gpu_check_report.py summary "$OUT"
say "done in ${SECONDS}s: $OUT/gpu_check_summary.md (+ .json, logs)"
"$PY" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["verdict"] != "pass")' "$OUT/gpu_check_summary.json"
