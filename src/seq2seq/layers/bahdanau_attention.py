"""Additive attention of Bahdanau et al. (2015) with keys computed once per sequence."""

import keras
from keras import ops

from seq2seq.layers import fused


@keras.saving.register_keras_serializable(package="seq2seq")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention: `e_tj = v^T tanh(W_h H_j + W_s s_{t-1})`, softmax over `j`.

    The score depends on the decoder's previous state `s_{t-1}` and on every encoder
    position `H_j` (the original library's version dropped the state term inside the
    softmax, so its weights were the same at every step). `keys(memory)` computes
    `W_h H` once per sequence; each decoder step then costs one small matrix multiply
    for the query. Masked (padded) positions get zero weight.

    Args:
        units: Positive int, size of the attention hidden layer.
        **kwargs: Base layer keyword arguments.

    Call arguments:
        query: `(batch, query_dim)` previous decoder state.
        keys: `(batch, in_len, units)` from `keys(memory)`.
        memory: `(batch, in_len, memory_dim)` encoder outputs.
        mask: Optional `(batch, in_len)` boolean mask of real positions.
        training: The context is a batched product in training, a fused sum otherwise
            (same values; see `weighted_sum`).

    Returns:
        `(context, weights)`: `(batch, memory_dim)` and `(batch, in_len)`.

    Example:
    >>> import numpy as np
    >>> from seq2seq.layers import BahdanauAttention
    >>> attention = BahdanauAttention(4)
    >>> attention.build((None, 6), (None, None, 8))
    >>> memory = np.random.rand(2, 5, 8).astype("float32")
    >>> context, weights = attention(np.zeros((2, 6)), attention.keys(memory), memory)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 8), (2, 5))
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, query_shape, memory_shape=None):
        memory_dim = memory_shape[-1]
        self.memory_kernel = self.add_weight(
            shape=(memory_dim, self.units), initializer="glorot_uniform", name="memory_kernel"
        )
        self.query_kernel = self.add_weight(
            shape=(query_shape[-1], self.units), initializer="glorot_uniform", name="query_kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.score_vector = self.add_weight(
            shape=(self.units,), initializer="glorot_uniform", name="score_vector"
        )
        self.built = True

    def keys(self, memory):
        """Projects the encoder memory once: `(batch, in_len, units)`, in the variable
        dtype (float32 under `mixed_bfloat16`, the product's operands in bfloat16)."""
        compute, exact = self.compute_dtype, self.dtype_policy.variable_dtype
        product = fused.matmul(
            ops.cast(memory, compute), ops.cast(self.memory_kernel, compute), exact
        )
        return product + ops.cast(self.bias, exact)

    def call(self, query, keys, memory, mask=None, training=False):
        try:  # the backend's own operations, where a loop runs this at every step
            return fused.attention(query, keys, memory, mask, self.query_kernel, self.score_vector)
        except NotImplementedError:
            pass
        # Under a mixed policy the products run in the compute dtype; the scores, the
        # softmax, the weights and the context in the variable dtype (float32).
        compute, exact = self.compute_dtype, self.dtype_policy.variable_dtype
        projected_query = fused.matmul(
            ops.cast(query, compute), ops.cast(self.query_kernel, compute), exact
        )
        scores = fused.recomputed(_scores)(
            keys, projected_query, ops.cast(self.score_vector, exact)
        )
        if mask is not None:
            scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        # In training, the batched product: its gradient is cheap.
        context = weighted_sum(
            ops.cast(weights, memory.dtype), memory, max_unrolled=0 if training else 32
        )
        return ops.cast(context, exact), weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _scores(keys, projected_query, score_vector):
    """`tanh(keys + query) @ v`: `(batch, in_len)` in `projected_query`'s dtype.

    Its `(batch, in_len, units)` energy is recomputed in the backward pass (where the
    backend can, `fused.recomputed`) rather than kept for every decoder step.
    """
    exact = projected_query.dtype
    energy = ops.tanh(ops.cast(keys, exact) + ops.expand_dims(projected_query, 1))
    # A product and a sum, not `matmul` or an einsum: Keras' TensorFlow `matmul` of a 3-D
    # and a 1-D operand is a `tensordot`, whose transposes of operands of unknown length
    # XLA cannot compile inside the gradient of a loop, and PyTorch runs the einsum and
    # its gradient as batched products with one column (1.5 times the time, measured).
    return ops.sum(energy * score_vector, axis=-1)


def weighted_sum(weights, memory, max_unrolled=32):
    """`sum_j weights[:, j] * memory[:, j]`: `(batch, in_len)`, `(batch, in_len, dim)` → `(batch, dim)`.

    For inference. For a short memory of known length, a sum of `in_len` scaled rows:
    XLA fuses it into one pass, where on the CPU the batched matrix-vector product runs
    as a generic dot (measured at batch 256 and 1,280, length 20: 1.6 and 2 times
    slower). Its gradient, one slice per position, is slow: training uses the product.
    """
    length = memory.shape[1]
    if length is None or length > max_unrolled:
        return ops.squeeze(ops.matmul(ops.expand_dims(weights, 1), memory), 1)
    total = weights[:, 0:1] * memory[:, 0]
    for j in range(1, length):
        total = total + weights[:, j : j + 1] * memory[:, j]
    return total
