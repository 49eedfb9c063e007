"""Options shared by the three models: depth pairs, cells, dropout, unroll, output
activation, variable input length, statefulness and the config of every option."""

import keras
import numpy as np
import pytest
from helpers import assert_close, clone_with_weights, random_sequences, to_numpy

from seq2seq import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
BATCH, IN_LEN, IN_DIM, HIDDEN, OUT_LEN, OUT_DIM = 2, 5, 3, 4, 4, 2
BASE = {"input_dim": IN_DIM, "hidden_dim": HIDDEN, "output_length": OUT_LEN, "output_dim": OUT_DIM}


def _x(batch=BATCH, length=IN_LEN, seed=0):
    return random_sequences(batch, length, IN_DIM, seed=seed)


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "options",
    [
        {"depth": (4, 5)},
        {"depth": (1, 3)},
        {"depth": (3, 1), "cell": "gru"},
        {"cell": "gru", "depth": 2},
    ],
    ids=["depth4-5", "depth1-3", "depth3-1-gru", "gru"],
)
def test_output_shapes(model_cls, options):
    model = model_cls(**BASE, **options)
    x = _x()
    outputs = to_numpy(model(x))
    assert outputs.shape == (BATCH, OUT_LEN, OUT_DIM)
    assert np.all(np.isfinite(outputs))
    # Variable input length: input_length was not given.
    assert tuple(model(_x(length=IN_LEN + 3)).shape) == (BATCH, OUT_LEN, OUT_DIM)


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", MODELS)
def test_dropout_only_in_training(model_cls):
    model = model_cls(**BASE, depth=2, dropout=0.5)
    x = _x()
    inference = to_numpy(model(x))
    assert_close(model(x, training=False), inference)
    first = to_numpy(model(x, training=True))
    second = to_numpy(model(x, training=True))
    assert not np.allclose(first, inference, atol=1e-4)
    assert not np.allclose(first, second, atol=1e-4)
    # Without dropout, training and inference agree (no teacher forcing for real values).
    plain = model_cls(**BASE, depth=2)
    assert_close(plain(x, training=True), plain(x))


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", MODELS)
def test_unroll_gives_the_same_outputs(model_cls):
    rolled = model_cls(**BASE, input_length=IN_LEN, depth=2)
    unrolled = model_cls(**BASE, input_length=IN_LEN, depth=2, unroll=True)
    unrolled.set_weights(rolled.get_weights())
    x = _x()
    assert_close(unrolled(x), rolled(x))


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", MODELS)
def test_output_activation(model_cls):
    x = 10 * _x()
    sigmoid = to_numpy(model_cls(**BASE, output_activation="sigmoid")(x))
    assert np.all((sigmoid > 0) & (sigmoid < 1))
    linear = model_cls(**BASE)
    # The default output layer is linear, so outputs are not bounded by a tanh (issue #260).
    output_layer = (
        linear.output_layer if isinstance(linear, SimpleSeq2Seq) else linear.decoder.output_layer
    )
    output_layer.bias.assign(np.full((OUT_DIM,), 5.0, "float32"))
    assert np.all(to_numpy(linear(x)) > 2.0)


@pytest.mark.parametrize("model_cls", MODELS)
def test_stateful_keeps_states_across_batches_until_reset(model_cls):
    model = model_cls(**BASE, batch_size=BATCH, stateful=True)
    x = _x()
    first = model.predict(x, batch_size=BATCH, verbose=0)
    second = model.predict(x, batch_size=BATCH, verbose=0)
    assert np.abs(first - second).max() > 1e-4
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=BATCH, verbose=0), first, atol=1e-6)
    # Within one predict call, the second batch starts from the first batch's states.
    model.reset_states()
    both = model.predict(np.concatenate([x, x]), batch_size=BATCH, verbose=0)
    np.testing.assert_allclose(both[:BATCH], first, atol=1e-6)
    np.testing.assert_allclose(both[BATCH:], second, atol=1e-6)
    # A stateless model with the same weights always gives the first answer.
    stateless = model_cls(**BASE)
    stateless.set_weights(
        [w for w, v in zip(model.get_weights(), model.weights) if "state_" not in v.path]
    )
    np.testing.assert_allclose(to_numpy(stateless(x)), first, atol=1e-5)


@pytest.mark.parametrize("model_cls", MODELS)
def test_encode(model_cls):
    model = model_cls(**BASE, depth=(2, 1))
    encoded = model.encode(_x())
    dim = 2 * HIDDEN if model_cls is AttentionSeq2Seq else HIDDEN
    assert encoded["outputs"].shape == (BATCH, IN_LEN, dim)
    assert encoded["context"].shape == (BATCH, dim)
    assert isinstance(encoded["context"], np.ndarray)
    states = to_numpy(model.encoder(_x())["states"])
    np.testing.assert_allclose(encoded["context"], states[-1][0], atol=1e-6)
    with pytest.raises(ValueError, match="Invalid input `x`"):
        model.encode(np.zeros((BATCH, IN_LEN), "float32"))


OPTION_SETS = {
    SimpleSeq2Seq: [
        {"depth": (2, 3), "dropout": 0.25, "cell": "gru", "unroll": True},
        {"batch_input_shape": (2, 5, 3), "stateful": True, "output_activation": "tanh"},
        {"input_shape": (None, 3), "batch_size": 2, "seed": 7},
    ],
    Seq2Seq: [
        {"broadcast_state": False, "inner_broadcast_state": False, "peek": True, "depth": [1, 2]},
        {"teacher_force": True, "scheduled_sampling": True, "seed": 3, "dropout": 0.1},
        {"input_length": 5, "batch_size": 2, "stateful": True, "unroll": True, "cell": "gru"},
    ],
    AttentionSeq2Seq: [
        {"bidirectional": False, "depth": (2, 3), "teacher_force": True},
        {"merge_mode": "sum", "cell": "gru", "output_activation": "sigmoid", "dropout": 0.2},
        {"input_length": 5, "batch_size": 2, "stateful": True, "unroll": True, "seed": 1},
    ],
}


@pytest.mark.parametrize(
    "model_cls, options",
    [(cls, options) for cls, sets in OPTION_SETS.items() for options in sets],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_every_option_survives_get_config(model_cls, options):
    """`from_config(get_config())` rebuilds the same model, and each option is kept."""
    model = model_cls(**BASE, **options)
    config = model.get_config()
    for key, value in options.items():
        if key in ("input_shape", "batch_size", "input_length"):
            continue  # folded into batch_input_shape
        # A depth pair given as a list is kept as a tuple, as a loaded model has it.
        expected = tuple(value) if key == "depth" and isinstance(value, list) else value
        assert config[key] == expected, key
    assert config["batch_input_shape"] == model.full_input_shape
    clone = clone_with_weights(model)
    assert clone.get_config() == config
    assert clone.full_input_shape == model.full_input_shape
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's XLA choice")
@pytest.mark.parametrize("model_cls", MODELS)
def test_tensorflow_trains_where_keras_would_pick_xla(model_cls, monkeypatch):
    """Keras turns XLA on by default on TensorFlow with a GPU, and XLA cannot differentiate
    the loops of `keras.ops.scan`: "auto" must mean no XLA for these models."""
    from keras.src.trainers.trainer import Trainer

    monkeypatch.setattr(Trainer, "_resolve_auto_jit_compile", lambda self: True)  # as on a GPU
    model = model_cls(**BASE)
    model.compile(loss="mse")
    assert model.jit_compile is False
    history = model.fit(_x(), np.zeros((BATCH, OUT_LEN, OUT_DIM), "float32"), verbose=0)
    assert np.isfinite(history.history["loss"][-1])
