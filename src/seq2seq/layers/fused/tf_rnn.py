"""The TensorFlow backend's loop (see `seq2seq.layers.fused`): a scan XLA can compile.

Keras' TensorFlow `keras.ops.scan` is a `tf.while_loop` without `maximum_iterations`
that keeps its carry in size-1 `TensorArray`s. XLA cannot differentiate such a loop (it
needs the trip count to size the values kept for the backward pass), so a model built
on it trains only outside XLA, where TensorFlow's executor runs every op of every step
on its own. `scan` computes the same thing with the step count as `maximum_iterations`
(known from the inputs' static shape, as in a compiled function), the carry as plain
loop variables and every output written at the loop counter. XLA then compiles the
training step whole (`compile(jit_compile=True)`), and tf2onnx converts the loop to an
ONNX `Loop` (a reverse scan reverses its inputs and outputs around a forward loop,
since tf2onnx needs the write index to be the counter itself).

The fused recurrences decline: TensorFlow's one fused CPU LSTM, `BlockLSTMV2`, measured
slower than the loop here (docs/benchmarks.md).
"""

import tensorflow as tf
from keras import tree


def runs_projected(recurrence, dtype) -> bool:
    """Whether `lstm` or `gru` (`recurrence`) runs projected inputs of `dtype`: never."""
    return False


def _declines(*args, **kwargs):
    raise NotImplementedError


lstm = gru = matmul = recomputed = scan_deferring_kernels = _declines


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`keras.ops.scan`'s semantics (as `jax.lax.scan`'s) in a loop XLA differentiates.

    `unroll` is accepted and ignored: TensorFlow runs one loop either way.
    """
    xs_flat = [] if xs is None else [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    if reverse:
        xs_flat = [tf.reverse(x, [0]) for x in xs_flat]
    if xs_flat:
        steps = xs_flat[0].shape[0]
        steps = tf.shape(xs_flat[0])[0] if steps is None else steps
    else:
        steps = int(length)
    xs_arrays = [
        tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x) for x in xs_flat
    ]

    def step_inputs(i):
        return tree.pack_sequence_as(xs, [a.read(i) for a in xs_arrays]) if xs_flat else None

    # The outputs' structure, dtypes and shapes, from one call outside the loop (pruned:
    # nothing reads it).
    first = tree.pack_sequence_as(xs, [x[0] for x in xs_flat]) if xs_flat else None
    _, probe = f(init, first)
    probe_flat = [tf.convert_to_tensor(y) for y in tree.flatten(probe)]
    ys_arrays = [tf.TensorArray(y.dtype, size=steps, element_shape=y.shape) for y in probe_flat]
    carry_flat = [tf.convert_to_tensor(c) for c in tree.flatten(init)]

    def body(i, carry_flat, ys_arrays):
        carry, ys = f(tree.pack_sequence_as(init, carry_flat), step_inputs(i))
        ys_arrays = [a.write(i, y) for a, y in zip(ys_arrays, tree.flatten(ys))]
        carry_flat = [
            tf.ensure_shape(tf.convert_to_tensor(new), old.shape)
            for new, old in zip(tree.flatten(carry), carry_flat)
        ]
        return i + 1, carry_flat, ys_arrays

    _, carry_flat, ys_arrays = tf.while_loop(
        lambda i, carry, ys: i < steps,
        body,
        (tf.constant(0), carry_flat, ys_arrays),
        maximum_iterations=steps,
    )
    ys_flat = [a.stack() for a in ys_arrays]
    if reverse:
        ys_flat = [tf.reverse(y, [0]) for y in ys_flat]
    return tree.pack_sequence_as(init, carry_flat), tree.pack_sequence_as(probe, ys_flat)
