"""`seq2seq.models.load_model`: safe mode, files that carry code refused before Keras reads them."""

import os

import keras
import numpy as np
import pytest
from unsafe_models import (
    EDITS,
    garbage,
    lambda_entry,
    read_config,
    rewrite_config,
    save_dense_model,
    save_lambda_model,
    save_text_model,
    truncate,
)

from seq2seq.models import AttentionSeq2Seq, load_model
from seq2seq.models.loading import find_code

CODE = r": refused to load: the file carries code \({}\); loading it could run that code$"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny trained token model saved once: `(path, x, greedy ids)`."""
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model, x = save_text_model(path)
    return path, x, model.generate(x)["ids"]


@pytest.fixture
def no_keras_load(monkeypatch):
    """Fails the test if `keras.saving.load_model` is called at all."""

    def refuse(*args, **kwargs):
        raise AssertionError("keras.saving.load_model was called")

    monkeypatch.setattr(keras.saving, "load_model", refuse)


def test_loads_a_seq2seq_model(saved):
    path, x, ids = saved
    model = load_model(path)
    assert type(model) is AttentionSeq2Seq
    assert not model.compiled
    np.testing.assert_array_equal(model.generate(x)["ids"], ids)
    assert load_model(os.fspath(path), compile=True).compiled


def test_uses_safe_mode(saved, monkeypatch):
    calls = []
    real = keras.saving.load_model

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(keras.saving, "load_model", spy)
    load_model(saved[0])
    assert calls == [{"compile": False, "safe_mode": True}]


def test_real_configs_carry_no_code(saved):
    assert find_code(read_config(saved[0])) is None


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope.keras: file not found$"):
        load_model(tmp_path / "nope.keras")


def test_lambda_layer_is_refused_and_never_runs(tmp_path, no_keras_load):
    marker = tmp_path / "ran"
    save_lambda_model(tmp_path / "lambda.keras", marker)
    found = r"a `Lambda` layer at `config.layers\[1\]`"
    with pytest.raises(ValueError, match="lambda.keras" + CODE.format(found)):
        load_model(tmp_path / "lambda.keras")
    assert not marker.exists()


def test_marker_would_show_code_that_ran(tmp_path):
    """The control: loading the same file unsafely does run the lambda."""
    marker = tmp_path / "ran"
    save_lambda_model(tmp_path / "lambda.keras", marker)
    assert not marker.exists()
    keras.saving.load_model(tmp_path / "lambda.keras", safe_mode=False)
    assert marker.exists()


@pytest.mark.parametrize("case", sorted(EDITS))
def test_rewritten_seq2seq_config_is_refused(case, saved, tmp_path, no_keras_load):
    edit, found = EDITS[case]
    marker = tmp_path / "ran"
    rewrite_config(saved[0], tmp_path / "edited.keras", edit(marker))
    with pytest.raises(ValueError) as info:
        load_model(tmp_path / "edited.keras")
    message = str(info.value)
    assert message == (
        f"{tmp_path / 'edited.keras'}: refused to load: the file carries code ({found}); "
        "loading it could run that code"
    )
    assert len(message.splitlines()) == 1
    assert not marker.exists()


def test_lambda_deep_inside_a_list_is_found():
    config = {"config": {"layers": [{"class_name": "Dense"}, {"a": [1, lambda_entry("m")]}]}}
    assert find_code(config) == "a Python lambda (`__lambda__`) at `config.layers[1].a[1]`"


def test_truncated_archive(saved, tmp_path):
    truncate(saved[0], tmp_path / "half.keras")
    message = r"half.keras: cannot load the model \(truncated or damaged zip archive; expected a `.keras` file\)$"
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "half.keras")


def test_garbage_bytes(tmp_path):
    garbage(tmp_path / "noise.keras")
    message = r"noise.keras: cannot load the model \(not a zip archive; expected a `.keras` file\)$"
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "noise.keras")


def test_model_of_another_kind(tmp_path):
    save_dense_model(tmp_path / "dense.keras")
    message = (
        r"dense.keras: expected a seq2seq model \(SimpleSeq2Seq, Seq2Seq or AttentionSeq2Seq\), "
        r"received a Sequential$"
    )
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "dense.keras")


def test_not_a_keras_file(saved, tmp_path):
    (tmp_path / "model.h5").write_bytes(saved[0].read_bytes())
    message = (
        r"model.h5: cannot load the model \(expected a `.keras` file, received a `.h5` file\)$"
    )
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "model.h5")
    with pytest.raises(ValueError, match=r"received a folder\)$"):
        load_model(tmp_path)


def test_archive_without_config(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(
        ValueError, match=r"empty.keras: cannot load the model \(the archive has no config.json\)$"
    ):
        load_model(tmp_path / "empty.keras")


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_keras_failure_after_the_checks_is_one_line(saved, tmp_path):
    def break_weights(config):
        config["config"]["hidden_dim"] = 5  # the weights no longer fit

    rewrite_config(saved[0], tmp_path / "mismatch.keras", break_weights)
    with pytest.raises(ValueError, match=r"mismatch.keras: cannot load the model \(") as info:
        load_model(tmp_path / "mismatch.keras")
    assert len(str(info.value).splitlines()) == 1
