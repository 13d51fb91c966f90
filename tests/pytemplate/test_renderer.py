"""The renderer writes atomically, keeps permissions, backs up, and never rewrites equal bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytemplate.renderer import RenderError, write_if_changed


def test_writes_new_file_with_default_perms_and_no_temp_left(tmp_path: Path) -> None:
    dest = tmp_path / "conf" / "site.conf"
    out = write_if_changed(dest, b"upstream {}\n")
    assert out.did_render and dest.read_bytes() == b"upstream {}\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert [p.name for p in dest.parent.iterdir()] == ["site.conf"]


def test_unchanged_bytes_do_not_touch_the_file(tmp_path: Path) -> None:
    dest = tmp_path / "site.conf"
    write_if_changed(dest, b"a\n")
    os.utime(dest, (1_000_000, 1_000_000))
    before = dest.stat()
    for _ in range(50):
        assert not write_if_changed(dest, b"a\n").did_render
    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_bytes_replace_atomically_keeping_the_old_mode(tmp_path: Path) -> None:
    dest = tmp_path / "site.conf"
    dest.write_bytes(b"old")
    dest.chmod(0o600)
    old_inode = dest.stat().st_ino
    assert write_if_changed(dest, b"new").did_render
    assert dest.read_bytes() == b"new"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert dest.stat().st_ino != old_inode  # renamed into place, never rewritten in place


def test_perms_and_backup(tmp_path: Path) -> None:
    dest = tmp_path / "site.conf"
    write_if_changed(dest, b"v1", perms=0o640, backup=True)
    assert not (tmp_path / "site.conf.bak").exists()  # nothing to back up yet
    write_if_changed(dest, b"v2", perms=0o640, backup=True)
    assert (tmp_path / "site.conf.bak").read_bytes() == b"v1"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640


def test_missing_directory_without_create_dest_dirs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="does not exist"):
        write_if_changed(tmp_path / "nope" / "x.conf", b"x", create_dest_dirs=False)
    with pytest.raises(RenderError, match="is a directory"):
        write_if_changed(tmp_path, b"x")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=12))
def test_writes_exactly_when_bytes_change(tmp_path_factory: pytest.TempPathFactory, versions: list[bytes]) -> None:
    dest = tmp_path_factory.mktemp("r") / "out"
    last: bytes | None = None
    for data in versions:
        assert write_if_changed(dest, data).did_render == (data != last)
        assert dest.read_bytes() == data
        last = data
