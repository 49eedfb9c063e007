"""TensorFlow's loop (`fused.tf_rnn.scan`) computes what `keras.ops.scan` computes, and
XLA differentiates it: a TensorFlow model compiled with `jit_compile=True` trains."""

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.layers import Recurrent, fused
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() != "tensorflow":
    pytest.skip("the TensorFlow loop is TensorFlow-only", allow_module_level=True)

import tensorflow as tf  # noqa: E402

from seq2seq.layers.fused import tf_onednn, tf_rnn  # noqa: E402
from tests.helpers import count_runs, random_recurrent, tf_recurrent_results  # noqa: E402


@pytest.fixture(autouse=True)
def loops_only(monkeypatch):
    """These tests are about `tf_rnn`'s own loops: oneDNN's path (`tf_onednn`, tested on
    its own) is off."""
    monkeypatch.setattr(tf_onednn, "applies", lambda *args: False)


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


BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 5


@pytest.fixture
def fast_path_calls(monkeypatch):
    """Counts the calls of `tf_rnn.lstm` that ran (did not decline)."""
    return count_runs(monkeypatch, tf_rnn, "lstm")


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "padded"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_lstm_matches_the_step_loop(go_backwards, masked, monkeypatch, fast_path_calls):
    """`tf_rnn.lstm` (the kernel's gradient after the loop, `dh` through the kernel's
    transpose taken once) gives the step loop's outputs, final states and gradients."""
    layer, x, states = random_recurrent("lstm", go_backwards, BATCH, TIME, FEATURES, UNITS)
    mask = None
    if masked:  # right padding, a hole and left padding: the loop masks any step
        mask = (
            tf.constant(
                [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]
            )
            > 0
        )
    fast = tf_recurrent_results(layer, x, states, mask)
    assert len(fast_path_calls) == 1
    monkeypatch.setattr(fused, "ENABLED", False)
    fallback = tf_recurrent_results(layer, x, states, mask)
    assert len(fast_path_calls) == 1
    assert len(fast) == 2 + 2 + 2 + 3
    for a, b in zip(fast, fallback):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    if masked:  # padded steps output zeros
        assert not fast[0][1, 4:].any() and not fast[0][2, 1].any()


def test_lstm_over_one_projected_input_repeated():
    """`length`: one step's projected input fed at every step, as `Recurrent.repeat`."""
    rng = np.random.default_rng(1)
    projected = tf.constant(rng.normal(size=(BATCH, 4 * UNITS)).astype("float32"))
    kernel = tf.constant(rng.normal(scale=0.5, size=(UNITS, 4 * UNITS)).astype("float32"))
    zeros = tf.zeros((BATCH, UNITS))
    final, outputs = tf_rnn.lstm(projected, [zeros, zeros], kernel, length=3)
    repeated = tf.repeat(projected[None], 3, axis=0)
    expected_final, expected = tf_rnn.lstm(repeated, [zeros, zeros], kernel)
    assert tuple(outputs.shape) == (3, BATCH, UNITS)
    np.testing.assert_allclose(outputs.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(final[1].numpy(), expected_final[1].numpy(), rtol=1e-6)
    # Each step is the cell's own maths.
    i, f, g, o = np.split(projected.numpy(), 4, axis=-1)
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c = sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(outputs[0].numpy(), sigmoid(o) * np.tanh(c), rtol=1e-5)


def test_lstm_declines_other_dtypes():
    h = tf.zeros((2, UNITS), tf.bfloat16)
    with pytest.raises(NotImplementedError):
        tf_rnn.lstm(
            tf.zeros((3, 2, 4 * UNITS), tf.bfloat16),
            [h, h],
            tf.zeros((UNITS, 4 * UNITS), tf.bfloat16),
        )
    assert tf_rnn.runs_projected("lstm", "float32")
    assert not tf_rnn.runs_projected("lstm", "bfloat16")
    assert not tf_rnn.runs_projected("gru", "float32")


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_lstm_without_a_tape_computes_the_same(go_backwards, fast_path_calls):
    """Inference (no tape recording, as in an exported graph) runs the plain loop."""
    rng = np.random.default_rng(2)
    layer = Recurrent(UNITS, return_sequences=True, go_backwards=go_backwards)
    x = tf.constant(rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32"))
    mask = tf.constant([[True] * TIME, [True] * 4 + [False] * 2] * 2)
    inference, (h, c) = layer(x, mask=mask)
    with tf.GradientTape():
        recorded, (recorded_h, recorded_c) = layer(x, mask=mask)
    assert len(fast_path_calls) == 2
    for a, b in [(inference, recorded), (h, recorded_h), (c, recorded_c)]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    assert not inference.numpy()[1, 4:].any()


@pytest.mark.parametrize("source", ["variable", "tensor"])
def test_matmul_in_a_loop_transposes_its_kernel_once(source, monkeypatch):
    """`fused.matmul` inside a loop's step, on a kernel from outside the loop (a variable
    read in the step, or a tensor captured): the same values and gradients as
    `keras.ops.matmul`, with the kernel's transpose taken outside the loop."""
    rng = np.random.default_rng(3)
    variable = tf.Variable(rng.normal(scale=0.5, size=(UNITS, UNITS)).astype("float32"))
    xs = tf.constant(rng.normal(size=(TIME, BATCH, UNITS)).astype("float32"))

    def run(enabled):
        monkeypatch.setattr(fused, "ENABLED", enabled)

        @tf.function
        def gradients(xs):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                kernel = variable * 1.0 if source == "tensor" else None

                def step(h, x):
                    b = kernel if kernel is not None else variable
                    h = tf.tanh(fused.matmul(h, ops.convert_to_tensor(b), "float32") + x)
                    return h, h

                _, hs = fused.scan(step, tf.zeros((BATCH, UNITS)), xs)
                loss = tf.reduce_sum(hs * hs)
            return loss, tape.gradient(loss, [xs, variable])

        concrete = gradients.get_concrete_function(xs)
        return gradients(xs), concrete

    (fast_loss, fast_grads), concrete = run(True)
    (loss, grads), plain = run(False)
    np.testing.assert_allclose(fast_loss.numpy(), loss.numpy(), rtol=1e-6)
    for a, b in zip(fast_grads, grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

    def transposes(function):
        graph = function.graph.as_graph_def()
        inside = sum(
            node.op == "Transpose"
            for f in graph.library.function
            if "while_body" in f.signature.name
            for node in f.node_def
        )
        outside = sum(node.op == "Transpose" for node in graph.node)
        return inside, outside

    assert transposes(concrete) == (0, 1)
    assert transposes(plain)[1] == 0


def test_matmul_declines_outside_a_loop():
    a, b = tf.ones((2, 3)), tf.ones((3, 4))
    with pytest.raises(NotImplementedError):  # eager
        tf_rnn.matmul(a, b)

    @tf.function
    def outside(a, b):
        with tf.GradientTape():
            return tf_rnn.matmul(a, b)

    with pytest.raises(NotImplementedError):
        outside(a, b)
