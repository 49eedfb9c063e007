"""`onnx_friendly_scan` computes what `keras.ops.scan` computes."""

import numpy as np
import pytest
from keras import ops

from seq2seq.export.onnx_scan import onnx_friendly_scan, onnx_tracing
from tests.export.export_helpers import ONLY_TENSORFLOW

pytestmark = ONLY_TENSORFLOW


def step(carry, x):
    total, count = carry
    new = (total + x * 2.0, count + 1.0)
    return new, new  # Keras' TensorFlow scan needs outputs shaped as the carry


@pytest.mark.parametrize("reverse", [False, True])
def test_matches_keras_scan(reverse):
    xs = np.arange(12, dtype="float32").reshape(4, 3)
    init = (np.zeros((3,), "float32"), np.zeros((), "float32"))
    expected = ops.scan(step, init, xs, reverse=reverse)
    got = onnx_friendly_scan(step, init, xs, reverse=reverse)
    for part in (0, 1):  # the final carry, the stacked outputs
        for e, g in zip(expected[part], got[part]):
            np.testing.assert_allclose(ops.convert_to_numpy(g), ops.convert_to_numpy(e))


def test_length_without_inputs_and_the_swap_is_undone():
    def count(carry, _):
        return carry + 1.0, carry

    with onnx_tracing():
        carry, ys = ops.scan(count, np.zeros((), "float32"), length=3)
    assert float(carry) == 3.0
    np.testing.assert_allclose(ops.convert_to_numpy(ys), [0.0, 1.0, 2.0])
    from keras.src.backend.tensorflow import core

    assert core.scan is not onnx_friendly_scan
