"""The fused recurrences on the TensorFlow backend (see `seq2seq.layers.fused`).

On TensorFlow a `keras.ops.scan` recurrence is a `tf.while_loop`: per step, a round of
small ops and the loop's own bookkeeping, forward and backward. `BlockLSTMV2`,
TensorFlow's fused LSTM op (the kernel behind the former `LSTMBlockFusedCell`), runs the
whole sequence in one C++ op, and `BlockLSTMGradV2` its backward pass. Its V2 layout
is Keras': gates i, f, c, o over `[x_t, h_{t-1}] @ [kernel; recurrent_kernel] + bias`,
without peepholes or a cell clip, so the cell's weights go in as they are.

`lstm` declines (`NotImplementedError`) inputs already projected (the op projects them
itself), a mask (the op runs every row for the same number of steps), a dtype other
than float32 (mixed precision included), `unroll` and an empty sequence. TensorFlow has
no fused GRU over a sequence (`GRUBlockCell` is one step), so `gru` declines, as do
`matmul`, `recomputed` and the deferred-kernel scan.

The op has no XLA kernel, so `lstm` also declines inside a function that XLA compiles
(`jit_compile=True`: compiled generation, a model compiled with XLA); the models train
without XLA on TensorFlow by default (`Seq2SeqModel.compile`).
"""

import tensorflow as tf
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util


def runs_projected(recurrence, dtype) -> bool:
    """Whether `lstm` or `gru` (`recurrence`) runs projected inputs of `dtype`: never."""
    return False


def matmul(a, b):
    """Declines: `keras.ops.matmul` is `tf.matmul`, which has no faster variant here."""
    raise NotImplementedError


def recomputed(function):
    """Declines: the attention loop keeps its energy, as Keras' loop does."""
    raise NotImplementedError


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
    if kernel is None or mask is not None or unroll or length is not None or _in_xla():
        raise NotImplementedError
    inputs = tf.convert_to_tensor(inputs)
    h, c = (tf.convert_to_tensor(state) for state in initial_state)
    weights = [tf.convert_to_tensor(w) for w in (kernel, recurrent_kernel, bias)]
    tensors = [inputs, h, c, *weights]
    if any(t.dtype != tf.float32 for t in tensors) or not inputs.shape[1]:
        raise NotImplementedError
    x = tf.transpose(inputs, (1, 0, 2))  # time-major
    if go_backwards:
        x = tf.reverse(x, [0])
    hs, cs = _block_lstm(x, h, c, tf.concat(weights[:2], axis=0), weights[2])
    outputs = tf.reverse(hs, [0]) if go_backwards else hs
    return [hs[-1], cs[-1]], tf.transpose(outputs, (1, 0, 2))


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
    """Declines: TensorFlow has no fused GRU over a whole sequence."""
    raise NotImplementedError


def scan_deferring_kernels(body, init, xs, kernels, unroll=1):
    raise NotImplementedError


def _in_xla() -> bool:
    """Whether the op being built is in a graph (or a graph inside one) XLA compiles."""
    return not tf.executing_eagerly() and control_flow_util.GraphOrParentsInXlaContext(
        ops.get_default_graph()
    )


@tf.custom_gradient
def _block_lstm(x, h, c, w, b):
    """`(hs, cs)`, each `(time, batch, units)`, of `BlockLSTMV2` over time-major `x`."""
    no_peephole = tf.zeros(tf.shape(b)[:1] // 4, b.dtype)
    steps = tf.cast(tf.shape(x)[0], tf.int64)
    arguments = dict(
        seq_len_max=steps, x=x, cs_prev=c, h_prev=h, w=w, wci=no_peephole,
        wcf=no_peephole, wco=no_peephole, b=b,
    )  # fmt: skip
    i, cs, f, o, ci, co, hs = tf.raw_ops.BlockLSTMV2(
        **arguments, cell_clip=-1.0, use_peephole=False
    )

    def gradient(d_hs, d_cs):
        d_hs = tf.zeros_like(hs) if d_hs is None else d_hs
        d_cs = tf.zeros_like(cs) if d_cs is None else d_cs
        d_x, d_c, d_h, d_w, _, _, _, d_b = tf.raw_ops.BlockLSTMGradV2(
            **arguments, i=i, cs=cs, f=f, o=o, ci=ci, co=co, h=hs, cs_grad=d_cs, h_grad=d_hs,
            use_peephole=False,
        )  # fmt: skip
        return d_x, d_h, d_c, d_w, d_b

    return (hs, cs), gradient
