"""Bridge: which encoder layer starts which decoder layer, and when states are projected."""

import numpy as np
import pytest
from helpers import assert_close, run_layer_test, to_numpy

from seq2seq.layers import Bridge

BATCH = 2


def _encoder_states(depth, num_states, dim):
    """Encoder states whose values name their layer and state: layer 3, state 1 -> 3.1."""
    return [
        [np.full((BATCH, dim), layer + state / 10, "float32") for state in range(num_states)]
        for layer in range(depth)
    ]


@pytest.mark.parametrize(
    "encoder_depth, decoder_depth, sources",
    [(4, 5, [0, 0, 1, 2, 3]), (1, 3, [0, 0, 0]), (3, 1, [2]), (2, 2, [0, 1])],
)
def test_top_layers_face_each_other(encoder_depth, decoder_depth, sources):
    bridge = Bridge(
        4, encoder_depth=encoder_depth, decoder_depth=decoder_depth, num_states=2, encoder_dim=4
    )
    assert bridge.sources == sources
    states = to_numpy(bridge(_encoder_states(encoder_depth, 2, 4)))
    assert len(states) == decoder_depth
    for layer_states, source in zip(states, sources):
        np.testing.assert_array_equal(layer_states[0], source)  # passed through unchanged
        np.testing.assert_allclose(layer_states[1], source + 0.1, rtol=1e-6)
    assert not bridge.trainable_weights


def test_single_state_takes_the_top_encoder_layer():
    bridge = Bridge(
        4, encoder_depth=3, decoder_depth=2, num_states=1, encoder_dim=4, single_state=True
    )
    states = to_numpy(bridge(_encoder_states(3, 1, 4)))
    assert len(states) == 1 and len(states[0]) == 1
    np.testing.assert_array_equal(states[0][0], 2.0)


@pytest.mark.parametrize("project, encoder_dim", [(True, 4), (False, 6)])
def test_projection(project, encoder_dim):
    inputs = _encoder_states(2, 2, encoder_dim)
    bridge, states = run_layer_test(
        Bridge,
        {
            "units": 4,
            "encoder_depth": 2,
            "decoder_depth": 3,
            "num_states": 2,
            "encoder_dim": encoder_dim,
            "project": project,
            "single_state": False,
        },
        lambda layer: layer(inputs),
        [(BATCH, 4)] * 6,
        expected_num_params=3 * 2 * (encoder_dim * 4 + 4),
    )
    # Each state goes through its own Dense(units, tanh).
    dense = bridge.projections[2][1]
    kernel, bias = (to_numpy(w) for w in dense.weights)
    assert_close(states[2][1], np.tanh(inputs[1][1] @ kernel + bias), atol=1e-6)
