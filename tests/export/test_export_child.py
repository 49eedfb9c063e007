"""`export_generation` on JAX or PyTorch: a TensorFlow child process exports the model."""

import os

import keras
import numpy as np
import pytest

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.export import export_generation
from seq2seq.models import Seq2Seq
from tests.export.export_helpers import RUNNERS
from tests.export.test_export_generation import OUTPUT_LENGTH, VOCAB, token_inputs

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")


@pytest.mark.slow
def test_export_from_another_backend_runs_a_tensorflow_child(tmp_path):
    """Under JAX or PyTorch the model goes to a TensorFlow child process through a `.keras` file."""
    if keras.backend.backend() == "tensorflow":
        pytest.skip("the child process is for the other backends")
    vocabulary = Vocabulary(list("abcdefgh"))  # VOCAB symbols: the model's file holds it
    model = Seq2Seq(
        input_vocab_size=VOCAB, output_vocab_size=VOCAB, input_length=None,
        output_length=OUTPUT_LENGTH, hidden_dim=16, seed=4,
        source_vocabulary=vocabulary, target_vocabulary=vocabulary,
    )  # fmt: skip
    written = export_generation(model, tmp_path, format="onnx", beam_width=2)
    assert os.fspath(tmp_path / "greedy.onnx") in written
    for x in token_inputs():
        out = RUNNERS["onnx"](os.fspath(tmp_path), "greedy", x)
        np.testing.assert_array_equal(out["ids"], model.generate(x)["ids"])
