"""LSTMCell and GRUCell: standard maths, equal to Keras' own cells given equal weights."""

import keras
import numpy as np
import pytest
from helpers import assert_close, count_params, run_layer_test

from seq2seq.layers import GRUCell, LSTMCell
from seq2seq.layers.cell_factory import check_cell_name, make_cell

BATCH, INPUT_DIM, UNITS = 3, 5, 4


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, INPUT_DIM)).astype("float32")
    h = rng.normal(size=(BATCH, UNITS)).astype("float32")
    c = rng.normal(size=(BATCH, UNITS)).astype("float32")
    return x, h, c


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize(
    "cell_cls, states, num_params",
    [
        (LSTMCell, 2, 4 * UNITS * (INPUT_DIM + UNITS + 1)),
        (GRUCell, 1, 3 * UNITS * (INPUT_DIM + UNITS + 2)),
    ],
)
def test_cell_basics(cell_cls, states, num_params):
    x, h, c = _inputs()
    state_values = [h, c][:states]
    layer, (output, new_states) = run_layer_test(
        cell_cls,
        {"units": UNITS},
        lambda cell: cell(x, state_values),
        [(BATCH, UNITS)] * (1 + states),
        expected_num_params=num_params,
    )
    assert layer.state_size == [UNITS] * states
    assert layer.output_size == UNITS
    # The output is the new hidden state.
    assert_close(output, new_states[0])
    # `project` then `step` is `call`.
    projected = layer.project(x)
    assert tuple(projected.shape) == (BATCH, cell_cls.gates * UNITS)
    step_output, step_states = layer.step(
        projected, [keras.ops.convert_to_tensor(s) for s in state_values]
    )
    assert_close(step_output, output)
    assert_close(step_states, new_states)


@pytest.mark.parametrize("cell_cls", [LSTMCell, GRUCell])
@pytest.mark.parametrize("units", [0, -2, 2.5, True, "4", None])
def test_invalid_units(cell_cls, units):
    with pytest.raises(ValueError, match="`units`.*Received: units="):
        cell_cls(units)


def test_lstm_forget_bias():
    cell = LSTMCell(2)
    cell.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cell.bias), [0, 0, 1, 1, 0, 0, 0, 0])
    cell = LSTMCell(2, unit_forget_bias=False)
    cell.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(cell.bias), np.zeros(8))


def test_lstm_golden_constant_initialisers():
    """One step by hand: every gate pre-activation is 0.1 * sum(x) + 0.2 * sum(h) + bias."""
    cell = LSTMCell(
        2,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(0.2),
    )
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    h = np.array([[0.5, -1.0]], "float32")
    c = np.array([[2.0, -3.0]], "float32")
    output, (new_h, new_c) = cell(x, [h, c])
    z = 0.1 * 6.0 + 0.2 * -0.5  # 0.5
    i, f, g, o = _sigmoid(z), _sigmoid(z + 1.0), np.tanh(z), _sigmoid(z)
    expected_c = f * c + i * g
    expected_h = o * np.tanh(expected_c)
    assert_close(new_c, expected_c, atol=1e-6)
    assert_close(new_h, expected_h, atol=1e-6)
    assert_close(output, expected_h, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new_h), [[0.59641, -0.60628]], atol=1e-4)


def test_gru_golden_constant_initialisers():
    """One step by hand with zero biases: reset gate applied after the recurrent matmul."""
    cell = GRUCell(
        2,
        kernel_initializer=keras.initializers.Constant(0.1),
        recurrent_initializer=keras.initializers.Constant(0.2),
    )
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    h = np.array([[0.5, -1.0]], "float32")
    output, (new_h,) = cell(x, [h])
    xz = 0.6
    hz = 0.2 * -0.5
    z = r = _sigmoid(xz + hz)
    n = np.tanh(xz + r * hz)
    expected = z * h + (1 - z) * n
    assert_close(new_h, expected, atol=1e-6)
    assert_close(output, expected, atol=1e-6)


def test_lstm_cell_matches_keras():
    x, h, c = _inputs()
    ours = LSTMCell(UNITS)
    ours.build((None, INPUT_DIM))
    _randomise(ours)
    reference = keras.layers.LSTMCell(UNITS)
    reference.build((None, INPUT_DIM))
    reference.set_weights(ours.get_weights())
    assert_close(ours(x, [h, c]), reference(x, [h, c]), atol=1e-5)


def test_gru_cell_matches_keras_reset_after():
    x, h, _ = _inputs()
    ours = GRUCell(UNITS)
    ours.build((None, INPUT_DIM))
    _randomise(ours)
    reference = keras.layers.GRUCell(UNITS, reset_after=True)
    reference.build((None, INPUT_DIM))
    kernel, recurrent_kernel, bias, recurrent_bias = ours.get_weights()
    reference.set_weights([kernel, recurrent_kernel, np.stack([bias, recurrent_bias])])
    output, (new_h,) = ours(x, [h])
    ref_output, ref_states = reference(x, [h])
    assert_close(output, ref_output)
    assert_close(new_h, keras.tree.flatten(ref_states)[0])


def test_cell_factory():
    assert check_cell_name("LSTM") == "lstm"
    assert check_cell_name("gru") == "gru"
    assert isinstance(make_cell("GRU", 3), GRUCell)
    cell = make_cell("lstm", 3, name="my_cell")
    assert isinstance(cell, LSTMCell) and cell.units == 3 and cell.name == "my_cell"
    for bad in ["rnn", "", None, 3]:
        with pytest.raises(
            ValueError, match=r"`cell`. Expected one of \['gru', 'lstm'\]. Received: cell="
        ):
            check_cell_name(bad)


def test_count_params_helper_counts_scalars():
    cell = GRUCell(2)
    cell.build((None, 1))
    assert count_params(cell) == 3 * 2 * 1 + 3 * 2 * 2 + 2 * 3 * 2
