"""Two snakemake runs on one results directory: the second is refused by Snakemake's lock.

dnalens does not add its own lock: Snakemake locks the working directory (`.snakemake/locks`) for the
whole run, and a second instance exits non-zero with "Directory cannot be locked" before it starts any
job. This test runs the plasmid workflow of test_reliability.py (same reduced config, random tiny model),
starts a second snakemake on the same directory while the first holds the lock, and checks that the
refusal neither touches what the first run had written nor keeps it from finishing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_reliability import GENOME, LAYER, _command, _env, config_file  # noqa: F401  (config_file: fixture)

pytestmark = pytest.mark.slow
LOCKED = ("Directory cannot be locked",)
INCOMPLETE = ("IncompleteFilesException", "Incomplete files")


def _snapshot(results: Path) -> dict[str, tuple[int, str]]:
    """Inode and content hash of every finished file under results/ (snakemake itself touches mtimes)."""
    if not results.exists():
        return {}
    files = {}
    for path in results.rglob("*"):
        name = path.relative_to(results)
        if any(part.startswith(".") or part.endswith("_parts") for part in name.parts):
            continue  # staging siblings (atomic writes, prepare) and temp() parts are meant to go away
        with contextlib.suppress(FileNotFoundError):  # renamed away by the running job meanwhile
            if path.is_file():
                files[str(name)] = (path.stat().st_ino, hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def test_second_snakemake_on_the_same_directory_is_refused(config_file, tmp_path):  # noqa: F811
    locks = tmp_path / ".snakemake" / "locks"
    log = tmp_path / "first.log"
    # --cores 1 keeps the first run busy long enough for two refused starts
    command = _command(tmp_path, config_file, "--max-jobs-per-timespan", "1/3s")
    command[command.index("--cores") + 1] = "1"  # and one job start per 3 s: the run stays locked for > 1 min
    with log.open("w") as sink:
        first = subprocess.Popen(
            command, cwd=tmp_path, env=_env(), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90  # locked, and finished outputs (prepare's, windows') to protect
        windows = tmp_path / "results" / GENOME / "windows.bed"
        while not (locks.exists() and any(locks.iterdir()) and windows.exists()):
            assert first.poll() is None, "the first run ended before it locked the directory and wrote"
            assert time.monotonic() < deadline, "no lock file and output within 90 s"
            time.sleep(0.05)
        before = _snapshot(tmp_path / "results")

        # Plain rerun: refused by the lock, or (when it looks while a job of the first run is writing)
        # earlier by Snakemake's incomplete-file check; with --rerun-incomplete (the SLURM profile's
        # setting, and what that message suggests) only the lock stands between the two runs.
        for extra, refusals in ((("--rerun-incomplete",), LOCKED), ((), LOCKED + INCOMPLETE)):
            assert first.poll() is None, "the first run finished before the second started: test is void"
            second = subprocess.run(
                _command(tmp_path, config_file, *extra),
                cwd=tmp_path,
                env=_env(),
                capture_output=True,
                text=True,
                timeout=120,
            )
            said = second.stdout + second.stderr
            if second.returncode == 0 and "Nothing to be done" in said:
                # the first run had written its last output and was only releasing the lock: no overlap to test
                first.wait(timeout=240)
                pytest.skip("race: the first run finished its jobs before the second one started")
            assert second.returncode != 0, said[-3000:]
            assert any(text in said for text in refusals), said[-3000:]
            assert "Select jobs to execute" not in said, said[-3000:]  # refused before scheduling any job
        first.wait(timeout=240)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    log_first = log.read_text()
    assert first.returncode == 0, log_first[-4000:]
    assert "Select jobs to execute" in log_first  # the phrase the refused runs must not reach

    after = _snapshot(tmp_path / "results")
    lost = [name for name in before if name not in after]
    rewritten = [name for name in before if name in after and after[name] != before[name]]
    assert not lost and not rewritten, (lost, [(n, before[n], after[n]) for n in rewritten])
    out = tmp_path / "results" / GENOME
    for name in ("features.tsv", "feature_concepts.tsv", "report.html"):
        assert (out / name).stat().st_size > 0, name
    # the dense sample is temp(): gone once its readers ran; the buffer holds every window's codes
    assert not (out / "activations").exists()
    from dnalens.formats.buffer import ActivationBuffer

    assert ActivationBuffer.open(out / "buffer").n_tokens == _snapshot_tokens(out)
    assert not locks.exists() or not any(locks.iterdir()), "the first run left its lock behind"


def _snapshot_tokens(out) -> int:
    """Tokens the windows hold after the model's trims, from windows.bed (the buffer must have them all)."""
    import json

    meta = json.loads((out / "buffer" / "buffer.json").read_text())
    trim = meta.get("trim_start", 0) + meta.get("trim_end", 0)
    rows = [line.split("\t") for line in (out / "windows.bed").read_text().splitlines()]
    return sum(max(0, int(r[2]) - int(r[1]) - trim) for r in rows)
