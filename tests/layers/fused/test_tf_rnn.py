"""TensorFlow's loop (`fused.tf_rnn.scan`) computes what `keras.ops.scan` computes, and
XLA differentiates it: a TensorFlow model compiled with `jit_compile=True` trains."""

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.layers import fused
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() != "tensorflow":
    pytest.skip("the TensorFlow loop is TensorFlow-only", allow_module_level=True)

import tensorflow as tf  # noqa: E402

from seq2seq.layers.fused import tf_rnn  # noqa: E402


def step(carry, x):
    total, count = carry
    new = (total + x * 2.0, count + 1.0)
    return new, (new[0] * new[1], new[1])


@pytest.mark.parametrize("reverse", [False, True])
def test_matches_keras_scan(reverse):
    xs = np.arange(12, dtype="float32").reshape(4, 3)
    init = (np.zeros((3,), "float32"), np.zeros((), "float32"))
    expected = ops.scan(step, init, xs, reverse=reverse)
    got = tf_rnn.scan(step, init, xs, reverse=reverse)
    for part in (0, 1):  # the final carry, the stacked outputs
        for e, g in zip(expected[part], got[part]):
            np.testing.assert_allclose(ops.convert_to_numpy(g), ops.convert_to_numpy(e))
    # Outputs keep the inputs' order: a reverse scan's last output is its first step's,
    # 2 * 11 times a count of 1; a forward scan's, 2 * (2 + 5 + 8 + 11) times 4.
    assert float(ops.convert_to_numpy(got[1][0])[-1, 2]) == (22.0 if reverse else 208.0)


def test_length_without_inputs():
    def count(carry, _):
        return carry + 1.0, carry

    carry, ys = tf_rnn.scan(count, np.zeros((), "float32"), length=3)
    assert float(carry) == 3.0
    np.testing.assert_allclose(ops.convert_to_numpy(ys), [0.0, 1.0, 2.0])


def test_xla_differentiates_it():
    """The gradient of `sum(prod)` over a running product, inside `jit_compile=True`."""
    xs = tf.constant([[1.5], [2.0], [0.5]])

    @tf.function(jit_compile=True)
    def gradient(xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            _, ys = fused.scan(lambda c, x: (c * x, c * x), tf.ones((1,)), xs)
            total = tf.reduce_sum(ys)
        return tape.gradient(total, xs)

    # ys = x0, x0 x1, x0 x1 x2; d/dx0 = 1 + x1 + x1 x2, d/dx1 = x0 + x0 x2, d/dx2 = x0 x1.
    np.testing.assert_allclose(
        gradient(xs).numpy()[:, 0], [1 + 2.0 + 1.0, 1.5 + 0.75, 3.0], rtol=1e-6
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: SimpleSeq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2),
        lambda: Seq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2, depth=2),
        lambda: AttentionSeq2Seq(
            input_vocab_size=9, output_vocab_size=7, hidden_dim=8, output_length=4
        ),
    ],
    ids=["simple", "seq2seq", "attention-tokens"],
)
def test_models_train_xla_compiled_as_without_xla(build):
    """One step with XLA (`jit_compile=True`) and one without (the default on TensorFlow),
    from the same weights, give the same loss and the same new weights."""
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = build()
    if model.token_mode:
        x = rng.integers(3, 9, (6, 5))
        y = rng.integers(3, 7, (6, 4))
        inputs, targets = (x, y), y
    else:
        inputs = rng.standard_normal((6, 5, 3)).astype("float32")
        targets = rng.standard_normal((6, 4, 2)).astype("float32")
    model.predict(inputs, verbose=0)
    weights = model.get_weights()
    results = {}
    for xla in (True, False):
        model.set_weights(weights)
        loss = None if model.token_mode else "mse"
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss, jit_compile=xla)
        results[xla] = (model.train_on_batch(inputs, targets), model.get_weights())
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-5)
    for a, b in zip(results[True][1], results[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(results[True][1], weights))
