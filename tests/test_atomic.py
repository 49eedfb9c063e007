"""Crash-safe writes: the destination is either the old file or the new one, never a part."""

import errno
import os

import pytest

from seq2seq import atomic
from seq2seq.atomic import TEMP_PREFIX, atomic_path, remove_temporary_files, write_text


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "notes.txt"
    write_text(path, "old\n")
    write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as `open` would create it


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"the old model")
    with pytest.raises(RuntimeError, match="crashed"):
        with atomic_path(path) as temporary:
            assert temporary.parent == tmp_path
            assert temporary.name.startswith(TEMP_PREFIX) and temporary.name.endswith(
                "-model.keras"
            )
            temporary.write_bytes(b"half a mod")
            raise RuntimeError("crashed")
    assert path.read_bytes() == b"the old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    write_text(path, "epoch,loss\n0,1.5\n")

    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        write_text(path, "epoch,loss\n0,1.5\n1,1.2\n")
    assert path.read_text() == "epoch,loss\n0,1.5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_remove_temporary_files(tmp_path):
    (tmp_path / f"{TEMP_PREFIX}abc-model.keras").write_bytes(b"torn")
    (tmp_path / "model.keras").write_bytes(b"whole")
    removed = remove_temporary_files(tmp_path)
    assert [p.name for p in removed] == [f"{TEMP_PREFIX}abc-model.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert remove_temporary_files(tmp_path / "missing") == []
