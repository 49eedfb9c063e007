"""oneDNN's LSTM and GRU on the TensorFlow backend, for training.

The same kernels as on JAX (`seq2seq.native.onednn`, see `jax_onednn`): one call runs
the whole forward sequence, input projection included, and leaves a workspace; one call
runs the whole backward sequence from it. TensorFlow reaches them through
`tf.numpy_function` (the kernels are called through `ctypes`, which lets go of Python's
lock while they run) under a `tf.custom_gradient`. TensorFlow's executor otherwise runs
each step of a recurrence as a dozen small ops, forward and backward (docs/benchmarks.md).

`tf_rnn` calls `sequence` where `applies`: float32, no mask, a gradient tape recording,
outside XLA, the kernels loaded. Without a tape (inference, an exported graph, which
could not store a NumPy function) and everywhere else the layers keep `tf_rnn`'s loops,
which compute the same numbers (`tests/layers/fused/test_tf_onednn.py`).
"""

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util

from seq2seq.conventions import CELL_NAMES
from seq2seq.native import onednn


def _in_xla() -> bool:
    """Whether the op being built is in a graph (or a graph inside one) XLA compiles."""
    return not tf.executing_eagerly() and control_flow_util.GraphOrParentsInXlaContext(
        ops.get_default_graph()
    )


def applies(inputs, tensors, mask) -> bool:
    """Whether oneDNN runs this recurrence: float32 `tensors`, 3-D `inputs`, no `mask`,
    outside XLA, the kernels loaded (the caller checks for a recording tape)."""
    return (
        mask is None
        and inputs.shape.rank == 3
        and all(t.dtype == tf.float32 for t in tensors)
        and not _in_xla()
        and onednn.onednn_library() is not None
    )


def _contiguous(arrays):
    return [np.ascontiguousarray(a) for a in arrays]


def _forward(cell, reverse, *arrays):
    """The forward call on NumPy arrays: `(y, h_last, [c_last], workspace)`."""
    library = onednn.onednn_library()
    x, *_, w_iter, _ = arrays = _contiguous(arrays)
    steps, batch, features = x.shape
    units = w_iter.shape[0]
    size = library.workspace_size(cell, reverse, False, steps, batch, features, units)
    if size < 0:
        raise RuntimeError("oneDNN has no primitive for this recurrence")
    results = [np.empty((steps, batch, units), np.float32), np.empty((batch, units), np.float32)]
    if cell == CELL_NAMES.index("lstm"):
        results.append(np.empty((batch, units), np.float32))
    results.append(np.empty((size,), np.uint8))
    library.run("forward", cell, reverse, units, arrays, results)
    return results


def _backward(cell, reverse, *arrays):
    """The backward call on NumPy arrays: the gradients of the forward call's arguments."""
    arrays = _contiguous(arrays)
    primals = arrays[: 6 if cell == CELL_NAMES.index("lstm") else 5]
    results = [np.empty(a.shape, np.float32) for a in primals]
    units = primals[-2].shape[0]
    onednn.onednn_library().run("backward", cell, reverse, units, arrays, results)
    return results


def sequence(cell, inputs, initial_state, kernel, recurrent_kernel, bias, reverse):
    """Runs `cell` (`"lstm"` or `"gru"`) over batch-major float32 `inputs` with oneDNN.

    Arguments and result as `jax_onednn.sequence`'s: `bias` is oneDNN's `(4, units)`.
    """
    index = CELL_NAMES.index(cell)
    lstm = cell == "lstm"
    units = recurrent_kernel.shape[0]

    @tf.custom_gradient
    def run(x, *primals):
        types = [tf.float32] * (3 if lstm else 2) + [tf.uint8]  # y, h, [c], the workspace
        results = tf.numpy_function(
            lambda *a: _forward(index, reverse, *a), [x, *primals], types, stateful=False
        )
        y, *states, workspace = results
        y.set_shape([x.shape[0], x.shape[1], units])
        for state in states:
            state.set_shape([x.shape[1], units])

        def gradient(*cotangents):
            cotangents = [
                tf.zeros_like(r) if d is None else d for d, r in zip(cotangents, (y, *states))
            ]
            grads = tf.numpy_function(
                lambda *a: _backward(index, reverse, *a),
                [x, *primals, y, *states, workspace, *cotangents],
                [tf.float32] * (1 + len(primals)),
                stateful=False,
            )
            for g, a in zip(grads, (x, *primals)):
                g.set_shape(a.shape)
            return grads

        return (y, *states), gradient

    x = tf.transpose(inputs, (1, 0, 2))  # (time, batch, features)
    states = [initial_state[0]] + ([initial_state[1]] if lstm else [])
    y, *final = run(x, *states, kernel, recurrent_kernel, bias)
    return final, tf.transpose(y, (1, 0, 2))
