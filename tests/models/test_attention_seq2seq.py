"""AttentionSeq2Seq: bidirectional encoder, Bahdanau attention that follows the decoder."""

import keras
import numpy as np
import pytest
from helpers import assert_close, random_sequences, run_model_test, to_numpy

from seq2seq.layers import BahdanauAttention, Encoder
from seq2seq.models import AttentionSeq2Seq

BATCH, IN_LEN, IN_DIM, HIDDEN, OUT_LEN, OUT_DIM = 4, 5, 3, 4, 4, 2
BASE = {"input_dim": IN_DIM, "hidden_dim": HIDDEN, "output_length": OUT_LEN, "output_dim": OUT_DIM}


def test_model(keras_path):
    model = AttentionSeq2Seq(input_length=IN_LEN, **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=1)
    memory = 2 * HIDDEN  # both directions, concatenated
    params = (
        2 * 4 * HIDDEN * (IN_DIM + HIDDEN + 1)  # encoder, two directions
        + 2 * (memory + 1) * HIDDEN  # bridge: Dense(tanh) for h and c
        + (memory + 1) * OUT_DIM  # start value
        + 4 * HIDDEN * (OUT_DIM + memory + HIDDEN + 1)  # decoder cell reads [y_prev; context]
        + (memory + HIDDEN) * HIDDEN
        + 2 * HIDDEN  # attention W_h, W_s, bias, v
        + (HIDDEN + memory + 1) * OUT_DIM  # output layer reads [h; context]
    )
    loaded = run_model_test(
        model,
        x,
        y,
        expected_output_shape=(BATCH, OUT_LEN, OUT_DIM),
        expected_num_params=params,
        keras_path=keras_path,
    )
    assert isinstance(loaded.encoder, Encoder)
    assert isinstance(loaded.decoder.attention_layer, BahdanauAttention)
    assert_close(loaded.encode(x), model.encode(x))
    assert_close(loaded.predict_attention(x), model.predict_attention(x), atol=1e-6)


@pytest.mark.usefixtures("op_by_op")
def test_attention_weights():
    model = AttentionSeq2Seq(**BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    weights = model.predict_attention(x)
    assert weights.shape == (BATCH, OUT_LEN, IN_LEN)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert np.all(weights >= 0)
    # In chunks and as a list input: the same weights.
    np.testing.assert_allclose(model.predict_attention([x], batch_size=3), weights, atol=1e-6)
    # Each step's query is the decoder's previous state, so the weights change over steps.
    assert np.abs(np.diff(weights, axis=1)).max() > 1e-4


@pytest.mark.usefixtures("op_by_op")
def test_padded_token_input_gets_no_attention():
    model = AttentionSeq2Seq(
        input_vocab_size=9, output_dim=OUT_DIM, output_length=OUT_LEN, hidden_dim=HIDDEN
    )
    ids = np.array([[4, 5, 6, 0, 0], [7, 8, 4, 5, 6]], "int32")
    weights = model.predict_attention(ids)
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    # Padding changes nothing: the first row alone, unpadded, gives the same outputs.
    assert_close(model(ids)[:1], model(ids[:1, :3]), atol=1e-5)
    np.testing.assert_allclose(weights[:1, :, :3], model.predict_attention(ids[:1, :3]), atol=1e-5)


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize(
    "options, memory_dim",
    [
        ({"bidirectional": False}, HIDDEN),
        ({"merge_mode": "sum"}, HIDDEN),
        ({"merge_mode": "ave", "cell": "gru"}, HIDDEN),
        ({}, 2 * HIDDEN),
    ],
)
def test_encoder_directions(options, memory_dim):
    model = AttentionSeq2Seq(depth=(2, 1), **BASE, **options)
    assert model.encoder.bidirectional is options.get("bidirectional", True)
    assert len(model.encoder.backward_layers) == (0 if options.get("bidirectional") is False else 2)
    assert model.encoder.output_dim == memory_dim
    assert tuple(model.decoder.attention_layer.memory_kernel.shape) == (memory_dim, HIDDEN)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    assert tuple(model(x).shape) == (BATCH, OUT_LEN, OUT_DIM)
    assert model.encode(x)["outputs"].shape == (BATCH, IN_LEN, memory_dim)


@pytest.mark.usefixtures("op_by_op")
def test_context_is_the_attention_weighted_memory():
    """The attention of the model's first step, recomputed from the encoder and bridge."""
    model = AttentionSeq2Seq(**BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    encoded = model.encoder(x)
    states = model.bridge(encoded["states"])
    attention = model.decoder.attention_layer
    memory = encoded["outputs"]
    context, alphas = attention(states[0][0], attention.keys(memory), memory)
    np.testing.assert_allclose(model.predict_attention(x)[:, 0], to_numpy(alphas), atol=1e-5)
    assert_close(context, np.einsum("bj,bjd->bd", to_numpy(alphas), to_numpy(memory)), atol=1e-5)
    assert keras.ops.convert_to_numpy(context).shape == (BATCH, 2 * HIDDEN)
