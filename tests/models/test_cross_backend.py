"""A model saved on this backend loads and predicts the same on another one.

Six models (three classes, token and real-valued) are trained for twenty small
steps here, so that greedy decoding emits varied tokens with clear margins, and
saved; a fresh process on the next backend of the cycle JAX -> TensorFlow -> PyTorch -> JAX
(`cross_backend_predict.py`) loads them with `seq2seq.models.load_model` and writes
its predictions: token ids must be identical (and their log-probabilities within 1e-5),
real values within 1e-5. One
model is also loaded compiled and trained one step further, with the same loss: the
saved `jit_compile` (XLA on JAX) must not follow it to TensorFlow, where XLA cannot
differentiate the decoder's loop. Each backend's suite runs this test, so every backend
saves once and loads once (the `.keras` file is the same whichever backend wrote it; the
JAX to TensorFlow direction is the one that carries `jit_compile`).
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

NEXT = {"jax": "tensorflow", "tensorflow": "torch", "torch": "jax"}
SCRIPT = Path(__file__).with_name("cross_backend_predict.py")
CLASSES = {"simple": SimpleSeq2Seq, "seq2seq": Seq2Seq, "attention": AttentionSeq2Seq}
NAMES = [f"{label}_{kind}" for kind in ("token", "real") for label in CLASSES]
SOURCES = ["abc", "hello", "dog", "keras"]
TARGETS = ["cba", "olleh", "god", "sarek"]
BATCH, LENGTH, FEATURES, OUT_LENGTH, OUT_FEATURES, HIDDEN = 4, 5, 3, 4, 2, 8
EPOCHS = 10  # of two steps each
FIT = "attention_token"  # also loaded compiled (`compile=True`) and trained one step further


def _token_model(cls):
    source, target = Vocabulary.build(SOURCES), Vocabulary.build(TARGETS)
    x, y = source.encode(SOURCES), target.encode(TARGETS)
    model = cls(
        input_vocab_size=len(source),
        output_vocab_size=len(target),
        embedding_dim=4,
        hidden_dim=HIDDEN,
        input_length=None,
        output_length=y.shape[1],
        source_vocabulary=source,
        target_vocabulary=target,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    return model, x, y


def _real_model(cls):
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, LENGTH, FEATURES)).astype("float32")
    y = rng.random((BATCH, OUT_LENGTH, OUT_FEATURES)).astype("float32")
    model = cls(
        input_dim=FEATURES,
        input_length=LENGTH,
        hidden_dim=HIDDEN,
        output_length=OUT_LENGTH,
        output_dim=OUT_FEATURES,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model, x, y


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Trains and saves the six models; returns `(folder, inputs, this backend's outputs)`."""
    folder = tmp_path_factory.mktemp("cross_backend")
    inputs, expected = {}, {}
    for kind, make in (("token", _token_model), ("real", _real_model)):
        for label, cls in CLASSES.items():
            name = f"{label}_{kind}"
            model, x, y = make(cls)
            model.fit(x, y, batch_size=2, epochs=EPOCHS, verbose=0, shuffle=False)
            model.save(folder / f"{name}.keras")
            inputs[name] = x
            if kind == "token":
                generated = model.generate(x)
                expected[name] = generated["ids"]
                expected[f"{name}_log_probs"] = generated["log_probs"]
                assert (generated["ids"] > 2).any(), f"{name} emits only reserved ids"
                if name == FIT:
                    inputs[f"{name}_y"] = y
                    expected[f"{name}_iterations"] = np.array(2 * EPOCHS)
                    history = model.fit(x, y, batch_size=len(x), verbose=0)
                    expected[f"{name}_fit_loss"] = np.array(history.history["loss"][0])
            else:
                expected[name] = model.predict(x, verbose=0)
    np.savez(folder / "inputs.npz", **inputs)
    return folder, inputs, expected


@pytest.mark.parametrize("other", [NEXT[keras.backend.backend()]])
def test_saved_here_predicts_the_same_on(other, saved, tmp_path):
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"the {other} backend is not installed")
    folder, inputs, expected = saved
    out = tmp_path / f"{other}.npz"
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), str(out), *NAMES],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as loaded:
        assert str(loaded["backend"]) == other
        for name, ours in expected.items():
            theirs = loaded[name]
            if name.endswith("_token"):  # ids
                np.testing.assert_array_equal(theirs, ours, err_msg=name)
            else:
                np.testing.assert_allclose(theirs, ours, atol=1e-5, rtol=0, err_msg=name)
