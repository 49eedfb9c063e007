"""`seq2seq predict` and `evaluate` refuse model files that carry code: one line, exit 2."""

import keras
import pytest
from cli_helpers import run
from unsafe_models import (
    EDITS,
    garbage,
    rewrite_config,
    save_dense_model,
    save_lambda_model,
    save_text_model,
    truncate,
)

COMMANDS = ["evaluate", "predict"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    save_text_model(path)
    return path


@pytest.fixture
def no_keras_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("keras.saving.load_model was called")

    monkeypatch.setattr(keras.saving, "load_model", refuse)


def _run(command, model, tmp_path):
    if command == "evaluate":
        (tmp_path / "pairs.tsv").write_text("abc\tcba\ndog\tgod\n")
        return run("evaluate", model, tmp_path / "pairs.tsv")
    return run("predict", model, "abc")


def _assert_refused(code, out, err, expected):
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines() == [expected], err


def _code_message(command, path, found):
    return (
        f"seq2seq {command}: error: {path}: refused to load: the file carries code ({found}); "
        "loading it could run that code"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_lambda_model_is_refused(command, tmp_path, no_keras_load):
    marker = tmp_path / "ran"
    save_lambda_model(tmp_path / "lambda.keras", marker)
    code, out, err = _run(command, tmp_path / "lambda.keras", tmp_path)
    found = "a `Lambda` layer at `config.layers[1]`"
    _assert_refused(code, out, err, _code_message(command, tmp_path / "lambda.keras", found))
    assert not marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "case", ["lambda layer", "python lambda", "module os", "module subprocess"]
)
def test_rewritten_seq2seq_model_is_refused(command, case, saved, tmp_path, no_keras_load):
    edit, found = EDITS[case]
    marker = tmp_path / "ran"
    rewrite_config(saved, tmp_path / "edited.keras", edit(marker))
    code, out, err = _run(command, tmp_path / "edited.keras", tmp_path)
    _assert_refused(code, out, err, _code_message(command, tmp_path / "edited.keras", found))
    assert not marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_truncated_garbage_and_other_models(command, saved, tmp_path):
    truncate(saved, tmp_path / "half.keras")
    garbage(tmp_path / "noise.keras")
    save_dense_model(tmp_path / "dense.keras")
    prefix = f"seq2seq {command}: error: {tmp_path}/"
    cases = {
        "half.keras": "half.keras: cannot load the model "
        "(truncated or damaged zip archive; expected a `.keras` file)",
        "noise.keras": "noise.keras: cannot load the model "
        "(not a zip archive; expected a `.keras` file)",
        "dense.keras": "dense.keras: expected a seq2seq model "
        "(SimpleSeq2Seq, Seq2Seq or AttentionSeq2Seq), received a Sequential",
        "nope.keras": "nope.keras: file not found",
    }
    for name, expected in cases.items():
        _assert_refused(*_run(command, tmp_path / name, tmp_path), prefix + expected)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_safe_model_still_runs(command, saved, tmp_path):
    code, out, err = _run(command, saved, tmp_path)
    assert code == 0, err
    assert out
