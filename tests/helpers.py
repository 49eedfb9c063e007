"""Shared checks for the layer and model tests, in the spirit of keras-hub's `TestCase`.

`run_model_test` builds nothing itself: it takes a constructed model and checks the
output shape, the parameter count, one `fit` step, `get_config` → `from_config` and a
`.keras` save → load round trip with identical predictions. `run_layer_test` does the
same for a layer (no fit). Keep the sizes tiny: every check compiles a function.
"""

import os

import keras
import numpy as np
import pytest

from seq2seq.models import load_model

ATOL = 1e-5

# Command-line and data logic that is the same on every backend (task pipelines, recipes,
# reports, streaming, length buckets, time budgets) runs on JAX only, the command's default:
# each such test trains a model, and training itself is tested on every backend by the
# model, decoding and training tests and by tests/cli/test_end_to_end.py's TSV and .npz
# runs.
backend_independent = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="backend-independent command-line logic, tested on JAX (the command's default)",
)


def to_numpy(value):
    """A backend tensor or variable (or a nested list/dict of them) as NumPy arrays."""

    def convert(item):
        if item is None:
            return None
        if isinstance(item, keras.Variable):
            item = item.value
        return keras.ops.convert_to_numpy(item)

    return keras.tree.map_structure(convert, value)


def random_recurrent(cell, go_backwards, batch, time, features, units, seed=0):
    """`(layer, x, states)`: a built `Recurrent` with random weights (scale 0.5), random
    float32 inputs `(batch, time, features)` and random initial states."""
    from seq2seq.layers import Recurrent

    rng = np.random.default_rng(seed)
    layer = Recurrent(units, cell=cell, return_sequences=True, go_backwards=go_backwards)
    layer.build((None, time, features))
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    x = rng.normal(size=(batch, time, features)).astype("float32")
    states = [
        rng.normal(scale=0.5, size=(batch, units)).astype("float32") for _ in layer.cell.state_size
    ]
    return layer, x, states


def tf_recurrent_results(layer, x, states, mask=None, graph=False):
    """TensorFlow: a recurrent layer's outputs, final states and the gradients of a fixed
    loss (inputs, states, weights), eagerly or in a `tf.function` (`graph`)."""
    import tensorflow as tf

    def run(x, states):
        with tf.GradientTape() as tape:
            tape.watch([x, *states])
            outputs, final = layer(x, mask=mask, initial_state=states)
            scale = tf.reshape(tf.linspace(0.5, 1.5, tf.size(outputs)), tf.shape(outputs))
            loss = tf.reduce_sum(outputs * scale) + sum(
                tf.reduce_sum(s * (i + 2)) for i, s in enumerate(final)
            )
        weights = [w.value for w in layer.trainable_weights]
        return [outputs, *final, *tape.gradient(loss, [x, *states, *weights])]

    if graph:
        run = tf.function(run)
    return [t.numpy() for t in run(tf.constant(x), [tf.constant(s) for s in states])]


def count_runs(monkeypatch, module, *names):
    """Counts the calls of `module.<name>`, for each of `names`, that ran: a fused
    function that declines raises `NotImplementedError` and is not counted.

    Returns the list that grows by one entry per call that ran.
    """
    calls = []

    def counted(function):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            calls.append(1)
            return result

        return wrapper

    for name in names:
        monkeypatch.setattr(module, name, counted(getattr(module, name)))
    return calls


def deferred_loop_case(kind, dtype="float32"):
    """`(model, inputs)` whose decoder runs a deferred-kernel loop
    (`fused.scan_deferring_kernels`) in training.

    `kind`: `"attention"` or `"attention_depth2"` (token mode, teacher forced, one padded
    source), `"feedback"` (real values, teacher forced), `"free_attention"` or
    `"free_feedback"` (real values, free running). Seq2Seq has two layers: sharing one
    state (teacher forcing) it is not a stacked recurrence, and one layer would run as
    one fused LSTM (`fused_decoding.teacher_readouts`, `linear_feedback`), so the loop
    stays.
    """
    from seq2seq.models import AttentionSeq2Seq, Seq2Seq

    rng = np.random.default_rng(3)
    if kind in ("feedback", "free_feedback", "free_attention"):
        teacher_force = kind == "feedback"
        cls, extra = (AttentionSeq2Seq, {}) if kind == "free_attention" else (Seq2Seq, {"depth": 2})
        model = cls(
            input_dim=3,
            input_length=4,
            hidden_dim=6,
            output_length=5,
            output_dim=4,
            teacher_force=teacher_force,
            dtype=dtype,
            **extra,
        )
        x = rng.normal(size=(3, 4, 3)).astype("float32")
        y = rng.normal(size=(3, 5, 4)).astype("float32") if teacher_force else None
    else:
        model = AttentionSeq2Seq(
            input_vocab_size=9,
            output_vocab_size=7,
            embedding_dim=5,
            input_length=6,
            hidden_dim=8,
            output_length=5,
            depth=2 if kind == "attention_depth2" else 1,
            logits=True,
            dtype=dtype,
        )
        x = rng.integers(1, 9, size=(3, 6)).astype("int32")
        x[1, 4:] = 0  # padding: the attention mask reaches the loop
        y = rng.integers(1, 7, size=(3, 5)).astype("int32")
    return model, (x if y is None else [x, y])


def assert_close(actual, expected, atol=ATOL, rtol=1e-5):
    """`np.testing.assert_allclose` on backend tensors or nested structures of them."""
    actual, expected = keras.tree.flatten(to_numpy(actual)), keras.tree.flatten(to_numpy(expected))
    assert len(actual) == len(expected), f"{len(actual)} tensors, expected {len(expected)}"
    for a, e in zip(actual, expected):
        if a is None or e is None:
            assert a is None and e is None
        else:
            np.testing.assert_allclose(a, e, atol=atol, rtol=rtol)


def count_params(layer):
    """Number of trainable scalars of a built layer or model."""
    return int(sum(np.prod(w.shape) for w in layer.trainable_weights))


def random_sequences(batch, length, dim, seed=0):
    """Reproducible float32 sequences `(batch, length, dim)` in [0, 1)."""
    return np.random.default_rng(seed).random((batch, length, dim)).astype("float32")


def clone_with_weights(model):
    """A new model from `get_config()` holding the same weights."""
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def run_model_test(
    model,
    x,
    y,
    expected_output_shape,
    expected_num_params=None,
    keras_path=None,
    loss="mse",
    batch_size=None,
):
    """Checks a seq2seq model end to end on one small batch.

    Args:
        model: A constructed (and therefore built) seq2seq model, not yet compiled.
        x: Inputs for `predict` and `fit`.
        y: Targets for `fit`.
        expected_output_shape: Shape of `model.predict(x)`.
        expected_num_params: Trainable scalar count, when the test knows it.
        keras_path: Where to save the model (`.keras`); skips the round trip when None.
        loss: Loss for `compile`; None lets a token-mode model pick its default.
        batch_size: Batch size for `fit` and `predict` (default: the whole of `x`).

    Returns:
        The loaded model (or the trained one when `keras_path` is None).
    """
    batch_size = batch_size or len(x)
    assert model.built
    if expected_num_params is not None:
        assert count_params(model) == expected_num_params

    before = model.predict(x, batch_size=batch_size, verbose=0)
    assert before.shape == tuple(expected_output_shape)
    assert np.all(np.isfinite(before))
    # `predict` and a direct inference call agree.
    assert_close(model(x, training=False), before)

    config = model.get_config()
    clone = clone_with_weights(model)
    assert clone.get_config() == config
    assert count_params(clone) == count_params(model)
    assert_close(clone(x, training=False), before)

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    weights = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][-1])
    changed = [not np.array_equal(a, b) for a, b in zip(weights, model.get_weights())]
    assert any(changed), "one fit step changed no weight"

    if keras_path is None:
        return model
    trained = model.predict(x, batch_size=batch_size, verbose=0)
    model.save(keras_path)
    assert os.path.getsize(keras_path) > 0
    loaded = load_model(keras_path, compile=True)  # the library's safe loader
    assert type(loaded) is type(model)
    assert loaded.get_config() == config
    # The compilation and the optimizer state come back too.
    assert loaded.compiled and type(loaded.optimizer) is type(model.optimizer)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    np.testing.assert_array_equal(loaded.predict(x, batch_size=batch_size, verbose=0), trained)
    return loaded


def run_layer_test(layer_cls, init_kwargs, call, expected_output_shapes, expected_num_params=None):
    """Checks a layer: construction, output shapes, parameter count, config round trip.

    Args:
        layer_cls: The layer class.
        init_kwargs: Constructor keyword arguments.
        call: `call(layer) -> outputs`; builds the layer on first use.
        expected_output_shapes: List of the shapes of `keras.tree.flatten(outputs)`
            (dict outputs flatten in sorted key order).
        expected_num_params: Trainable scalar count, when the test knows it.

    Returns:
        `(layer, outputs)`.
    """
    layer = layer_cls(**init_kwargs)
    outputs = call(layer)
    shapes = [tuple(t.shape) for t in keras.tree.flatten(outputs)]
    assert shapes == [tuple(s) for s in expected_output_shapes]
    if expected_num_params is not None:
        assert count_params(layer) == expected_num_params

    config = layer.get_config()
    for key, value in init_kwargs.items():
        if not isinstance(value, (keras.initializers.Initializer, keras.layers.Layer)):
            assert config[key] == value, key
    clone = layer_cls.from_config(config)
    call(clone)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == config
    assert_close(call(clone), outputs)
    return layer, outputs


def onednn_bfloat16() -> bool:
    """Whether JAX's bfloat16 layers run on oneDNN here: the JAX backend, the kernels
    loaded, and oneDNN's bfloat16 products on this CPU (AVX-512)."""
    if keras.backend.backend() != "jax":
        return False
    from seq2seq.native import onednn

    library = onednn.onednn_library()
    return library is not None and library.bfloat16
