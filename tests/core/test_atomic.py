"""Atomic writes leave either the old complete output or the new one, never a partial file."""

import pytest

from dnalens.atomic import atomic_dir, atomic_path, write_text


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # not visible before the rename
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_old_file_and_no_temp_on_error(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_dir_swaps_whole_directory(tmp_path):
    target = tmp_path / "store"
    with atomic_dir(target) as tmp:
        (tmp / "a.npy").write_bytes(b"1")
    with atomic_dir(target) as tmp:
        (tmp / "b.npy").write_bytes(b"2")
    assert sorted(p.name for p in target.iterdir()) == ["b.npy"]
    with pytest.raises(ValueError):
        with atomic_dir(target) as tmp:
            (tmp / "c.npy").write_bytes(b"3")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["b.npy"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_atomic_outputs_get_umask_permissions_not_0600(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    target = tmp_path / "shared.tsv"
    write_text(target, "x")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
