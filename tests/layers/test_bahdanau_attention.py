"""BahdanauAttention: golden values against NumPy, masking, dependence on the query."""

import keras
import numpy as np
import pytest
from helpers import assert_close, run_layer_test, to_numpy

from seq2seq.layers import BahdanauAttention
from seq2seq.layers.bahdanau_attention import weighted_sum

BATCH, IN_LEN, MEMORY_DIM, QUERY_DIM, UNITS = 2, 4, 3, 5, 6


def _golden_layer():
    """An attention layer whose weights are fixed, non-trivial constants."""
    layer = BahdanauAttention(UNITS)
    layer.build((None, QUERY_DIM), (None, None, MEMORY_DIM))
    memory_kernel = np.linspace(-1.0, 1.0, MEMORY_DIM * UNITS).reshape(MEMORY_DIM, UNITS)
    query_kernel = 0.5 * np.cos(np.arange(QUERY_DIM * UNITS)).reshape(QUERY_DIM, UNITS)
    bias = np.full((UNITS,), 0.1)
    score_vector = np.linspace(2.0, -1.5, UNITS)
    layer.memory_kernel.assign(memory_kernel.astype("float32"))
    layer.query_kernel.assign(query_kernel.astype("float32"))
    layer.bias.assign(bias.astype("float32"))
    layer.score_vector.assign(score_vector.astype("float32"))
    return layer, (memory_kernel, query_kernel, bias, score_vector)


def _inputs():
    memory = np.sin(np.arange(BATCH * IN_LEN * MEMORY_DIM)).reshape(BATCH, IN_LEN, MEMORY_DIM)
    query = np.cos(0.5 * np.arange(BATCH * QUERY_DIM)).reshape(BATCH, QUERY_DIM)
    return memory.astype("float32"), query.astype("float32")


def _numpy_attention(query, memory, weights, mask=None):
    memory_kernel, query_kernel, bias, score_vector = weights
    keys = memory @ memory_kernel + bias  # (batch, in_len, units)
    scores = np.tanh(keys + (query @ query_kernel)[:, None, :]) @ score_vector  # (batch, in_len)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    alphas = np.exp(scores - scores.max(-1, keepdims=True))
    alphas /= alphas.sum(-1, keepdims=True)
    return (alphas[..., None] * memory).sum(1), alphas


def test_golden_values_against_numpy():
    layer, weights = _golden_layer()
    memory, query = _inputs()
    keys = layer.keys(memory)
    assert tuple(keys.shape) == (BATCH, IN_LEN, UNITS)
    context, alphas = layer(query, keys, memory)
    expected_context, expected_alphas = _numpy_attention(query, memory, weights)
    assert_close(alphas, expected_alphas, atol=1e-6)
    assert_close(context, expected_context, atol=1e-6)
    # The golden numbers are not degenerate: the weights are far from uniform.
    assert np.ptp(expected_alphas, axis=-1).min() > 0.1


def test_constant_weights_give_uniform_attention():
    """A zero memory kernel gives equal scores: the context is the mean of the memory."""
    layer = BahdanauAttention(3)
    layer.build((None, 2), (None, None, 2))
    for weight in layer.weights:
        weight.assign(np.full(weight.shape, 0.5, "float32"))
    layer.memory_kernel.assign(np.zeros((2, 3), "float32"))
    memory = np.zeros((1, 4, 2), "float32")
    memory[0, :, 0] = [1.0, 2.0, 3.0, 6.0]
    context, alphas = layer(np.ones((1, 2), "float32"), layer.keys(memory), memory)
    assert_close(alphas, np.full((1, 4), 0.25), atol=1e-7)
    assert_close(context, np.array([[3.0, 0.0]]), atol=1e-6)


def test_mask_gives_padding_zero_weight():
    layer, weights = _golden_layer()
    memory, query = _inputs()
    mask = np.array([[True, True, False, False], [True, True, True, False]])
    context, alphas = to_numpy(layer(query, layer.keys(memory), memory, mask))
    np.testing.assert_array_equal(alphas[~mask], 0.0)
    np.testing.assert_allclose(alphas.sum(-1), 1.0, atol=1e-6)
    expected_context, expected_alphas = _numpy_attention(query, memory, weights, mask)
    np.testing.assert_allclose(alphas, expected_alphas, atol=1e-6)
    np.testing.assert_allclose(context, expected_context, atol=1e-6)
    # A padded position's memory does not reach the context.
    junk = memory.copy()
    junk[~mask] = 100.0
    assert_close(layer(query, layer.keys(junk), junk, mask)[0], context, atol=1e-5)


def test_weights_depend_on_the_query():
    layer, _ = _golden_layer()
    memory, query = _inputs()
    keys = layer.keys(memory)
    _, first = to_numpy(layer(query, keys, memory))
    _, second = to_numpy(layer(-query, keys, memory))
    assert np.abs(first - second).max() > 0.1


def test_shapes_and_config():
    memory, query = _inputs()

    def call(layer):
        if not layer.built:
            layer.build((None, QUERY_DIM), (None, None, MEMORY_DIM))
        return layer(query, layer.keys(memory), memory)

    layer, (context, alphas) = run_layer_test(
        BahdanauAttention,
        {"units": UNITS},
        call,
        [(BATCH, MEMORY_DIM), (BATCH, IN_LEN)],
        expected_num_params=MEMORY_DIM * UNITS + QUERY_DIM * UNITS + 2 * UNITS,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(alphas).sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("length", [5, 40])  # the fused sum, and the product past 32
def test_inference_context_equals_the_training_context(length):
    """The fused sum used outside training gives the batched product's values."""
    attention = BahdanauAttention(4)
    attention.build((None, 6), (None, None, 8))
    rng = np.random.default_rng(5)
    memory = rng.normal(size=(3, length, 8)).astype("float32")
    query = rng.normal(size=(3, 6)).astype("float32")
    mask = np.ones((3, length), bool)
    mask[1, length // 2 :] = False
    keys = attention.keys(memory)
    trained = attention(query, keys, memory, mask, training=True)
    inferred = attention(query, keys, memory, mask, training=False)
    for got, want in zip(inferred, trained):
        np.testing.assert_allclose(to_numpy(got), to_numpy(want), rtol=1e-5, atol=1e-6)
    weights = to_numpy(trained[1])
    np.testing.assert_allclose(
        to_numpy(weighted_sum(weights, memory)),
        np.einsum("bs,bsd->bd", weights, memory),
        rtol=1e-5,
        atol=1e-6,
    )
