"""`import seq2seq` picks JAX unless the user chose a backend (KERAS_BACKEND or keras.json)."""

import json
import os
import subprocess
import sys

import pytest

from seq2seq.backend import KERAS_WRITTEN_DEFAULT, choose_default_backend, configured_backend


def test_import_picks_jax_without_a_configured_backend(tmp_path):
    """A fresh interpreter, a HOME and KERAS_HOME with no keras.json, no KERAS_BACKEND."""
    keras_home = tmp_path / ".keras"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(HOME=str(tmp_path), KERAS_HOME=str(keras_home))
    code = "import seq2seq, keras, os; print(keras.backend.backend(), os.environ['KERAS_BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["jax", "jax"]
    # Whatever Keras wrote to keras.json on that first import is not a user's choice.
    written = keras_home / "keras.json"
    if written.exists():
        assert configured_backend(str(keras_home)) is None


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    (tmp_path / "keras_home").mkdir()
    return tmp_path / "keras_home" / "keras.json"


def test_no_config_means_jax(clean_env):
    assert configured_backend() is None
    assert choose_default_backend() == "jax"
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_keras_backend_variable_wins(clean_env, monkeypatch):
    clean_env.write_text(json.dumps({**KERAS_WRITTEN_DEFAULT, "backend": "jax"}))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert choose_default_backend() == "torch"


@pytest.mark.parametrize(
    "content, expected",
    [
        ({**KERAS_WRITTEN_DEFAULT, "backend": "torch"}, "torch"),
        ({"backend": "tensorflow"}, "tensorflow"),  # not Keras' own default file: a choice
        (KERAS_WRITTEN_DEFAULT, "jax"),  # written by Keras itself, not a choice
        ({"floatx": "float32"}, "jax"),
        (["backend", "torch"], "jax"),
        ("{not json", "jax"),
    ],
)
def test_keras_json(clean_env, content, expected):
    clean_env.write_text(content if isinstance(content, str) else json.dumps(content))
    assert choose_default_backend() == expected
    assert os.environ["KERAS_BACKEND"] == expected


def test_keras_home_argument(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    assert configured_backend(str(tmp_path)) == "torch"
    assert configured_backend(str(tmp_path / "missing")) is None
