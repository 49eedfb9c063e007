"""The TensorFlow fused LSTM (`fused.tf_rnn`: `BlockLSTMV2`) agrees with the
`keras.ops` fallback, and what it declines falls back."""

import keras
import numpy as np
import pytest

from seq2seq.layers import Recurrent, fused
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() != "tensorflow":
    pytest.skip("the TensorFlow fused LSTM is TensorFlow-only", allow_module_level=True)

import tensorflow as tf  # noqa: E402

from seq2seq.layers.fused import tf_rnn  # noqa: E402

BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 5


@pytest.fixture
def fast_path_calls(monkeypatch):
    """Counts the calls of `tf_rnn.lstm` that ran (did not decline)."""
    calls = []
    lstm = tf_rnn.lstm

    def counted(*args, **kwargs):
        result = lstm(*args, **kwargs)
        calls.append(1)
        return result

    monkeypatch.setattr(tf_rnn, "lstm", counted)
    return calls


def _layer(**options):
    rng = np.random.default_rng(0)
    layer = Recurrent(UNITS, return_sequences=True, **options)
    layer.build((None, TIME, FEATURES))
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    return layer


def _run(layer, x, initial_state, enabled, monkeypatch):
    """Outputs, final states and gradients (inputs, states, weights) of a fixed loss."""
    monkeypatch.setattr(fused, "ENABLED", enabled)
    x = tf.constant(x)
    states = [tf.constant(s) for s in initial_state]
    with tf.GradientTape() as tape:
        tape.watch([x, *states])
        outputs, final = layer(x, initial_state=states)
        scale = tf.reshape(tf.linspace(0.5, 1.5, tf.size(outputs)), outputs.shape)
        loss = tf.reduce_sum(outputs * scale) + sum(
            tf.reduce_sum(s * (i + 2)) for i, s in enumerate(final)
        )
    weights = [w.value for w in layer.trainable_weights]
    grads = tape.gradient(loss, [x, *states, *weights])
    return [t.numpy() for t in [outputs, *final, *grads]]


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_fast_path_matches_fallback(go_backwards, monkeypatch, fast_path_calls):
    rng = np.random.default_rng(1)
    layer = _layer(go_backwards=go_backwards)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    states = [rng.normal(scale=0.5, size=(BATCH, UNITS)).astype("float32") for _ in range(2)]
    fast = _run(layer, x, states, True, monkeypatch)
    assert len(fast_path_calls) == 1
    fallback = _run(layer, x, states, False, monkeypatch)
    assert len(fast_path_calls) == 1
    assert len(fast) == len(fallback) == 1 + 2 + 1 + 2 + 3
    for a, b in zip(fast, fallback):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_declines_masks_gru_mixed_precision_unroll_and_projected_inputs():
    x = tf.zeros((2, 3, FEATURES))
    layers = [
        Recurrent(UNITS, cell="gru"),
        Recurrent(UNITS, dtype="mixed_bfloat16"),
        Recurrent(UNITS, unroll=True),
    ]
    for layer in layers:
        layer.build((None, 3, FEATURES))
        with pytest.raises(NotImplementedError):
            layer.run_fused(x, layer.get_initial_state(2))
    layer = Recurrent(UNITS)
    layer.build((None, 3, FEATURES))
    with pytest.raises(NotImplementedError):
        layer.run_fused(
            x, layer.get_initial_state(2), tf.constant([[True, True, True], [True, True, False]])
        )
    projected = layer.cell.project(tf.zeros((3, 2, FEATURES)))
    with pytest.raises(NotImplementedError):
        layer.run_fused(projected, layer.get_initial_state(2), projected=True)
    assert not fused.runs_projected("lstm", "float32")


def test_a_declined_layer_falls_back_to_the_same_numbers(monkeypatch):
    """A GRU (no fused op here) runs its `keras.ops` loop, masked or not."""
    layer = Recurrent(UNITS, cell="gru", return_sequences=True)
    x = np.ones((2, 3, FEATURES), "float32")
    outputs, _ = layer(x)
    assert tuple(outputs.shape) == (2, 3, UNITS)
    monkeypatch.setattr(fused, "ENABLED", False)
    np.testing.assert_array_equal(layer(x)[0].numpy(), outputs.numpy())


@pytest.mark.parametrize(
    "cls", [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq], ids=lambda cls: cls.__name__
)
def test_model_trains_one_step_alike_on_both_paths(cls, monkeypatch, fast_path_calls):
    """Real-valued models (no padding mask): every encoder LSTM and the fused decoders."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, 3)).astype("float32")
    y = rng.normal(size=(8, 5, 2)).astype("float32")

    def train(enabled, weights=None):
        monkeypatch.setattr(fused, "ENABLED", enabled)
        keras.utils.set_random_seed(1)
        kwargs = {"bidirectional": True} if cls is AttentionSeq2Seq else {}
        model = cls(
            input_dim=3, output_dim=2, input_length=6, output_length=5, hidden_dim=8, **kwargs
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        model(x[:1])
        if weights is not None:
            model.set_weights(weights)
        before = model.get_weights()
        loss = model.train_on_batch(x, y)
        return before, loss, model.get_weights()

    before, fast_loss, fast_weights = train(True)
    calls = len(fast_path_calls)
    assert calls > 0
    _, loss, weights = train(False, before)
    assert len(fast_path_calls) == calls
    np.testing.assert_allclose(fast_loss, loss, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_weights, weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert any(not np.array_equal(a, start) for a, start in zip(fast_weights, before))


def test_declines_inside_xla_where_the_layer_runs_its_loop(fast_path_calls):
    """The op has no XLA kernel: under `jit_compile=True` the layer loops, same numbers."""
    layer = _layer()
    x = tf.constant(np.random.default_rng(2).normal(size=(2, TIME, FEATURES)), tf.float32)
    eager = layer(x)[0].numpy()
    assert len(fast_path_calls) == 1
    compiled = tf.function(lambda x: layer(x)[0], jit_compile=True)(x).numpy()
    assert len(fast_path_calls) == 1
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
