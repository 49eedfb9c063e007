"""Building and loading the native CPU kernels (`seq2seq.native`)."""

import os
import shutil

import pytest

from seq2seq import native

needs_compiler = pytest.mark.skipif(shutil.which("c++") is None, reason="needs a C++ compiler")


def test_native_enabled_reads_the_environment():
    assert native.native_enabled({}) is True
    assert native.native_enabled({"SEQ2SEQ_NATIVE": "0"}) is False
    with pytest.raises(ValueError, match=r"SEQ2SEQ_NATIVE must be '0' or '1'.*'yes'"):
        native.native_enabled({"SEQ2SEQ_NATIVE": "yes"})


def test_cache_dir_precedence():
    assert native.cache_dir({"SEQ2SEQ_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b"}) == "/a"
    assert native.cache_dir({"XDG_CACHE_HOME": "/b"}) == os.path.join("/b", "seq2seq")
    assert native.cache_dir({}).endswith(os.path.join(".cache", "seq2seq"))


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache and no library loaded yet in this process."""
    monkeypatch.setenv("SEQ2SEQ_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_STATE", {})
    return tmp_path


@needs_compiler
def test_builds_once_into_the_cache_and_reuses_it(fresh, monkeypatch):
    assert native.lstm_library() == tuple(native._TARGETS)
    assert "seq2seq_lstm_backward_masked" in native.lstm_library()
    built = list(fresh.glob("lstm-*.so"))
    assert len(built) == 1 and not [p for p in fresh.iterdir() if p.is_dir()]

    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again although the cache holds the library")

    monkeypatch.setattr(native.subprocess, "run", no_compiler)
    monkeypatch.setattr(native, "_STATE", {})
    assert native.lstm_library() is not None
    assert list(fresh.glob("lstm-*.so")) == built


def test_a_failing_build_warns_and_falls_back(fresh, monkeypatch):
    monkeypatch.setenv("CXX", "false")  # a "compiler" that always fails
    with pytest.warns(RuntimeWarning, match=r"could not be built \(false failed"):
        assert native.lstm_library() is None
    assert not list(fresh.glob("lstm-*.so"))
    assert native.lstm_library() is None  # decided once per process


def test_disabled_by_the_environment(fresh, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_NATIVE", "0")
    assert native.lstm_library() is None
    assert not list(fresh.iterdir())
