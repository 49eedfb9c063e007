"""Running exported graphs: ONNX files in onnxruntime, SavedModel signatures in TensorFlow."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

# The export traces on TensorFlow; on other backends `export_generation` runs the same
# code in a child process, so running these tests there would only repeat them slower.
ONLY_TENSORFLOW = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the export traces on TensorFlow (other backends export through a TensorFlow "
    "child process); these tests run on the TensorFlow backend only",
)


def run_onnx(folder: str, graph: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of `folder/graph.onnx` for input `x`, by name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(os.path.join(folder, f"{graph}.onnx"))
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {"x": x})))


def run_saved_model(folder: str, graph: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of signature `graph` of the SavedModel in `folder` for input `x`, by name."""
    import tensorflow as tf

    signature = tf.saved_model.load(folder).signatures[graph]
    return {name: value.numpy() for name, value in signature(x=tf.constant(x)).items()}


RUNNERS = {"onnx": run_onnx, "saved_model": run_saved_model}
