"""User mistakes: one line on stderr naming the file and line, exit status 2, no traceback."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import run
from helpers import backend_independent

from seq2seq.commands.predict import decode_lines
from seq2seq.data.errors import DataFileError
from seq2seq.data.tasks import TASKS

TF_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:)")
BAD_FILES = {
    "missing target column": (b"abc\tcba\nabd\n", "bad.tsv, line 2: missing target column"),
    "empty target": (b"abc\tcba\n\nabd\t \n", "bad.tsv, line 3: empty target"),
    "not UTF-8": (b"abc\tcba\nab\xe9\tx\n", "bad.tsv, line 2: not valid UTF-8"),
}


def _assert_one_line_error(code, out, err, expected):
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_data_file_is_one_line(case, tmp_path):
    content, expected = BAD_FILES[case]
    (tmp_path / "bad.tsv").write_bytes(content)
    _assert_one_line_error(*run("train", tmp_path / "bad.tsv"), expected)


def test_bad_file_for_evaluate_is_reported_before_the_model_loads(tmp_path):
    (tmp_path / "bad.tsv").write_bytes(b"abc\tcba\nabd\t\n")
    code, out, err = run("evaluate", tmp_path / "missing.keras", tmp_path / "bad.tsv")
    _assert_one_line_error(code, out, err, "bad.tsv, line 2: empty target")


def test_npz_without_y(tmp_path):
    np.savez(tmp_path / "series.npz", x=np.zeros((4, 3, 1)))
    code, out, err = run("train", tmp_path / "series.npz")
    _assert_one_line_error(code, out, err, "series.npz: missing array 'y'")


def test_unreadable_model_file(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"not a zip archive")
    code, out, err = run("predict", tmp_path / "model.keras", "abc")
    _assert_one_line_error(code, out, err, "model.keras: cannot load the model")


def test_model_of_another_kind(tmp_path):
    import keras

    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "dense.keras")
    code, out, err = run("predict", tmp_path / "dense.keras", "abc")
    _assert_one_line_error(code, out, err, "dense.keras: expected a seq2seq model")


def test_predict_inputs_not_utf8_name_the_line():
    with pytest.raises(DataFileError, match=r"^inputs.txt, line 2: not valid UTF-8 \(byte 0xff"):
        decode_lines(b"fine\nbad \xff\n", "inputs.txt")
    assert decode_lines(b"\xef\xbb\xbfa\r\n\nb\n", "x") == ["a", "", "b"]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_missing_model(command, tmp_path):
    extra = ["--task", "dates"] if command == "evaluate" else ["x"]
    code, out, err = run(command, tmp_path / "nope.keras", *extra)
    _assert_one_line_error(code, out, err, "nope.keras: file not found")


def test_unknown_task_lists_the_valid_ones():
    code, _, err = run("train", "--task", "translate")
    assert code == 2
    assert "invalid choice: 'translate'" in err
    assert all(name in err for name in TASKS)


def test_unknown_flag_and_bad_value():
    code, _, err = run("train", "--task", "dates", "--hiden", "3")
    assert code == 2 and "unrecognized arguments: --hiden" in err
    code, _, err = run("train", "--task", "dates", "--cell", "rnn")
    assert code == 2 and "choose from 'lstm', 'gru'" in err
    code, _, err = run("train", "--task", "dates", "--hidden", "0")
    assert code == 2 and "expected >= 1, received 0" in err


def test_unknown_config_key_lists_the_valid_ones(tmp_path):
    (tmp_path / "run.toml").write_text("task = 'dates'\nhiden = 3\n")
    code, out, err = run("train", "--config", tmp_path / "run.toml")
    _assert_one_line_error(code, out, err, "run.toml: unknown key 'hiden'; valid keys: data, task")
    assert "hidden" in err and "learning_rate" in err


def test_config_value_of_wrong_type(tmp_path):
    (tmp_path / "run.toml").write_text("task = 'dates'\nepochs = 'ten'\n")
    code, out, err = run("train", "--config", tmp_path / "run.toml")
    _assert_one_line_error(code, out, err, "run.toml: invalid value for `epochs`")


def test_data_and_task_together_or_neither(tmp_path):
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    code, out, err = run("train", tmp_path / "pairs.tsv", "--task", "dates")
    _assert_one_line_error(code, out, err, "not both")
    code, out, err = run("train")
    _assert_one_line_error(code, out, err, "give a DATA file or --task NAME")


def test_relative_is_for_real_values(tmp_path):
    (tmp_path / "pairs.tsv").write_text("".join(f"a{i}\tb{i}\n" for i in range(10)))
    code, out, err = run("train", tmp_path / "pairs.tsv", "--relative")
    _assert_one_line_error(code, out, err, "--relative applies to real-valued data")


def test_too_small_file_to_split(tmp_path):
    (tmp_path / "pairs.tsv").write_text("a\tb\nc\td\n")
    code, out, err = run("train", tmp_path / "pairs.tsv")
    _assert_one_line_error(code, out, err, "pairs.tsv: only 2 examples")


@backend_independent
def test_python_dash_m_reports_a_bad_file(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"source,target\nabc,\n")
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    result = subprocess.run(
        [sys.executable, "-m", "seq2seq", "train", str(tmp_path / "bad.csv"), "--skip-header"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    # On the TensorFlow backend, TensorFlow's own start-up log comes first (import seq2seq).
    lines = [line for line in result.stderr.splitlines() if not TF_LOG.match(line)]
    assert lines == [
        f"seq2seq train: error: {tmp_path / 'bad.csv'}, line 2: empty target (column 1)"
    ]
