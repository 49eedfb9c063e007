"""Recurrent: the scan-based layer equals keras.layers.LSTM/GRU, masks, runs backwards, keeps state."""

import keras
import numpy as np
import pytest
from helpers import assert_close, random_sequences, run_layer_test, to_numpy

from seq2seq.layers import GRUCell, LSTMCell, Recurrent

BATCH, TIME, FEATURES, UNITS = 3, 5, 2, 4


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )


def _keras_reference(cell, go_backwards, ours):
    """A Keras LSTM/GRU holding our layer's weights."""
    if cell == "lstm":
        reference = keras.layers.LSTM(
            UNITS, return_sequences=True, return_state=True, go_backwards=go_backwards
        )
        reference.build((None, TIME, FEATURES))
        reference.set_weights(ours.get_weights())
    else:
        reference = keras.layers.GRU(
            UNITS,
            return_sequences=True,
            return_state=True,
            go_backwards=go_backwards,
            reset_after=True,
        )
        reference.build((None, TIME, FEATURES))
        kernel, recurrent_kernel, bias, recurrent_bias = ours.get_weights()
        reference.set_weights([kernel, recurrent_kernel, np.stack([bias, recurrent_bias])])
    return reference


@pytest.mark.parametrize("cell, num_states", [("lstm", 2), ("gru", 1)])
def test_shapes_and_config(cell, num_states):
    x = random_sequences(BATCH, TIME, FEATURES)
    layer, (outputs, states) = run_layer_test(
        Recurrent,
        {
            "units": UNITS,
            "cell": cell,
            "return_sequences": True,
            "go_backwards": False,
            "unroll": False,
        },
        lambda layer: layer(x),
        [(BATCH, TIME, UNITS)] + [(BATCH, UNITS)] * num_states,
    )
    assert isinstance(layer.cell, LSTMCell if cell == "lstm" else GRUCell)
    # The last output is the final hidden state.
    assert_close(outputs[:, -1], states[0])
    last = Recurrent(UNITS, cell=cell)
    last.build(x.shape)
    last.set_weights(layer.get_weights())
    h, last_states = last(x)
    assert tuple(h.shape) == (BATCH, UNITS)
    assert_close(h, states[0])
    assert_close(last_states, states)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_keras_layer(cell, go_backwards):
    x = random_sequences(BATCH, TIME, FEATURES, seed=3) - 0.5
    ours = Recurrent(UNITS, cell=cell, return_sequences=True, go_backwards=go_backwards)
    ours.build(x.shape)
    _randomise(ours)
    outputs, states = ours(x)
    reference = _keras_reference(cell, go_backwards, ours)
    ref_outputs, *ref_states = reference(x)
    ref_outputs = to_numpy(ref_outputs)
    if go_backwards:
        # Keras returns a backward sequence in processing order; ours keeps input positions.
        ref_outputs = ref_outputs[:, ::-1]
    assert_close(outputs, ref_outputs, atol=1e-5)
    assert_close(states, ref_states, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_mask_gives_the_unpadded_result(cell, go_backwards):
    """Each row padded after its end gives the final state and outputs of its unpadded run."""
    lengths = [5, 3, 1]
    x = random_sequences(BATCH, TIME, FEATURES, seed=4)
    mask = np.arange(TIME)[None, :] < np.array(lengths)[:, None]
    padded = np.where(mask[..., None], x, 7.0).astype("float32")  # junk after the end
    layer = Recurrent(UNITS, cell=cell, return_sequences=True, go_backwards=go_backwards)
    layer.build(x.shape)
    _randomise(layer)
    outputs, states = to_numpy(layer(padded, mask=mask))
    for row, length in enumerate(lengths):
        row_outputs, row_states = to_numpy(layer(x[row : row + 1, :length]))
        for state, row_state in zip(states, row_states):
            np.testing.assert_allclose(state[row], row_state[0], atol=1e-5)
        np.testing.assert_allclose(outputs[row, :length], row_outputs[0], atol=1e-5)
        np.testing.assert_array_equal(outputs[row, length:], 0.0)
    # Without the mask the junk changes the result.
    unmasked_states = to_numpy(layer(padded)[1])
    assert not np.allclose(unmasked_states[0][1], states[0][1], atol=1e-3)


def test_initial_state_is_used():
    x = random_sequences(BATCH, TIME, FEATURES)
    layer = Recurrent(UNITS)
    zero_h, _ = layer(x)
    given = [np.full((BATCH, UNITS), 0.5, "float32"), np.full((BATCH, UNITS), -0.5, "float32")]
    assert_close(layer(x, initial_state=[np.zeros((BATCH, UNITS), "float32")] * 2)[0], zero_h)
    assert not np.allclose(to_numpy(layer(x, initial_state=given)[0]), to_numpy(zero_h), atol=1e-3)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unroll_gives_the_same_result(cell):
    x = random_sequences(BATCH, TIME, FEATURES)
    rolled = Recurrent(UNITS, cell=cell, return_sequences=True, go_backwards=True)
    rolled.build(x.shape)
    unrolled = Recurrent(UNITS, cell=cell, return_sequences=True, go_backwards=True, unroll=True)
    unrolled.build(x.shape)
    unrolled.set_weights(rolled.get_weights())
    mask = np.arange(TIME)[None, :] < np.array([[5], [2], [4]])
    assert_close(unrolled(x), rolled(x))
    assert_close(unrolled(x, mask=mask), rolled(x, mask=mask))


def test_stateful_keeps_states_until_reset():
    x = random_sequences(BATCH, TIME, FEATURES)
    layer = Recurrent(UNITS, stateful=True, batch_size=BATCH)
    layer.build(x.shape)
    assert [tuple(s.shape) for s in layer.states] == [(BATCH, UNITS)] * 2
    assert len(layer.trainable_weights) == 3
    assert len(layer.non_trainable_weights) == 2
    first, first_states = to_numpy(layer(x))
    assert_close(layer.states, first_states)
    second, _ = to_numpy(layer(x))
    assert not np.allclose(first, second, atol=1e-4)
    # The second call started from the first call's final states.
    stateless = Recurrent(UNITS)
    stateless.build(x.shape)
    stateless.cell.set_weights(layer.cell.get_weights())
    assert_close(second, stateless(x, initial_state=first_states)[0])
    layer.reset_states()
    assert_close(layer.states, [np.zeros((BATCH, UNITS))] * 2)
    assert_close(layer(x)[0], first)


@pytest.mark.parametrize("batch_size", [None, 0])
def test_stateful_needs_a_batch_size(batch_size):
    with pytest.raises(ValueError, match="`batch_size`.*stateful=True.*Received: batch_size="):
        Recurrent(UNITS, stateful=True, batch_size=batch_size)


def test_unknown_cell():
    with pytest.raises(ValueError, match="`cell`.*Received: cell='rnn'"):
        Recurrent(UNITS, cell="rnn")


def test_compute_mask_passes_the_mask_for_sequences():
    mask = np.array([[True, False]])
    assert Recurrent(2, return_sequences=True).compute_mask(None, mask) is mask
    assert Recurrent(2).compute_mask(None, mask) is None
