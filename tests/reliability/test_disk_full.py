"""A full disk (ENOSPC) or quota (EDQUOT) gives one InputError naming the output, the bytes and the fix,
leaves no partial file or temp sibling, and a rerun after space is freed succeeds.

The real test mounts a 256 KiB tmpfs (root only); the unit tests fake the error and run everywhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnalens import atomic
from dnalens.atomic import DiskFullError, atomic_dir, atomic_path, is_disk_full, write_bytes, write_text
from dnalens.errors import InputError

TMPFS_BYTES = 256 * 1024
FIX = "or point results/ to a larger scratch disk"


@pytest.fixture
def small_disk():
    """A 256 KiB tmpfs, unmounted afterwards; skipped (with the reason) where it cannot be mounted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = Path(tempfile.mkdtemp(prefix="dnalens-full-"))
    run = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if run.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
        with contextlib.suppress(OSError):
            mnt.rmdir()


def _assert_one_line_disk_full(err: InputError, target: Path) -> None:
    text = err.message
    assert "\n" not in text
    assert text.startswith(f"{target}: no space left on device")
    assert FIX in text


def test_write_bytes_bigger_than_the_disk_then_small_write_succeeds(small_disk):
    target = small_disk / "big.bin"
    (small_disk / "kept.txt").write_text("earlier output")
    with pytest.raises(DiskFullError) as caught:
        write_bytes(target, b"x" * 1_000_000)
    _assert_one_line_disk_full(caught.value, target)
    assert "needs 1,000,000 bytes" in caught.value.message
    assert f"free space on {small_disk}" in caught.value.message
    assert sorted(p.name for p in small_disk.iterdir()) == ["kept.txt"]  # no partial file, no temp sibling
    write_text(target, "small")  # the rerun after space is freed
    assert target.read_text() == "small"
    assert (small_disk / "kept.txt").read_text() == "earlier output"


def test_np_save_and_parquet_into_atomic_dir_on_a_full_disk(small_disk):
    store = small_disk / "store"
    with pytest.raises(DiskFullError) as caught:
        with atomic_dir(store) as tmp:
            np.save(tmp / "a.npy", np.zeros(10_000), allow_pickle=False)  # 80 kB fits
            np.save(tmp / "b.npy", np.zeros(100_000), allow_pickle=False)  # numpy's short write, no errno
    _assert_one_line_disk_full(caught.value, store)
    assert "more than the" in caught.value.message  # bytes written so far (>= the 80 kB of a.npy)
    assert list(small_disk.iterdir()) == []
    with pytest.raises(DiskFullError):
        with atomic_path(small_disk / "t.parquet") as tmp:
            pd.DataFrame({"a": np.random.default_rng(0).random(100_000)}).to_parquet(tmp)
    assert list(small_disk.iterdir()) == []
    with atomic_dir(store) as tmp:
        np.save(tmp / "a.npy", np.arange(5), allow_pickle=False)
    assert np.load(store / "a.npy").tolist() == [0, 1, 2, 3, 4]


def test_memory_map_reserved_up_front_fails_with_one_error_not_sigbus(small_disk):
    target = small_disk / "dense.npy"
    with pytest.raises(DiskFullError) as caught:
        with atomic_path(target) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(500_000,))  # 1 MB, sparse
            atomic.reserve(tmp)  # without it, filling `out` below would die of SIGBUS
            out[:] = 1
    _assert_one_line_disk_full(caught.value, target)
    assert list(small_disk.iterdir()) == []
    with atomic_path(target) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(1000,))
        atomic.reserve(tmp)
        out[:] = 1
        out.flush()
        del out
    assert np.load(target).sum() == 1000


def _fail_after(monkeypatch, code: int) -> None:
    def full(self, data):
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "write_bytes", full)


@pytest.mark.parametrize(
    "code, reason", [(errno.ENOSPC, "no space left on device"), (errno.EDQUOT, "disk quota exceeded")]
)
def test_faked_enospc_gives_one_input_error_and_no_temp(tmp_path, monkeypatch, code, reason):
    target = tmp_path / "out" / "features.tsv"
    _fail_after(monkeypatch, code)
    with pytest.raises(InputError) as caught:
        write_text(target, "a\tb\n" * 10)
    text = caught.value.message
    assert text.startswith(f"{target}: {reason} while writing this output (needs 40 bytes;")
    assert "Fix: free space on " in text and FIX in text and "\n" not in text
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == code
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    write_text(target, "ok")
    assert target.read_text() == "ok"


def test_nested_disk_full_names_the_outer_directory(tmp_path, monkeypatch):
    _fail_after(monkeypatch, errno.ENOSPC)
    with pytest.raises(DiskFullError) as caught:
        with atomic_dir(tmp_path / "codes") as tmp:
            (tmp / "done.npy").write_text("1234")
            write_bytes(tmp / "next.npy", b"12345678")
    assert caught.value.path == str(tmp_path / "codes")
    assert "more than the 4 bytes written" in caught.value.message
    assert list(tmp_path.iterdir()) == []


def test_other_errors_pass_through_unchanged(tmp_path, monkeypatch):
    _fail_after(monkeypatch, errno.EACCES)
    with pytest.raises(PermissionError):
        write_bytes(tmp_path / "x", b"1")
    assert list(tmp_path.iterdir()) == []
    assert not is_disk_full(ValueError("100 requested and 3 written"))
    assert is_disk_full(OSError("100 requested and 3 written"))  # numpy's short write
    assert is_disk_full(RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"))


@pytest.mark.parametrize("write", ["write_text(sys.argv[1], '{}')", "pathlib.Path(sys.argv[1]).write_bytes(b'{}')"])
def test_cli_prints_disk_full_on_one_line_and_exits_2(tmp_path, write):
    """Through cli.main: a stage whose write hits ENOSPC (faked via sitecustomize), atomic or not."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sitecustomize.py").write_text(
        "import errno, os, pathlib\n"
        "def full(self, data):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))\n"
        "pathlib.Path.write_bytes = full\n"
    )
    out = tmp_path / "results" / "genome.json"
    out.parent.mkdir(parents=True)
    code = (
        "import pathlib, sys\nfrom dnalens import cli\nfrom dnalens.atomic import write_text\n"
        f"def stage(args):\n    {write}\n"
        "def register(sub):\n    sub.add_parser('fake').set_defaults(func=stage)\n"
        "cli.COMMAND_MODULES = ('__main__',)\nsys.exit(cli.main(['fake']))\n"
    )
    src = Path(atomic.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(src)])}
    run = subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dnalens fake: error: {out}: no space left on device")
    assert "Traceback" not in run.stderr
    assert list(out.parent.iterdir()) == []
