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


def test_onednn_enabled_reads_the_environment():
    from seq2seq.native import onednn

    assert onednn.onednn_enabled({}) is True
    assert onednn.onednn_enabled({"SEQ2SEQ_ONEDNN": "0"}) is False
    assert onednn.onednn_enabled({"SEQ2SEQ_NATIVE": "0"}) is False
    with pytest.raises(ValueError, match=r"SEQ2SEQ_ONEDNN must be '0' or '1'.*'no'"):
        onednn.onednn_enabled({"SEQ2SEQ_ONEDNN": "no"})


def test_onednn_without_its_wheel_warns_and_falls_back(monkeypatch):
    from seq2seq.native import onednn

    def missing(distribution, suffix):
        raise onednn.metadata.PackageNotFoundError(distribution)

    monkeypatch.setattr(onednn, "_STATE", {})
    monkeypatch.setattr(onednn, "_wheel_file", missing)
    with pytest.warns(RuntimeWarning, match=r"oneDNN kernels could not be loaded"):
        assert onednn.onednn_library() is None
    assert onednn.onednn_library() is None  # decided once per process


@needs_compiler
def test_onednn_builds_into_the_cache(fresh, monkeypatch):
    from seq2seq.native import onednn

    monkeypatch.setattr(onednn, "_STATE", {})
    try:
        onednn._wheel_file("onednn", "libdnnl.so.3")
    except (OSError, onednn.metadata.PackageNotFoundError):
        pytest.skip("the onednn wheel is not installed")
    library = onednn.onednn_library()
    assert library is not None
    assert len(list(fresh.glob("onednn_rnn-*.so"))) == 1
    assert library.workspace_size(1, False, False, 5, 3, 4, 8) > 0  # GRU, float32
    # LSTM, bfloat16: oneDNN has it wherever it has bfloat16 products (AVX-512), and
    # declines it (-1) on CPUs without them.
    bfloat16 = library.workspace_size(0, True, True, 5, 3, 4, 8)
    assert bfloat16 > 0 if library.bfloat16 else bfloat16 == -1
