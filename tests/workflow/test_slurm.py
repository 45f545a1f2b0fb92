"""The workflow through a real SLURM cluster (single node on 127.0.0.1) gives the local run's outputs.

`make test-slurm` runs the `slurm`-marked tests; `make test` leaves them out. The cluster comes from
scripts/slurm/local_cluster.sh (root + apt-get on Debian); without those the tests skip with the
reason, unless DNALENS_SLURM_REQUIRED=1 (set by .ci/run once it has started the cluster itself).
A cluster already running is used and left running; one started here is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "slurm" / "local_cluster.sh"
SLURM_PROFILE = "workflow/profiles/slurm"
LOCAL_PROFILE = "workflow/profiles/default"
CONFIG = "config/genomes/yersinia_plasmid.yaml"
BIN = Path(sys.executable).parent
# Tables and arrays are compared byte for byte; other files (JSON that may hold paths, HTML, weights,
# bigWig) only have to exist in both runs.
COMPARED_SUFFIXES = {".tsv", ".bed", ".gff3", ".gff", ".fa", ".fai", ".sizes", ".csv", ".npy", ".parquet"}
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".snakemake",
    ".pytest_cache",
    "results",
    "logs",
    "shared",
    "tests",
    "benchmarks",
    "__pycache__",
    "*.egg-info",
)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
SUBMITTED_RULE = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*?rule_([A-Za-z0-9_]+)/([^/]+)/")
# The job the requeue test interrupts: train_sae, the plasmid's longest (~1 min of steps; its one activation
# shard is made by one sample part in ~8 s), once its progress bar shows >= 2 finished steps.
REQUEUE_RULE = "train_sae"
REQUEUE_WHEN = re.compile(r"train-sae:\s+\d+%\|[^|]*\|\s*([2-9]|\d\d+)/")


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _cluster_up() -> bool:
    return subprocess.run([str(SCRIPT), "status"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running local cluster; yields its accounting type ('slurmdbd' or 'none')."""
    required = os.environ.get("DNALENS_SLURM_REQUIRED") == "1"

    def unavailable(why: str):
        (pytest.fail if required else pytest.skip)(f"local SLURM cluster unavailable: {why}")

    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        unavailable("needs root on Linux (it installs munge/slurm with apt-get and starts the daemons)")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        unavailable("needs apt-get (Debian/Ubuntu) to install munge, slurmctld and slurmd")
    started_here = False
    if not _cluster_up():
        began = time.monotonic()
        run = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120)
            unavailable(f"`{SCRIPT.name} start` exited {run.returncode}:\n{run.stderr[-2500:]}")
        started_here = True
        print(f"\n[slurm] cluster install+start: {time.monotonic() - began:.1f} s", file=sys.stderr)
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True).stdout
    accounting = "slurmdbd" if "accounting_storage/slurmdbd" in config else "none"
    yield accounting
    if started_here:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120)


def _node_memory_mb() -> int:
    line = subprocess.run(["scontrol", "show", "node", "-o"], capture_output=True, text=True).stdout
    return int(re.search(r"RealMemory=(\d+)", line).group(1))


def _status_args(accounting: str) -> list[str]:
    """Poll every few seconds (a test); without slurmdbd, sacct cannot see jobs: use squeue."""
    args = ["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2"]
    return args + (["--slurm-status-command", "squeue"] if accounting == "none" else [])


def _snakemake(workdir: Path, *args: str, timeout: int = 1200) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    run = subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, env=_env(), capture_output=True, text=True, timeout=timeout
    )
    return run, time.monotonic() - began


def _slurm_states(job_ids: list[str], accounting: str) -> dict[str, str]:
    """Each job's final state as SLURM itself records it (sacct, or squeue within MinJobAge)."""
    if accounting == "slurmdbd":
        cmd = ["sacct", "-X", "-n", "-P", "--format=JobIDRaw,State", "-j", ",".join(job_ids)]
    else:
        cmd = ["squeue", "--states=all", "-h", "-o", "%i|%T", "-j", ",".join(job_ids)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return dict(line.split("|")[:2] for line in out.splitlines() if "|" in line)


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slurm
def test_workflow_through_slurm_matches_local_run(slurm_cluster, tmp_path):
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    shutil.copytree(REPO, local, ignore=COPY_IGNORE, symlinks=True)
    shutil.copytree(REPO, cluster, ignore=COPY_IGNORE, symlinks=True)

    run, local_s = _snakemake(local, "--workflow-profile", LOCAL_PROFILE, "--cores", "2", "--configfile", CONFIG)
    assert run.returncode == 0, run.stderr[-4000:]

    # The profile as shipped; --resources caps each job's mem_mb at the node's memory (rules ask for
    # up to 16 GB; a CI machine may have less), see docs/SLURM.md.
    run, slurm_s = _snakemake(
        cluster,
        "--executor",
        "slurm",
        "--workflow-profile",
        SLURM_PROFILE,
        "--configfile",
        CONFIG,
        "--resources",
        f"mem_mb={_node_memory_mb()}",
        *_status_args(slurm_cluster),
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    print(
        f"\n[slurm] local run {local_s:.1f} s, SLURM run {slurm_s:.1f} s (accounting: {slurm_cluster})", file=sys.stderr
    )

    job_ids = SUBMITTED.findall(log)
    assert job_ids, "no job went through sbatch:\n" + log[-3000:]
    states = _slurm_states(job_ids, slurm_cluster)
    assert states == {job: "COMPLETED" for job in job_ids}, states

    local_files = _files(local / "results")
    cluster_files = _files(cluster / "results")
    assert local_files and sorted(cluster_files) == sorted(local_files)
    tables = [name for name in local_files if Path(name).suffix in COMPARED_SUFFIXES]
    assert any(name.endswith("windows.bed") for name in tables), tables
    different = [name for name in tables if local_files[name].read_bytes() != cluster_files[name].read_bytes()]
    assert not different, f"SLURM and local runs differ in {different}"
    # the probe stage's scatter (probe.parts: 2 in CONFIG): its gathered tables are among those compared,
    # and equal, byte for byte, what one `dnalens probe` job writes from the same inputs
    genome = next(iter(yaml.safe_load((REPO / CONFIG).read_text())["genomes"]))
    assert (local / "logs" / genome / "probe_part-1.log").is_file()
    per_feature = [f"{genome}/probe/{name}" for name in ("feature_concept.parquet", "features.parquet")]
    assert set(per_feature) <= set(tables), tables
    single = _single_job_probe(local, genome)
    for name in per_feature:
        assert (single / Path(name).name).read_bytes() == cluster_files[name].read_bytes(), name


def _single_job_probe(workdir: Path, genome: str) -> Path:
    """`dnalens probe` as one job on a finished run's inputs and settings (summary.json holds all but
    `parts`). The dense sample is gone by then (temp), so only the per-feature tables are comparable."""
    results = workdir / "results" / genome
    settings = json.loads((results / "probe" / "summary.json").read_text())["settings"]
    out = workdir / "single_probe"
    inputs = ["--buffer", results / "buffer", "--labels", results / "labels", "--fasta", results / "genome.fa"]
    run = subprocess.run(
        [str(BIN / "dnalens"), "probe", *map(str, inputs), "--settings", json.dumps(settings), "--out", str(out)],
        cwd=workdir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def _job_state(job: str) -> str:
    out = subprocess.run(["squeue", "-h", "-o", "%T", "-j", job], capture_output=True, text=True).stdout.strip()
    return out or "GONE"


def _rule_log(workdir: Path, rule: str, wildcards: str) -> Path:
    """The rule's own log (workflow/rules/*.smk) for a job whose SLURM log sits under rule_<rule>/<wildcards>/."""
    if rule.endswith("_part"):  # wildcards genome + part, joined by "_" in the SLURM log path
        genome, part = wildcards.rsplit("_", 1)
        return workdir / "logs" / genome / f"{rule}-{part}.log"
    return workdir / "logs" / wildcards / f"{rule}.log"


def _requeue_mid_work(proc: subprocess.Popen, log: Path, workdir: Path) -> tuple[str, Path] | None:
    """Watch the submissions; `scontrol requeue` the REQUEUE_RULE job once its `dnalens` command is mid-way
    (its log matches REQUEUE_WHEN). Returns (job id, rule log), or None if the run ended first."""
    while proc.poll() is None:
        for job, rule, wildcards in SUBMITTED_RULE.findall(log.read_text(errors="replace")):
            rule_log = _rule_log(workdir, rule, wildcards)
            if rule != REQUEUE_RULE or not rule_log.is_file() or _job_state(job) != "RUNNING":
                continue
            if REQUEUE_WHEN.search(rule_log.read_text(errors="replace")):
                subprocess.run(["scontrol", "requeue", job], check=True, capture_output=True, text=True)
                return job, rule_log
        time.sleep(0.3)
    return None


@pytest.mark.slurm
def test_requeued_job_resumes_and_tables_match_an_undisturbed_run(slurm_cluster, tmp_path):
    """Pre-emption as SLURM does it: `scontrol requeue` a running job (SIGTERM to its processes, then back
    to the queue). The SAE trainer checkpoints the step it was at; with the profile's `slurm-requeue: true`
    snakemake leaves the job to SLURM, the job runs again, resumes from that step, and the run's tables
    equal an undisturbed local run's byte for byte."""
    local, cluster = tmp_path / "local", tmp_path / "slurm"
    shutil.copytree(REPO, local, ignore=COPY_IGNORE, symlinks=True)
    shutil.copytree(REPO, cluster, ignore=COPY_IGNORE, symlinks=True)
    profile = yaml.safe_load((REPO / SLURM_PROFILE / "config.yaml").read_text())
    assert profile.get("slurm-requeue") is True

    run, _ = _snakemake(local, "--workflow-profile", LOCAL_PROFILE, "--cores", "2", "--configfile", CONFIG)
    assert run.returncode == 0, run.stderr[-4000:]

    log = tmp_path / "slurm-run.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [
                str(BIN / "snakemake"),
                "--executor",
                "slurm",
                "--workflow-profile",
                SLURM_PROFILE,
                "--configfile",
                CONFIG,
                "--resources",
                f"mem_mb={_node_memory_mb()}",
                *_status_args(slurm_cluster),
            ],
            cwd=cluster,
            env=_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            requeued = _requeue_mid_work(proc, log, cluster)
            proc.wait(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text(errors="replace")
    assert requeued is not None, "the run ended before a long job could be requeued:\n" + text[-3000:]
    assert proc.returncode == 0, text[-6000:]
    job, rule_log = requeued
    resumed = re.search(r"resumed from \S+ at step (\d+) of (\d+)", rule_log.read_text(errors="replace"))
    assert resumed and int(resumed.group(1)) >= 2, rule_log.read_text(errors="replace")[-3000:]
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
    restarts = re.search(r"Restarts=(\d+)", shown)
    assert restarts is None or int(restarts.group(1)) >= 1, shown  # None: the job already left the controller
    if slurm_cluster == "slurmdbd":  # every run of the job is in the accounting: one REQUEUED, one COMPLETED
        states = subprocess.run(
            ["sacct", "-D", "-X", "-n", "-P", "--format=State", "-j", job], capture_output=True, text=True, check=True
        ).stdout.split()
        assert "REQUEUED" in states and states[-1] == "COMPLETED", states
    print(
        f"\n[slurm] requeued {REQUEUE_RULE} (job {job}) at step {resumed.group(1)} of {resumed.group(2)};"
        " it resumed there and the run finished",
        file=sys.stderr,
    )

    local_files, cluster_files = _files(local / "results"), _files(cluster / "results")
    assert sorted(cluster_files) == sorted(local_files)
    leftovers = [name for name in cluster_files if ".tmp-" in name]
    assert not leftovers, leftovers
    tables = [name for name in local_files if Path(name).suffix in COMPARED_SUFFIXES]
    assert any(name.endswith("features.tsv") for name in tables), tables
    different = [name for name in tables if local_files[name].read_bytes() != cluster_files[name].read_bytes()]
    assert not different, f"the requeued SLURM run and the local run differ in {different}"


MEMORY_HOG = """
rule all:
    input: "grown.txt"

# Touches 900 MB: over the first attempt's 700 MB (SLURM kills it), under the second's 1,400 MB.
rule hog:
    output: "grown.txt"
    resources: mem_mb=lambda wildcards, attempt: 700 * attempt, runtime=5
    shell: "python3 -c 'import time; b = bytearray(900 << 20); b[::4096] = bytes(len(b) >> 12); time.sleep(4)' && echo {resources.mem_mb} > {output}"
"""


@pytest.mark.slurm
def test_job_over_its_memory_is_killed_and_retried_with_more(slurm_cluster, tmp_path):
    """The profile's `retries` plus memory growing with `attempt`, against SLURM's real memory limit."""
    profile = yaml.safe_load((REPO / SLURM_PROFILE / "config.yaml").read_text())
    assert profile["retries"] >= 1
    (tmp_path / "Snakefile").write_text(MEMORY_HOG)
    run, _ = _snakemake(
        tmp_path,
        "--executor",
        "slurm",
        "--workflow-profile",
        str(REPO / SLURM_PROFILE),
        *_status_args(slurm_cluster),
        timeout=600,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    first, second = SUBMITTED.findall(log)
    assert (tmp_path / "grown.txt").read_text().strip() == "1400"
    states = _slurm_states([first, second], slurm_cluster)
    assert states[first] in {"FAILED", "OUT_OF_MEMORY"} and states[second] == "COMPLETED", states


def test_slurm_profile_is_accepted_and_sets_rule_resources(tmp_path):
    """Cheap check for `make test`: snakemake parses the profile and applies its per-rule values."""
    shutil.copytree(REPO, tmp_path / "repo", ignore=COPY_IGNORE, symlinks=True)
    run, _ = _snakemake(
        tmp_path / "repo", "-n", "--workflow-profile", SLURM_PROFILE, "--configfile", CONFIG, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    profile = yaml.safe_load((REPO / SLURM_PROFILE / "config.yaml").read_text())
    windows = re.search(r"rule windows:.*?resources: ([^\n]*)", run.stdout + run.stderr, re.S)
    assert windows, (run.stdout + run.stderr)[-3000:]
    expected = eval(profile["set-resources"]["windows"]["mem_mb"], {"attempt": 1})  # noqa: S307 - our own YAML
    assert f"mem_mb={expected}," in windows.group(1)
    # the report's scatter: report.parts report_part jobs per genome, each with the profile's resources
    # (the SLURM run above sends them through sbatch and compares the gathered tables with a local run)
    out = run.stdout + run.stderr
    part = re.search(r"rule report_part:.*?resources: ([^\n]*)", out, re.S)
    assert part, out[-3000:]
    expected = eval(profile["set-resources"]["report_part"]["mem_mb"], {"attempt": 1})  # noqa: S307
    assert f"mem_mb={expected}," in part.group(1)
    assert re.search(r"report_part\s+2\b", out)  # one genome x report.parts (default 2)
    # the probe's scatter: probe.parts (2 in CONFIG) probe_part jobs, with the profile's resources
    part = re.search(r"rule probe_part:.*?resources: ([^\n]*)", out, re.S)
    assert part, out[-3000:]
    expected = eval(profile["set-resources"]["probe_part"]["mem_mb"], {"attempt": 1})  # noqa: S307
    assert f"mem_mb={expected}," in part.group(1)
    assert re.search(r"probe_part\s+2\b", out) and re.search(r"probe_linear\s+1\b", out)
