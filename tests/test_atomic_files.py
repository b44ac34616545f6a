"""vae_core.atomic_files: the old file survives a failed write, and no temp file is left behind."""

from __future__ import annotations

import os

import pytest

from vae_core.atomic_files import write_atomically


def test_writes_with_umask_permissions_and_leaves_no_temp_files(tmp_path):
    path = write_atomically(tmp_path / "sub" / "card.md", lambda handle: handle.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in path.parent.iterdir()] == ["card.md"]


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "card.md"
    path.write_bytes(b"old")

    def half_then_fail(handle):
        handle.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
