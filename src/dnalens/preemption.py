"""SIGTERM (SLURM pre-emption, requeue, time limit; snakemake cancelling a job): stop cleanly.

Why: SLURM sends SIGTERM, waits KillWait/GraceTime seconds (30 s by default) and then SIGKILLs. With
Python's default disposition SIGTERM ends the process on the spot, so the temporary siblings of atomic
writes (dnalens.atomic) stay behind. Here SIGTERM becomes an exception instead:

- `install()` (the CLI calls it once): SIGTERM raises `Preempted` wherever the main thread is; atomic
  writes remove their temporary file on the way out, and the CLI prints one line and exits 143.
- `at_safe_points()`: a context manager for loops over shards. Inside, SIGTERM only sets a flag;
  `check()` (called between batches and shards) raises `Preempted` when it is set. Whatever is in
  flight is in memory only (shards are written whole, then committed by their JSON marker), so it is
  discarded and a rerun resumes at the last complete shard. On leaving the block a pending
  SIGTERM is raised, so a job that was told to stop never reports success.

`Preempted` derives from BaseException (like KeyboardInterrupt): an `except Exception` in a library
must not swallow it. A loop over shards (see sample/stage.py, sae/encode.py, sae/training.py):

    with preemption.at_safe_points():
        for i, shard in enumerate(todo):
            preemption.progress(f"after {i} of {len(todo)} shard(s)")  # named in the stop message
            if preemption.requested():
                save_what_resumes()  # optional: e.g. a training checkpoint of the last finished step
            preemption.check()       # raises Preempted if SIGTERM arrived
            compute_and_commit(shard)
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM

_state = {"deferred": 0, "pending": False, "where": "", "pid": None}


class Preempted(BaseException):
    """SIGTERM arrived; finished shards are kept, the one in flight was discarded."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        super().__init__(self.message)

    @property
    def message(self) -> str:
        at = f" {self.where}" if self.where else ""
        return (
            f"stopped by SIGTERM (pre-emption, requeue or time limit){at}; nothing partial was kept."
            " Rerun (or let SLURM requeue the job): it resumes from the last complete shard."
        )


def _handler(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    if os.getpid() != _state["pid"]:  # a forked child (e.g. a data-loader worker): die as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _state["deferred"]:
        _state["pending"] = True
        return
    raise Preempted(_state["where"])


def install() -> None:
    """Turn SIGTERM into `Preempted` in this process (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        _state["pid"] = os.getpid()
        signal.signal(signal.SIGTERM, _handler)


def requested() -> bool:
    """True once SIGTERM arrived inside `at_safe_points()` and has not been raised yet."""
    return bool(_state["pending"])


def progress(where: str) -> None:
    """Name the position reported by a later `Preempted` (e.g. "after 3 of 10 shards")."""
    _state["where"] = where


def check() -> None:
    """Raise `Preempted` if SIGTERM arrived inside `at_safe_points()`; call it where stopping is safe."""
    if _state["pending"]:
        _state["pending"] = False
        raise Preempted(_state["where"])


@contextlib.contextmanager
def at_safe_points() -> Iterator[None]:
    """Within the block SIGTERM only sets a flag that `check()` raises; a pending one is raised on exit."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
    if not _state["deferred"]:
        check()
        _state["where"] = ""
