"""A TensorFlow `scan` that tf2onnx converts, swapped in while a function is traced for ONNX.

Keras' TensorFlow `keras.ops.scan` keeps its carry in size-1 `TensorArray`s
(written and read at index 0 every step); tf2onnx cannot map that loop to an ONNX
`Loop` ("couldn't find scan output index"). `onnx_friendly_scan` computes the same
thing with the carry as plain loop variables and every output written at the loop
counter, the pattern tf2onnx turns into `Loop` scan outputs. A reverse scan reverses
its inputs and outputs around a forward loop, since tf2onnx needs the write index to
be the counter itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from keras import tree


def onnx_friendly_scan(f, init, xs=None, length=None, reverse=False, unroll=1) -> tuple[Any, Any]:
    """`keras.ops.scan`'s semantics (as `jax.lax.scan`) in tf2onnx-convertible TensorFlow ops.

    `unroll` is accepted and ignored: the trace is one loop either way.
    """
    import tensorflow as tf

    xs_flat = [] if xs is None else [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    if reverse:
        xs_flat = [tf.reverse(x, [0]) for x in xs_flat]
    steps = tf.shape(xs_flat[0])[0] if xs_flat else int(length)
    xs_arrays = [
        tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x) for x in xs_flat
    ]

    def step_inputs(i):
        return tree.pack_sequence_as(xs, [a.read(i) for a in xs_arrays]) if xs_flat else None

    # The outputs' structure and dtypes, from one call outside the loop (pruned by the
    # converter: nothing reads it).
    first = tree.pack_sequence_as(xs, [x[0] for x in xs_flat]) if xs_flat else None
    _, probe = f(init, first)
    ys_arrays = [
        tf.TensorArray(tf.convert_to_tensor(y).dtype, size=steps) for y in tree.flatten(probe)
    ]
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
        lambda i, carry, ys: i < steps, body, (tf.constant(0), carry_flat, ys_arrays)
    )
    ys_flat = [a.stack() for a in ys_arrays]
    if reverse:
        ys_flat = [tf.reverse(y, [0]) for y in ys_flat]
    return tree.pack_sequence_as(init, carry_flat), tree.pack_sequence_as(probe, ys_flat)


@contextlib.contextmanager
def onnx_tracing() -> Iterator[None]:
    """Within the block, `keras.ops.scan` on TensorFlow runs `onnx_friendly_scan`."""
    from keras.src.backend.tensorflow import core

    original = core.scan
    core.scan = onnx_friendly_scan
    try:
        yield
    finally:
        core.scan = original
