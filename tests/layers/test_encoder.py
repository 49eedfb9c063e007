"""Encoder: stacked, bidirectional, merge modes, token embedding with padding masked."""

import numpy as np
import pytest
from helpers import assert_close, random_sequences, run_layer_test, to_numpy

from seq2seq.layers import Encoder, fused

BATCH, TIME, FEATURES, UNITS = 2, 5, 3, 4


def _lstm_params(input_dim, units):
    return 4 * units * (input_dim + units + 1)


@pytest.mark.parametrize("bidirectional, depth", [(False, 1), (True, 2)])
def test_outputs_states_and_config(bidirectional, depth):
    x = random_sequences(BATCH, TIME, FEATURES)
    dim = 2 * UNITS if bidirectional else UNITS
    directions = 2 if bidirectional else 1
    params = directions * (_lstm_params(FEATURES, UNITS) + (depth - 1) * _lstm_params(dim, UNITS))
    encoder, encoded = run_layer_test(
        Encoder,
        {"units": UNITS, "depth": depth, "bidirectional": bidirectional, "merge_mode": "concat"},
        lambda layer: {k: v for k, v in layer(x).items() if k != "mask"},
        # Flattened in key order: last, outputs, states (layer by layer, h then c).
        [(BATCH, dim), (BATCH, TIME, dim)] + [(BATCH, dim)] * (2 * depth),
        expected_num_params=params,
    )
    assert encoder.output_dim == dim
    assert encoder(x)["mask"] is None
    assert len(encoded["states"]) == depth
    assert_close(encoded["last"], encoded["states"][-1][0])
    if not bidirectional:
        assert_close(encoded["outputs"][:, -1], encoded["last"])


def test_bidirectional_concatenates_forward_and_backward():
    x = random_sequences(BATCH, TIME, FEATURES)
    encoder = Encoder(UNITS, bidirectional=True)
    encoded = to_numpy(encoder(x))
    forward, forward_states = to_numpy(encoder.forward_layers[0](x))
    backward, backward_states = to_numpy(encoder.backward_layers[0](x))
    np.testing.assert_allclose(
        encoded["outputs"], np.concatenate([forward, backward], -1), atol=1e-6
    )
    np.testing.assert_allclose(
        encoded["last"], np.concatenate([forward_states[0], backward_states[0]], -1), atol=1e-6
    )
    # The backward direction's final state summarises the whole sequence from its start.
    np.testing.assert_allclose(backward_states[0], backward[:, 0], atol=1e-6)


@pytest.mark.parametrize(
    "mode, combine",
    [("sum", lambda f, b: f + b), ("ave", lambda f, b: (f + b) / 2), ("mul", lambda f, b: f * b)],
)
def test_merge_modes(mode, combine):
    x = random_sequences(BATCH, TIME, FEATURES)
    concat = Encoder(UNITS, bidirectional=True)
    reference = to_numpy(concat(x))
    merged = Encoder(UNITS, bidirectional=True, merge_mode=mode)
    merged.build(x.shape)
    merged.set_weights(concat.get_weights())
    assert merged.output_dim == UNITS
    encoded = to_numpy(merged(x))
    f, b = reference["outputs"][..., :UNITS], reference["outputs"][..., UNITS:]
    np.testing.assert_allclose(encoded["outputs"], combine(f, b), atol=1e-6)
    for state, ref_state in zip(encoded["states"][0], reference["states"][0]):
        np.testing.assert_allclose(
            state, combine(ref_state[:, :UNITS], ref_state[:, UNITS:]), atol=1e-6
        )


def test_invalid_merge_mode():
    with pytest.raises(ValueError, match="`merge_mode`.*Received: merge_mode='max'"):
        Encoder(UNITS, merge_mode="max")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_token_input_masks_padding(cell):
    ids = np.array([[5, 6, 7, 0, 0], [4, 4, 4, 4, 9]], "int32")
    encoder = Encoder(
        UNITS, depth=2, cell=cell, bidirectional=True, input_vocab_size=10, embedding_dim=3
    )
    encoded = to_numpy(encoder(ids))
    np.testing.assert_array_equal(encoded["mask"], ids != 0)
    assert len(encoded["states"][0]) == (2 if cell == "lstm" else 1)
    short = to_numpy(encoder(ids[:1, :3]))
    for layer_states, short_states in zip(encoded["states"], short["states"]):
        for state, short_state in zip(layer_states, short_states):
            np.testing.assert_allclose(state[0], short_state[0], atol=1e-5)
    np.testing.assert_allclose(encoded["outputs"][0, :3], short["outputs"][0], atol=1e-5)
    np.testing.assert_array_equal(encoded["outputs"][0, 3:], 0.0)
    # The embedding has one row per id; the recurrent layers read embedding_dim features.
    assert tuple(encoder.embedding.embeddings.shape) == (10, 3)
    assert tuple(encoder.forward_layers[0].cell.kernel.shape)[0] == 3


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_token_projections_by_lookup_match_the_product(cell, monkeypatch):
    ids = np.random.default_rng(0).integers(0, 6, size=(4, 5)).astype("int32")  # 0: padding
    encoder = Encoder(
        UNITS, depth=2, cell=cell, bidirectional=True, input_vocab_size=6, embedding_dim=3
    )
    # The lookup where the backend runs this cell's projected inputs fused (6 ids, 20
    # tokens); else the product, for the fused call on unprojected inputs.
    assert encoder.projects_by_lookup(ids) == fused.runs_projected(cell, "float32")
    assert not encoder.projects_by_lookup(ids, training=True)
    assert not encoder.projects_by_lookup(ids[:1])  # 6 ids, 5 tokens
    monkeypatch.setattr(fused, "runs_projected", lambda recurrence, dtype: True)
    assert encoder.projects_by_lookup(ids)
    by_lookup = to_numpy(encoder(ids))
    by_product = to_numpy(encoder(ids, training=True))  # no dropout: the same maths
    for key in ("outputs", "last"):
        np.testing.assert_allclose(by_lookup[key], by_product[key], atol=1e-6)
    for layer, other in zip(by_lookup["states"], by_product["states"]):
        for state, other_state in zip(layer, other):
            np.testing.assert_allclose(state, other_state, atol=1e-6)


@pytest.mark.parametrize("depth", [1, 2])
def test_dropout_on_layer_inputs(depth):
    x = random_sequences(BATCH, TIME, FEATURES)
    encoder = Encoder(UNITS, depth=depth, dropout=0.5)
    inference = to_numpy(encoder(x, training=False)["outputs"])
    assert_close(encoder(x)["outputs"], inference)
    first = to_numpy(encoder(x, training=True)["outputs"])
    second = to_numpy(encoder(x, training=True)["outputs"])
    assert not np.allclose(first, inference, atol=1e-4)
    assert not np.allclose(first, second, atol=1e-4)
    # Even the first layer sees dropout: on its inputs.
    trained_states = to_numpy(encoder(x, training=True)["states"][0][0])
    assert not np.allclose(trained_states, to_numpy(encoder(x)["states"][0][0]), atol=1e-4)


def test_stateful_encoder_resets():
    x = random_sequences(BATCH, TIME, FEATURES)
    encoder = Encoder(UNITS, depth=2, bidirectional=True, stateful=True, batch_size=BATCH)
    first = to_numpy(encoder(x)["last"])
    assert not np.allclose(to_numpy(encoder(x)["last"]), first, atol=1e-4)
    encoder.reset_states()
    assert_close(encoder(x)["last"], first)
