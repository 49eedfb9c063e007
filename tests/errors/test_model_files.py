"""docs/errors.md, "Model files": files given to `seq2seq predict/evaluate` and to
`seq2seq.models.load_model` that cannot be loaded, or must not be."""

import os
import sys
from pathlib import Path

import pytest
from catalogue import expect, expect_cli, message_of

from seq2seq.models import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import unsafe_models  # noqa: E402


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    unsafe_models.save_text_model(path)
    return path


def _library_error(error_type, path):
    return message_of(error_type, lambda: load_model(path))


def test_missing_file():
    expect_cli("E70", "predict", "nope.keras", "abc")
    expect_cli("E70", "evaluate", "nope.keras", "--task", "dates")
    expect("E70", _library_error(FileNotFoundError, "nope.keras"))


def test_garbage_and_truncated_files(saved):
    unsafe_models.garbage("model.keras")
    expect_cli("E71", "predict", "model.keras", "abc")
    expect("E71", _library_error(ValueError, "model.keras"))
    unsafe_models.truncate(saved, "half.keras")
    expect_cli("E72", "predict", "half.keras", "abc")
    expect("E72", _library_error(ValueError, "half.keras"))


def test_a_folder_or_another_format(tmp_path):
    (tmp_path / "run.keras").mkdir()
    expect_cli("E73", "predict", "run.keras", "abc")
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    expect_cli("E74", "predict", "weights.h5", "abc")
    expect("E74", _library_error(ValueError, "weights.h5"))


def test_a_model_of_another_kind():
    unsafe_models.save_dense_model("dense.keras")
    expect_cli("E75", "predict", "dense.keras", "abc")
    expect("E75", _library_error(ValueError, "dense.keras"))


def test_a_lambda_layer_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    unsafe_models.save_lambda_model("lambda.keras", marker)
    expect_cli("E76", "predict", "lambda.keras", "abc")
    expect_cli("E76", "evaluate", "lambda.keras", "--task", "dates")
    expect("E76", _library_error(ValueError, "lambda.keras"))
    assert not os.path.exists(marker)


def test_a_class_from_another_module_is_refused(saved, tmp_path):
    edit, _ = unsafe_models.EDITS["module os"]
    unsafe_models.rewrite_config(saved, "os.keras", edit(tmp_path / "ran"))
    expect_cli("E77", "predict", "os.keras", "abc")
    expect("E77", _library_error(ValueError, "os.keras"))
