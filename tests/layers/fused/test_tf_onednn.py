"""oneDNN's recurrences on the TensorFlow backend (`fused.tf_onednn`) compute what
`tf_rnn`'s loops compute, and run only where they apply."""

import keras
import numpy as np
import pytest

from seq2seq.models import Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() != "tensorflow":
    pytest.skip("TensorFlow's path to oneDNN", allow_module_level=True)

import tensorflow as tf  # noqa: E402

from seq2seq.layers.fused import tf_onednn  # noqa: E402
from seq2seq.native import onednn  # noqa: E402
from tests.helpers import count_runs, random_recurrent, tf_recurrent_results  # noqa: E402

if onednn.onednn_library() is None:
    pytest.skip("the oneDNN kernels are not loaded here", allow_module_level=True)

BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 5


@pytest.fixture
def onednn_calls(monkeypatch):
    """Counts the recurrences that ran on oneDNN."""
    return count_runs(monkeypatch, tf_onednn, "sequence")


def _without_onednn(monkeypatch):
    monkeypatch.setattr(tf_onednn, "applies", lambda *args: False)


def _layer(cell, go_backwards):
    return random_recurrent(cell, go_backwards, BATCH, TIME, FEATURES, UNITS)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.function"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrence_equals_the_loop(cell, go_backwards, graph, monkeypatch, onednn_calls):
    """Outputs, final states and every gradient; the loop is `tf_rnn`'s own for the LSTM
    and the layer's `keras.ops` loop for the GRU."""
    layer, x, states = _layer(cell, go_backwards)
    fast = tf_recurrent_results(layer, x, states, graph=graph)
    assert len(onednn_calls) == 1
    _without_onednn(monkeypatch)
    loop = tf_recurrent_results(layer, x, states, graph=graph)
    assert len(onednn_calls) == 1
    # outputs, the states, the gradients of x, of the states and of the weights (the
    # GRU's two biases)
    states_count = 2 if cell == "lstm" else 1
    assert len(fast) == 1 + 2 * states_count + 1 + (3 if cell == "lstm" else 4)
    for a, b in zip(fast, loop):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_lengths_unknown_when_traced(onednn_calls):
    """A `tf.function` traced for any batch and length (the command line's buckets) runs
    batches of two lengths."""
    layer, x, states = _layer("lstm", False)

    @tf.function(input_signature=[tf.TensorSpec((None, None, FEATURES))])
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, _ = layer(x)
            loss = tf.reduce_sum(outputs * outputs)
        return outputs, tape.gradient(loss, x)

    for steps in (TIME, 2):
        outputs, d_x = gradient(tf.constant(x[:, :steps]))
        assert outputs.shape == (BATCH, steps, UNITS) and d_x.shape == (BATCH, steps, FEATURES)
        assert np.abs(d_x.numpy()).sum() > 0
    assert onednn_calls
    first, _ = gradient(tf.constant(x[:, :2]))
    expected, _ = layer(tf.constant(x[:, :2]))  # no tape: the loop
    np.testing.assert_allclose(first.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_runs_the_loop_without_a_tape_and_with_a_mask(cell, onednn_calls):
    layer, x, states = _layer(cell, False)
    layer(x, initial_state=states)  # inference: no tape recording
    mask = tf.constant(np.arange(TIME)[None, :] < np.array([[6], [5], [3], [1]]))
    tf_recurrent_results(layer, x, states, mask=mask)
    assert not onednn_calls


def test_a_model_compiled_by_xla_trains_on_the_loop(onednn_calls):
    """XLA cannot compile a NumPy function: `jit_compile=True` keeps the loop."""
    rng = np.random.default_rng(0)
    model = Seq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2)
    inputs = rng.standard_normal((6, 5, 3)).astype("float32")
    model.predict(inputs, verbose=0)
    weights = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=True)
    model.train_on_batch(inputs, rng.standard_normal((6, 4, 2)).astype("float32"))
    assert any(not np.allclose(a, b) for a, b in zip(model.get_weights(), weights))
    assert not onednn_calls


@pytest.mark.parametrize(
    "build",
    [
        lambda: SimpleSeq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2),
        lambda: Seq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2, depth=2),
        lambda: Seq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2, cell="gru"),
    ],
    ids=["simple", "seq2seq", "seq2seq-gru"],
)
def test_models_train_one_step_as_on_the_loop(build, monkeypatch, onednn_calls):
    """`fit`'s training step (a `tf.function`): the same loss and new weights."""
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = build()
    inputs = rng.standard_normal((6, 5, 3)).astype("float32")
    targets = rng.standard_normal((6, 4, 2)).astype("float32")
    model.predict(inputs, verbose=0)
    weights = model.get_weights()
    results = []
    for enabled in (True, False):
        if not enabled:
            _without_onednn(monkeypatch)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        results.append((model.train_on_batch(inputs, targets), model.get_weights()))
        if enabled:
            assert onednn_calls  # the encoder ran on oneDNN
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(results[0][1], weights))
