"""Atomic writes: write to a temporary sibling, then rename, so a killed job never leaves a partial file.

A rerun after `kill -9` finds either the complete old output or nothing, never half a file. A full
disk (ENOSPC) or an exceeded quota (EDQUOT) is turned into one `DiskFullError` naming the output, the
bytes needed and the fix; the temporary sibling is removed first, so a rerun after freeing space
starts clean and succeeds.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from dnalens.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXTS = tuple(os.strerror(code) for code in sorted(_FULL_ERRNOS))  # for libraries that drop errno
# np.save / ndarray.tofile report a short fwrite as OSError("N requested and M written") without errno;
# on a local or network filesystem that short write is the disk (or the quota) running full.
_NUMPY_SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")


class DiskFullError(InputError):
    """The filesystem holding an output is full (or over quota): the user must free or move space."""


def is_disk_full(exc: BaseException) -> bool:
    """True for ENOSPC/EDQUOT anywhere in the exception chain (numpy, pyarrow, safetensors wrap it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(text in str(exc) for text in _FULL_TEXTS):
            return True
        if isinstance(exc, OSError) and exc.errno is None and _NUMPY_SHORT_WRITE.match(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() or not os.path.ismount(path):
        if path.parent == path:
            break
        path = path.parent
    return path


def _size(n: int) -> str:
    exact = n
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} bytes" if unit == "bytes" else f"{exact:,} bytes = {n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def disk_full_error(
    final: Path, needed: int | None, written: int, cause: BaseException, *, cleaned: bool = True
) -> DiskFullError:
    """One message: which output, how much it needed (or wrote before failing), where, and the fix."""
    mount = _mount_point(final.parent)
    try:
        free = f"{_size(shutil.disk_usage(mount).free).split(' = ')[-1]} free"
    except OSError:
        free = "free space unknown"
    reason = "disk quota exceeded" if getattr(cause, "errno", None) == errno.EDQUOT else "no space left on device"
    if needed is not None:
        amount = f"needs {_size(needed)}; "
    elif written:
        amount = f"needs more than the {_size(written)} written before the disk filled; "
    else:
        amount = ""
    kept = "; nothing partial was kept" if cleaned else ""
    return DiskFullError(
        f"{reason} while writing this output ({amount}{mount} has {free}){kept}.",
        path=final,
        fix=f"free space on {mount} or point results/ to a larger scratch disk "
        "(snakemake --directory <scratch dir>), then rerun: finished outputs are kept.",
    )


def _tmp_sibling(path: Path, directory: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should look like any other file
    return Path(name)


def _new_tmp(final: Path, directory: bool) -> Path:
    try:
        return _tmp_sibling(final, directory)
    except OSError as err:  # no inode or block left even for the empty temp file
        if is_disk_full(err):
            raise disk_full_error(final, None, 0, err) from err
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, nbytes: int | None = None) -> Iterator[Path]:
    """Yield a temporary file path; on success it replaces `path`, on error it is removed.

    `nbytes` (the size about to be written, when the caller knows it) only feeds the disk-full message.
    """
    final = Path(path)
    tmp = _new_tmp(final, directory=False)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as err:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if isinstance(err, DiskFullError):  # raised inside (nested write): name this output instead
            raise disk_full_error(final, nbytes, written, err.__cause__ or err) from err.__cause__
        if is_disk_full(err):
            raise disk_full_error(final, nbytes, written, err) from err
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces directory `path` as a whole."""
    final = Path(path)
    tmp = _new_tmp(final, directory=True)
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException as err:
        full = isinstance(err, DiskFullError) or is_disk_full(err)
        written = _tree_bytes(tmp) if full else 0
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            cause = err.__cause__ if isinstance(err, DiskFullError) and err.__cause__ else err
            raise disk_full_error(final, None, written, cause) from cause
        raise


def reserve(path: str | os.PathLike) -> None:
    """Allocate every block of a (sparse) file now, e.g. right after `np.lib.format.open_memmap(mode="w+")`.

    Writing through a memory map into a sparse file on a full disk kills the process with SIGBUS (no
    exception, no cleanup); reserving first turns that into ENOSPC here, hence one DiskFullError.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size:
            os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EOPNOTSUPP):  # a filesystem that cannot preallocate
            raise
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> None:
    data = text.encode()
    with atomic_path(path, nbytes=len(data)) as tmp:
        tmp.write_bytes(data)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path, nbytes=len(data)) as tmp:
        tmp.write_bytes(data)
