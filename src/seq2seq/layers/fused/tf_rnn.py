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

`lstm` runs a float32 LSTM (projected inputs or not, masked or not, both directions) in
that loop with its backward loop written out: `dh` there multiplies by the kernel's
transpose taken once, and the recurrent kernel's gradient is one product after it. Its
two loops run over `TensorArray`s (`_array_loop`): the backward loop reads the gates and
cell states where the forward loop wrote them, never stacked, reversed or split again.
TensorFlow's transposed product re-lays the kernel out at every step, which made the
LSTM's backward pass twice the GRU's (docs/benchmarks.md). `matmul` gives a step's
product by a kernel from outside the loop the same transposed kernel. TensorFlow's own
fused CPU LSTM, `BlockLSTMV2`, measured slower than the loop.

In training (a tape recording), a float32 LSTM or GRU over inputs not projected and not
masked runs on oneDNN instead (`tf_onednn`): one layer forward and backward in 16 ms
against the loop's 24-26 ms (batch 64, 20 steps, 256 units). The GRU declines anywhere
else (the layer's `keras.ops` loop), as do bfloat16 LSTMs, `recomputed`,
`scan_deferring_kernels`, `step` and `attention`.
"""

import tensorflow as tf
from keras import tree
from tensorflow.python.eager import record
from tensorflow.python.ops.control_flow_v2_func_graphs import WhileBodyFuncGraph

from seq2seq.layers.fused import onednn_bias, tf_onednn
from seq2seq.layers.lstm_cell import gate_scales


def _declines(*args, **kwargs):
    raise NotImplementedError


# `step` and `attention` too: the loop's step is traced once, so `keras.ops` cost
# nothing per step there.
recomputed = scan_deferring_kernels = step = attention = _declines


def runs_projected(recurrence, dtype) -> bool:
    """Whether `lstm` or `gru` (`recurrence`) runs projected inputs of `dtype`: a float32
    LSTM."""
    return recurrence == "lstm" and dtype == "float32"


def lstm(
    inputs,
    initial_state,
    recurrent_kernel,
    kernel=None,
    bias=None,
    mask=None,
    go_backwards=False,
    unroll=False,
    length=None,
):
    tensors = [inputs, *initial_state, recurrent_kernel]
    if kernel is not None:
        tensors += [kernel, bias]
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    if any(t.dtype != tf.float32 for t in tensors):
        raise NotImplementedError
    inputs, h, c, recurrent_kernel = tensors[:4]
    onednn = kernel is not None and length is None and _recording()
    if onednn and tf_onednn.applies(inputs, tensors, mask):
        kernel, bias = tensors[4], tf.reshape(tensors[5], (4, -1))
        return tf_onednn.sequence(
            "lstm", inputs, [h, c], kernel, recurrent_kernel, bias, go_backwards
        )
    if kernel is not None:  # time-major before the projection, as the layer's own loop
        projected = tf.einsum("btf,fg->tbg", inputs, tensors[4]) + tensors[5]
    elif length is not None:
        projected = tf.broadcast_to(inputs[None], tf.concat([[length], tf.shape(inputs)], 0))
    else:
        projected = inputs
    if mask is not None:
        mask = tf.transpose(tf.cast(mask, tf.float32))[..., None]  # (time, batch, 1)
    (h, c), outputs = _lstm_loop(projected, h, c, recurrent_kernel, mask, go_backwards)
    if kernel is not None:
        outputs = tf.transpose(outputs, (1, 0, 2))
    return [h, c], outputs


def gru(
    inputs,
    initial_state,
    recurrent_kernel,
    recurrent_bias,
    kernel=None,
    bias=None,
    mask=None,
    go_backwards=False,
    unroll=False,
    length=None,
):
    """On oneDNN (`tf_onednn`) in training where it applies; declines everywhere else
    (the layer's `keras.ops` loop then runs)."""
    if kernel is None or length is not None or not _recording():
        raise NotImplementedError
    tensors = [inputs, *initial_state, recurrent_kernel, recurrent_bias, kernel, bias]
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    if not tf_onednn.applies(tensors[0], tensors, mask):
        raise NotImplementedError
    inputs, h, recurrent_kernel, recurrent_bias, kernel, bias = tensors
    merged = onednn_bias.gru_bias(bias, recurrent_bias)
    return tf_onednn.sequence("gru", inputs, [h], kernel, recurrent_kernel, merged, go_backwards)


def _lstm_loop(projected, h, c, recurrent_kernel, mask, reverse):
    """The LSTM over time-major projected inputs: `((h, c), outputs)`.

    With a tape recording, its gradient is written out (`tf.custom_gradient`): a loop
    back over the steps from the gates and cell states the forward loop kept, whose
    `dh = dz @ K^T` multiplies by the kernel's transpose taken once before it
    (TensorFlow's transposed product, `MatMul` with `transpose_b`, re-lays the kernel
    out at every step: 0.55 ms against 0.21 ms for `(64, 1024) @ (1024, 256)`), and the
    recurrent kernel's gradient as one product after it, `sum_t h_{t-1}^T dz_t`. The
    forward loop keeps, per step, the gates, `tanh(c)` and the `c` before the step in
    `TensorArray`s that the backward loop reads as they are.
    """
    units = recurrent_kernel.shape[0]
    scale = tf.constant(gate_scales(units)[0])  # the cell's single sigmoid (`LSTMCell.step`)

    def step(carry, inputs, kernel):
        """A step: the new `(h, c)`, and what the backward loop reads: `h`, the gates,
        `tanh(c)` and the `c` before the step."""
        h, c = carry
        z_t = inputs[0]
        gates = tf.sigmoid((z_t + tf.matmul(h, kernel)) * scale)
        i, f, g, o = tf.split(gates, 4, axis=-1)
        new_c = f * c + i * (2.0 * g - 1.0)  # g = sigmoid(2 z_g): 2 g - 1 = tanh(z_g)
        tanh_c = tf.tanh(new_c)
        new_h = o * tanh_c
        if mask is not None:
            m = inputs[1]
            new_h = m * new_h + (1.0 - m) * h
            new_c = m * new_c + (1.0 - m) * c
        return (new_h, new_c), (new_h, gates, tanh_c, c)

    if not _recording():  # inference (an exported graph): no gradient to arrange

        def inference_step(carry, x):
            carry, kept = step(carry, x, recurrent_kernel)
            return carry, kept[0]

        xs = [projected] if mask is None else [projected, mask]
        final, hs = scan(inference_step, (h, c), xs, reverse=reverse)
        return final, hs if mask is None else hs * mask
    transposed = tf.stop_gradient(tf.transpose(recurrent_kernel))

    @tf.custom_gradient
    def run(projected, h, c, recurrent_kernel):
        steps = _steps(projected)
        inputs = [
            _unstacked(x, steps) for x in ([projected] if mask is None else [projected, mask])
        ]
        kept = [tf.TensorSpec(shape) for shape in (h.shape, projected.shape[1:], h.shape, h.shape)]
        (last_h, last_c), (hs, gates, tanh_cs, c_befores) = _array_loop(
            lambda carry, x: step(carry, x, recurrent_kernel),
            (h, c),
            inputs,
            steps,
            kept,
            reverse,
        )
        hs = hs.stack()
        outputs = hs if mask is None else hs * mask

        def gradient(d_h, d_c, d_outputs):
            d_h = tf.zeros_like(last_h) if d_h is None else d_h
            d_c = tf.zeros_like(last_c) if d_c is None else d_c
            d_outputs = tf.zeros_like(outputs) if d_outputs is None else d_outputs

            def back(carry, inputs):
                dh, dc = carry
                d_out, s, tanh_c, c_before = inputs[:4]
                i, f, g, o = tf.split(s, 4, axis=-1)
                d_hc, d_cc = dh + d_out, dc  # the step's own h and c
                if mask is not None:  # a padded step's tanh(c) is multiplied by 0 here
                    m = inputs[4]
                    d_hc, d_cc = m * d_hc, m * d_cc
                d_cell = d_cc + d_hc * o * (1.0 - tanh_c * tanh_c)
                d_gates = tf.concat(
                    [d_cell * (2.0 * g - 1.0), d_cell * c_before, 2.0 * d_cell * i, d_hc * tanh_c],
                    axis=-1,
                )
                dz = d_gates * s * (1.0 - s) * scale
                dh_before, dc_before = tf.matmul(dz, transposed), d_cell * f
                if mask is not None:  # a padded step passed its states on unchanged
                    dh_before = dh_before + (1.0 - m) * dh
                    dc_before = dc_before + (1.0 - m) * dc
                return (dh_before, dc_before), (dz,)

            arrays = [_unstacked(d_outputs, steps), gates, tanh_cs, c_befores] + inputs[1:]
            (d_h0, d_c0), (d_z,) = _array_loop(
                back, (d_h, d_c), arrays, steps, [tf.TensorSpec(projected.shape[1:])], not reverse
            )
            d_z = d_z.stack()
            # Each step's `h` before it: the outputs carried, shifted by one step.
            if reverse:
                h_prev = tf.concat([hs[1:], h[None]], 0)
            else:
                h_prev = tf.concat([h[None], hs[:-1]], 0)
            d_kernel = tf.matmul(
                tf.reshape(h_prev, (-1, units)),
                tf.reshape(d_z, (-1, 4 * units)),
                transpose_a=True,
            )
            return d_z, d_h0, d_c0, d_kernel

        return (last_h, last_c, outputs), gradient

    last_h, last_c, outputs = run(projected, h, c, recurrent_kernel)
    return (last_h, last_c), outputs


def _steps(x):
    """The number of steps of time-major `x`: static where known."""
    return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def _unstacked(x, steps):
    """Time-major `x` as a `TensorArray` of its steps (read as often as wanted: eagerly,
    one is cleared after a read by default)."""
    array = tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:], clear_after_read=False)
    return array.unstack(x)


def _array_loop(f, init, arrays, steps, output_specs, reverse):
    """A loop over `TensorArray`s: `(final_carry, output TensorArrays)`.

    `f(carry, inputs) -> (carry, outputs)` runs at each step `t` on the elements `t` of
    `arrays` (lists, `carry` a list of tensors) and writes its `outputs` (of
    `output_specs`, `tf.TensorSpec`s) at `t`. With `reverse`, `t` counts down from the
    last step, read and written where it is: no reversed copy of the inputs and
    outputs, and the LSTM's backward loop reads the arrays its forward loop wrote as
    they are, never stacked. Without, `t` is the loop counter itself (tf2onnx needs
    that of an exported loop). Bounded by `steps`, so XLA can compile it.
    """
    outputs = [
        tf.TensorArray(spec.dtype, size=steps, element_shape=spec.shape, clear_after_read=False)
        for spec in output_specs
    ]
    init = [tf.convert_to_tensor(c) for c in init]

    def body(i, carry, outputs):
        t = steps - 1 - i if reverse else i
        carry, ys = f(carry, [a.read(t) for a in arrays])
        outputs = [a.write(t, y) for a, y in zip(outputs, ys)]
        carry = [
            tf.ensure_shape(tf.convert_to_tensor(new), old.shape) for new, old in zip(carry, init)
        ]
        return i + 1, carry, outputs

    _, carry, outputs = tf.while_loop(
        lambda i, carry, outputs: i < steps,
        body,
        (tf.constant(0), init, outputs),
        maximum_iterations=steps,
    )
    return carry, outputs


def _recording() -> bool:
    """Whether a gradient tape is recording: without one (inference, an exported
    graph) the loops need no custom gradient, which a SavedModel could not store (its
    gradient function captures the forward loop's tensors)."""
    return record.could_possibly_record()


def matmul(a, b):
    """`a @ b` in a loop's step, `b` the same at every step (a kernel read or captured
    from outside the loop): `a`'s gradient multiplies by `b`'s transpose, taken once
    before the loop (`_transposed_before_loop`). Declines outside a loop's body and for
    a `b` the step computes."""
    b = tf.convert_to_tensor(b)  # a variable: read in the step
    transposed = _transposed_before_loop(b) if _recording() else None
    if transposed is None:
        raise NotImplementedError
    return _product(a, b, transposed)


def _transposed_before_loop(b):
    """`b`'s transpose computed in the graph around the loop whose step reads `b`, or None.

    `b` qualifies when it comes from outside the loop: a tensor of an enclosing graph
    (transposed there), or a value the body captured, possibly read from a variable and
    cast on the way (`ops.cast(layer.kernel, compute_dtype)`: those ops run again
    outside, then the transpose).
    """
    if tf.executing_eagerly() or len(b.shape) != 2:
        return None
    graph = tf.compat.v1.get_default_graph()
    if not isinstance(graph, WhileBodyFuncGraph):
        return None
    if b.graph is not graph:
        outer = graph.outer_graph
        while outer is not None and outer is not b.graph:
            outer = getattr(outer, "outer_graph", None)
        if outer is None:
            return None
        with b.graph.as_default():
            return tf.stop_gradient(tf.transpose(b))
    chain, source = [], b
    while source.op.type in ("Cast", "Identity", "ReadVariableOp"):
        chain.append(source.op)
        source = source.op.inputs[0]
    external = next((e for e, internal in graph.captures if internal is source), None)
    if external is None:
        return None
    with graph.outer_graph.as_default():
        value = external
        for op in reversed(chain):
            if op.type == "ReadVariableOp":
                value = tf.raw_ops.ReadVariableOp(resource=value, dtype=op.get_attr("dtype"))
            elif op.type == "Cast":
                value = tf.cast(value, op.get_attr("DstT"))
        transposed = tf.stop_gradient(tf.transpose(value))
    return graph.capture(transposed)


def _product(a, kernel, transposed):
    """`a @ kernel` with its gradient written out: `a`'s is `dz @ transposed`, the
    kernel's `a^T dz`."""

    @tf.custom_gradient
    def product(a, kernel):
        def gradient(dz):
            rows = tf.reshape(a, (-1, a.shape[-1]))
            d_kernel = tf.matmul(rows, tf.reshape(dz, (-1, dz.shape[-1])), transpose_a=True)
            return tf.matmul(dz, transposed), d_kernel

        return tf.matmul(a, kernel), gradient

    return product(a, kernel)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """`keras.ops.scan`'s semantics (as `jax.lax.scan`'s) in a loop XLA differentiates.

    `unroll` is accepted and ignored: TensorFlow runs one loop either way.
    """
    xs_flat = [] if xs is None else [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    if reverse:  # a loop that writes at its counter (`_array_loop`'s forward order)
        xs_flat = [tf.reverse(x, [0]) for x in xs_flat]
    steps = _steps(xs_flat[0]) if xs_flat else int(length)
    xs_arrays = [_unstacked(x, steps) for x in xs_flat]

    def pack_inputs(inputs):
        return tree.pack_sequence_as(xs, inputs) if xs_flat else None

    # The outputs' structure, dtypes and shapes, from one call outside the loop (pruned:
    # nothing reads it).
    _, probe = f(init, pack_inputs([x[0] for x in xs_flat]))
    specs = [tf.TensorSpec.from_tensor(tf.convert_to_tensor(y)) for y in tree.flatten(probe)]

    def step(carry_flat, inputs):
        carry, ys = f(tree.pack_sequence_as(init, carry_flat), pack_inputs(inputs))
        return tree.flatten(carry), tree.flatten(ys)

    carry_flat, ys_arrays = _array_loop(step, tree.flatten(init), xs_arrays, steps, specs, False)
    ys_flat = [a.stack() for a in ys_arrays]
    if reverse:
        ys_flat = [tf.reverse(y, [0]) for y in ys_flat]
    return tree.pack_sequence_as(init, carry_flat), tree.pack_sequence_as(probe, ys_flat)
