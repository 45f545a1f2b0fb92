"""Helper for scripts/gpu_check.sh: environment facts, a pytest plugin that logs each outcome as it
happens (so a time limit never loses the results), and the one summary (JSON + markdown).

    python scripts/gpu_check_report.py env OUT/env.json
    pytest -p gpu_check_report ...            # with scripts/ on PYTHONPATH and GPU_CHECK_TESTS=OUT/tests.jsonl
    python scripts/gpu_check_report.py summary OUT
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

# What the workflow and the tests import; missing ones are named in the summary (wheelhouse gaps).
MODULES = [
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "pyarrow",
    "safetensors",
    "nnsight",
    "Bio",
    "pyfaidx",
    "pybedtools",
    "pysam",
    "pyBigWig",
    "pyrodigal",
    "pyaragorn",
    "pybarrnap",
    "snakemake",
    "jsonschema",
    "pydantic",
    "yaml",
    "jinja2",
    "tqdm",
    "transformers",
    "pytest",
    "dnalens",
]


# --- environment ----------------------------------------------------------------------------------
def environment() -> dict:
    env: dict = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "modules": {},
        "missing": [],
    }
    warnings.simplefilter("ignore")  # e.g. jsonschema's deprecated __version__
    for name in MODULES:
        try:
            module = importlib.import_module(name)
            env["modules"][name] = getattr(module, "__version__", "?")
        except Exception as exc:  # noqa: BLE001 - any import failure is a wheelhouse gap to report
            env["missing"].append(f"{name} ({type(exc).__name__}: {str(exc)[:120]})")
    if "dnalens" in env["modules"]:
        env["dnalens_file"] = importlib.import_module("dnalens").__file__
    try:
        import torch

        env["torch"], env["torch_cuda"] = torch.__version__, torch.version.cuda
        env["cuda_available"] = bool(torch.cuda.is_available())
        if env["cuda_available"]:
            props = torch.cuda.get_device_properties(0)
            env["gpu"] = {
                "name": props.name,
                "count": torch.cuda.device_count(),
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
                "bf16": torch.cuda.is_bf16_supported(),
            }
            x = torch.ones(1024, 1024, device="cuda")
            env["gpu"]["matmul_ok"] = bool(((x @ x)[0, 0] == 1024).item())
    except Exception as exc:  # noqa: BLE001
        env["torch_error"] = f"{type(exc).__name__}: {exc}"
        env["cuda_available"] = False
    bedtools = shutil.which("bedtools")
    env["bedtools"] = None
    if bedtools:
        run = subprocess.run([bedtools, "--version"], capture_output=True, text=True)
        env["bedtools"] = (run.stdout.strip() or run.stderr.strip()[:200]) + f" ({bedtools})"
    return env


# --- pytest plugin (loaded with -p gpu_check_report) ----------------------------------------------
def _log(record: dict) -> None:
    path = os.environ.get("GPU_CHECK_TESTS")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def pytest_collection_finish(session) -> None:
    _log({"collected": len(session.items)})


def pytest_collectreport(report) -> None:
    if report.failed:  # a module that cannot even be imported: an error, named in the summary
        _log({"test": report.nodeid or "(collection)", "when": "collect", "outcome": "failed", "seconds": 0})


def pytest_runtest_logreport(report) -> None:
    # one record per test: the call phase, or setup/teardown when those fail or skip
    if report.when == "call" or report.outcome != "passed":
        _log(
            {
                "test": report.nodeid,
                "when": report.when,
                "outcome": report.outcome,
                "seconds": round(report.duration, 2),
            }
        )


# --- summary --------------------------------------------------------------------------------------
def read_tests(path: Path) -> dict:
    collected, outcome, seconds = None, {}, {}
    if path.exists():
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if "collected" in rec:
                collected = rec["collected"]
                continue
            name, now = rec["test"], rec["outcome"]
            # a failing teardown after a pass still fails the test; a skip in setup is a skip
            if outcome.get(name) in (None, "passed") or now == "failed":
                outcome[name] = "error" if now == "failed" and rec["when"] != "call" else now
            seconds[name] = seconds.get(name, 0) + rec["seconds"]
    counts = {k: sum(1 for v in outcome.values() if v == k) for k in ("passed", "failed", "error", "skipped")}
    counts["not_run"] = max(0, collected - len(outcome)) if collected is not None else None
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:5]
    return {
        "collected": collected,
        **counts,
        "failing": sorted(n for n, v in outcome.items() if v in ("failed", "error")),
        "slowest": [{"test": n, "seconds": round(s, 1)} for n, s in slowest],
    }


NUM = r"([0-9.]+(?:e[-+]?\d+)?)"


def parse_extract(text: str) -> dict:
    rows = {}
    for line in text.splitlines():
        m = re.match(
            rf"(bare forward|capture (\S+) \+ fp16 shard write).*?\s{NUM}\s+{NUM}\s+(\d+)\s+{NUM}\s+{NUM}$", line
        )
        if m:
            rows[m.group(2) or "bare"] = {
                "wall_s": float(m.group(3)),
                "tokens_per_s": int(m.group(5)),
                "ratio_wall": float(m.group(6)),
            }
    head = next((l for l in text.splitlines() if l.startswith("model ")), "")
    return {"setup": head, "rows": rows}


def parse_auroc(text: str) -> dict:
    out = {}
    for key, pattern in {
        "cpu_s": rf"auroc_matrix \(CPU\)\s+{NUM}",
        "baseline_s": rf"dense rank baseline\s+{NUM}",
        "speedup_x": rf"speed-up\s+{NUM} x",
        "torch_s": rf"torch path \(\S+\)\s+{NUM} s",
        "torch_max_diff_vs_cpu": rf"max \|diff\| vs CPU path {NUM}",
    }.items():
        m = re.search(pattern, text)
        if m:
            out[key] = float(m.group(1))
    return out


def read_step(out: Path, name: str) -> dict:
    path = out / f"{name}.step.json"
    return json.loads(path.read_text()) if path.exists() else {"status": "not run"}


def summarize(out: Path) -> dict:
    env = json.loads((out / "env.json").read_text()) if (out / "env.json").exists() else {}
    tests = {**read_step(out, "tests"), **read_tests(out / "tests.jsonl")}
    workflow = read_step(out, "workflow")
    benches = {}
    for name, parse in (("extract_overhead", parse_extract), ("probing_auroc", parse_auroc)):
        step = read_step(out, name)
        log = out / f"{name}.log"
        if log.exists():
            step["figures"] = parse(log.read_text())
        benches[name] = step
    install = read_step(out, "install")
    gpu = env.get("gpu", {})
    summary = {
        "mode": os.environ.get("GPU_CHECK_MODE", "full"),
        "cuda": bool(env.get("cuda_available")),
        "device": gpu.get("name") or "no CUDA device",
        "environment": env,
        "install": install,
        "tests": tests,
        "workflow": workflow,
        "benchmarks": benches,
    }
    ok = (
        tests.get("failed", 0) + tests.get("error", 0) == 0
        and tests.get("status") == "ok"
        and workflow.get("status") == "ok"
        and not env.get("missing")
    )
    summary["verdict"] = "pass" if ok else "fail"
    return summary


def markdown(s: dict) -> str:
    env, t, w, b = s["environment"], s["tests"], s["workflow"], s["benchmarks"]
    gpu = env.get("gpu", {})
    lines = [
        f"# dnalens GPU check: {s['verdict'].upper()} ({s['mode']} mode)",
        "",
        f"- device: {s['device']}"
        + (
            f", {gpu.get('memory_gib')} GiB, capability {gpu.get('capability')}, bf16 {gpu.get('bf16')}"
            if gpu
            else " (ran on the CPU)"
        ),
        f"- torch {env.get('torch')} (CUDA {env.get('torch_cuda')}), Python {env.get('python')}, "
        f"numpy {env.get('modules', {}).get('numpy')}, {env.get('cpus')} CPUs; bedtools: {env.get('bedtools')}",
        f"- install: {s['install'].get('status')} {s['install'].get('detail', '')}".rstrip(),
        f"- missing modules: {', '.join(env.get('missing', [])) or 'none'}",
        "",
        f"## Tests ({t.get('status')}, {t.get('seconds', '?')} s of {t.get('limit_s', '?')} s; "
        f"{t.get('selection', '')})",
        "",
        f"collected {t.get('collected')}, passed {t.get('passed')}, failed {t.get('failed')}, "
        f"errors {t.get('error')}, skipped {t.get('skipped')}, not run {t.get('not_run')}",
    ]
    lines += [f"- FAILED {name}" for name in t.get("failing", [])]
    lines += [
        "",
        f"## Workflow ({w.get('status')})",
        "",
        f"{w.get('config', '?')}: {w.get('seconds', '?')} s wall (limit {w.get('limit_s', '?')} s), "
        f"{w.get('detail', '')}".rstrip(", "),
        "",
        "## Benchmarks",
        "",
    ]
    ex = b["extract_overhead"]
    lines.append(
        f"- extract_overhead ({ex.get('status')}, {ex.get('seconds', '?')} s): {ex.get('figures', {}).get('setup', '')}"
    )
    for layer, row in ex.get("figures", {}).get("rows", {}).items():
        lines.append(f"  - {layer}: {row['tokens_per_s']:,} tok/s, {row['wall_s']} s, {row['ratio_wall']} x bare")
    au = b["probing_auroc"]
    lines.append(
        f"- probing_auroc small ({au.get('status')}, {au.get('seconds', '?')} s): "
        + ", ".join(f"{k} {v:g}" for k, v in au.get("figures", {}).items())
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    cmd, target = sys.argv[1], Path(sys.argv[2])
    if cmd == "env":
        target.write_text(json.dumps(environment(), indent=1))
    elif cmd == "summary":
        s = summarize(target)
        (target / "gpu_check_summary.json").write_text(json.dumps(s, indent=1))
        (target / "gpu_check_summary.md").write_text(markdown(s))
        print(markdown(s))
    else:
        raise SystemExit(f"unknown command {cmd!r}: use env or summary")


if __name__ == "__main__":
    main()
