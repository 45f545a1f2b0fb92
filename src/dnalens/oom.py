"""CUDA out-of-memory: halve the batch and retry, down to the smallest unit; then one clear error.

Why here and not in each stage: extraction, encode, SAE training and the torch probe path all process a
list of units (windows, rows, features) in batches, and the right reaction to `torch.cuda.OutOfMemoryError`
is the same everywhere: drop the failed batch's tensors, empty torch's cache, retry the same units in
half-sized batches, keep the smaller size for what follows, and when one unit alone does not fit, stop
with a message that says how large that unit was and how much memory it needed. Results do not depend
on the batch size the work ended up with when each unit is computed from its own data only (each stage
says why its work is), up to float rounding where a kernel's summation order depends on the shape.

API (torch is imported lazily; nothing here needs a GPU):
- `HalvingBatch(size, minimum=1)`: `.run(fn, fail)` calls `fn(size)`, halving `size` on OOM;
  `.chunks(n, fn, fail)` covers units [0, n) with `fn(start, end)` calls. `.size` keeps what fit.
- `OutOfGpuMemoryError`: the one error (an InputError: the CLI prints it on one line, exit 2).
- `oom_error(what, exc, fix=)`: builds it, with the memory the failed allocation needed (from torch's
  message: in use + requested) and the device's capacity.
- `clear_error(what, fix=)`: a context manager for work that cannot be split (OOM -> the one error).
- `is_out_of_memory(exc)`, `free_memory()`.

Typical use (one HalvingBatch per job, so a size that failed once is not tried again on every shard):

    batch = HalvingBatch(spec.batch_size, what="sample batch (windows)")
    batch.chunks(len(rows), lambda a, b: forward_and_store(rows[a:b]),      # re-runnable: writes slices
                 lambda a, b, exc: oom_error(f"one window of {length(rows[a]):,} nt", exc,
                                             halved_from=batch.initial, fix="use shorter windows ..."))
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
from typing import Callable, Iterator, TypeVar

from dnalens.errors import InputError

log = logging.getLogger(__name__)
T = TypeVar("T")

# torch's caching allocator: "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of
# 15.77 GiB of which 1.06 GiB is free. ... this process has 14.70 GiB memory in use. ..."
_SIZE = r"([\d.]+) (bytes|KiB|MiB|GiB|TiB)"
_TRIED = re.compile(r"Tried to allocate " + _SIZE)
_IN_USE = re.compile(r"this process has " + _SIZE + " memory in use")
_TOTAL = re.compile(r"total capacity of " + _SIZE)
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
# cuBLAS/cuDNN workspace failures surface as plain RuntimeErrors with these texts.
_OOM_TEXTS = (
    "CUDA out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_ALLOC_FAILED",
    "CUDA error: out of memory",
)


class OutOfGpuMemoryError(InputError):
    """One unit of work (a window, a row chunk, a feature) does not fit on the GPU even alone."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, or a CUDA library's allocation failure reported as RuntimeError."""
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return isinstance(exc, RuntimeError) and any(text in str(exc) for text in _OOM_TEXTS)


def free_memory() -> None:
    """Collect garbage (tensors the failed batch left in frames) and return torch's cached blocks."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _bytes(match: re.Match | None) -> int | None:
    return None if match is None else int(float(match.group(1)) * _UNITS[match.group(2)])


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def memory_needed(exc: BaseException) -> tuple[int | None, int | None]:
    """(bytes needed at the failed allocation = in use + requested, device capacity) from torch's message;
    None for what the message does not say (then torch.cuda's own counters, when a GPU is visible)."""
    text = str(exc)
    tried, in_use, total = _bytes(_TRIED.search(text)), _bytes(_IN_USE.search(text)), _bytes(_TOTAL.search(text))
    if in_use is None:
        try:
            import torch

            if torch.cuda.is_available():
                in_use = int(torch.cuda.memory_reserved())
                total = total or int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
        except Exception:  # noqa: BLE001 - only improves the message
            pass
    needed = None if tried is None and in_use is None else (tried or 0) + (in_use or 0)
    return needed, total


def oom_error(what: str, exc: BaseException, *, fix: str, halved_from: int | None = None) -> OutOfGpuMemoryError:
    """The one error for `what` (e.g. "one window of 50,000 nt") not fitting, with the memory it needed."""
    needed, total = memory_needed(exc)
    if needed is not None:
        need = f"it needs at least {_gb(needed)}" + (f" of the GPU's {_gb(total)}" if total else "")
    else:
        need = "the memory it needs is unknown (torch's message gave no sizes)"
    halved = f" (batch halved from {halved_from} to 1)" if halved_from and halved_from > 1 else ""
    return OutOfGpuMemoryError(f"CUDA out of memory even for {what}{halved}: {need}.", fix=fix)


class HalvingBatch:
    """A batch size that halves on CUDA out-of-memory and keeps the size that fit for later calls.

    `fn` must have no side effects that a retry would repeat wrongly (write into preallocated slices,
    or return results): a failed attempt is simply run again with fewer units.
    """

    def __init__(self, size: int, *, minimum: int = 1, what: str = "batch") -> None:
        self.initial = self.size = max(int(size), int(minimum), 1)
        self.minimum = max(int(minimum), 1)
        self.what = what
        self.halvings = 0

    def run(self, fn: Callable[[int], T], fail: Callable[[int, BaseException], BaseException]) -> T:
        """fn(size), retried with size // 2 on OOM; at `minimum`, raise fail(size, the OOM error)."""
        while True:
            try:
                return fn(self.size)
            except Exception as exc:  # noqa: BLE001 - re-raised unless it is an OOM
                if not is_out_of_memory(exc):
                    raise
                if self.size <= self.minimum:
                    raise fail(self.size, exc) from exc
                message = str(exc).splitlines()[0][:200]
            # outside the except block: the traceback (and the tensors its frames hold) is gone
            free_memory()
            old, self.size = self.size, max(self.minimum, self.size // 2)
            self.halvings += 1
            log.warning("CUDA out of memory in %s of %d; retrying with %d (%s)", self.what, old, self.size, message)

    def chunks(
        self,
        n: int,
        fn: Callable[[int, int], None],
        fail: Callable[[int, int, BaseException], BaseException],
        start: int = 0,
    ) -> None:
        """Cover units [start, n) with fn(a, b) calls of at most `size` units each, halving on OOM;
        fail(a, b, exc) builds the error when units [a, b) (b - a == minimum) alone do not fit."""
        pos = start
        while pos < n:

            def step(size: int) -> int:
                end = min(n, pos + size)
                fn(pos, end)
                return end

            pos = self.run(step, lambda size, exc: fail(pos, min(n, pos + size), exc))


@contextlib.contextmanager
def clear_error(what: str, *, fix: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory inside the block (work that cannot be split) into the one clear error."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is an OOM
        if is_out_of_memory(exc):
            raise oom_error(what, exc, fix=fix) from exc
        raise
