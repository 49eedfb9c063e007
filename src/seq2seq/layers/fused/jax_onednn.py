"""oneDNN's LSTM and GRU on the JAX backend: a custom VJP around `seq2seq.native.onednn`.

One FFI call runs the whole forward sequence, input projection included, and leaves a
workspace; one call runs the whole backward sequence from it and gives the gradients of
the inputs, the initial states, both kernels and the bias. `jax_rnn` calls `sequence`
where it applies (`applies`): on the CPU, one device, no `keras.distribution`, float32
or bfloat16 kernels (bfloat16 where this CPU has oneDNN's bfloat16 products,
`bfloat16_runs_here`); otherwise the layers keep their XLA loops. Masked sequences run as
`masked_sequence`: each row's kept steps gathered to its front, one call, put back.
`matmul` is oneDNN's matrix multiply of bfloat16 operands into a float32 result, for the
products of the decoders' steps.

In bfloat16 oneDNN carries `h` in bfloat16 between steps (the generic loop keeps it in
float32), the LSTM's `c` in float32, and computes the gradients in float32.
"""

from functools import partial

import jax
import jax.numpy as jnp
import keras
import numpy as np

from seq2seq.conventions import CELL_NAMES
from seq2seq.native import onednn

# A gate pre-activation that puts the sigmoid at exactly 0 or 1 in float32 and bfloat16.
_SATURATED = 1e4


def runs_here(*arrays) -> bool:
    """Whether oneDNN can take these arrays here: known, non-empty shapes, on the CPU,
    one device (no `keras.distribution`), the kernels loaded."""
    return (
        all(isinstance(d, int) and d > 0 for a in arrays for d in a.shape)
        and jax.default_backend() == "cpu"
        and keras.distribution.distribution() is None
        and onednn.onednn_library() is not None
    )


def bfloat16_runs_here(*arrays) -> bool:
    """`runs_here`, and oneDNN has bfloat16 products on this CPU."""
    return runs_here(*arrays) and onednn.onednn_library().bfloat16


def applies(kernel, recurrent_kernel, inputs) -> bool:
    """Whether oneDNN runs this recurrence (else the caller declines)."""
    if kernel is None or recurrent_kernel.dtype != kernel.dtype or inputs.ndim != 3:
        return False
    if kernel.dtype == jnp.bfloat16:
        return bfloat16_runs_here(inputs)
    return kernel.dtype == jnp.float32 and runs_here(inputs)


def _workspace(cell, reverse, x, units):
    size = onednn.onednn_library().workspace_size(
        CELL_NAMES.index(cell), reverse, x.dtype == jnp.bfloat16, *x.shape, units
    )
    if size < 0:
        raise NotImplementedError  # no oneDNN primitive for this problem
    return jax.ShapeDtypeStruct((size,), jnp.uint8)


def _forward(cell, reverse, x, h0, c0, w_layer, w_iter, bias):
    steps, batch, _ = x.shape
    units = w_iter.shape[0]
    state = jax.ShapeDtypeStruct((batch, units), x.dtype)
    results = [jax.ShapeDtypeStruct((steps, batch, units), x.dtype), state]
    if cell == "lstm":
        results.append(jax.ShapeDtypeStruct((batch, units), jnp.float32))
    results.append(_workspace(cell, reverse, x, units))
    states = (h0,) if c0 is None else (h0, c0)
    return jax.ffi.ffi_call(onednn.OnednnLibrary.forward, tuple(results), vmap_method="sequential")(
        x, *states, w_layer, w_iter, bias, cell=np.int64(CELL_NAMES.index(cell)), reverse=reverse
    )


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _rnn(cell, reverse, x, h0, c0, w_layer, w_iter, bias):
    outputs = _forward(cell, reverse, x, h0, c0, w_layer, w_iter, bias)
    return tuple(outputs[:-1])


def _rnn_fwd(cell, reverse, x, h0, c0, w_layer, w_iter, bias):
    outputs = _forward(cell, reverse, x, h0, c0, w_layer, w_iter, bias)
    return tuple(outputs[:-1]), (x, h0, c0, w_layer, w_iter, bias, *outputs)


def _rnn_bwd(cell, reverse, residuals, cotangents):
    x, h0, c0, w_layer, w_iter, bias, *outputs = residuals
    f32 = [a.astype(jnp.float32) for a in cotangents]
    inputs = [x, h0, *([c0] if cell == "lstm" else []), w_layer, w_iter, bias, *outputs, *f32]
    primals = [x, h0, *([c0] if cell == "lstm" else []), w_layer, w_iter, bias]
    grads = jax.ffi.ffi_call(
        onednn.OnednnLibrary.backward,
        tuple(jax.ShapeDtypeStruct(a.shape, jnp.float32) for a in primals),
        vmap_method="sequential",
    )(*inputs, cell=np.int64(CELL_NAMES.index(cell)), reverse=reverse)
    grads = [g.astype(a.dtype) for g, a in zip(grads, primals)]
    if cell == "lstm":
        return tuple(grads)
    d_x, d_h0, *rest = grads
    return (d_x, d_h0, None, *rest)


_rnn.defvjp(_rnn_fwd, _rnn_bwd)


def sequence(cell, inputs, initial_state, kernel, recurrent_kernel, bias, reverse):
    """Runs `cell` (`"lstm"` or `"gru"`) over batch-major `inputs` with oneDNN.

    Args:
        cell: `"lstm"` or `"gru"`.
        inputs: `(batch, time, features)`, cast to the kernels' dtype.
        initial_state: `[h]` or `[h, c]`, `(batch, units)` each.
        kernel: `(features, gates * units)`, float32 or bfloat16.
        recurrent_kernel: `(units, gates * units)`, the kernel's dtype.
        bias: `(4, units)` float32, oneDNN's bias (for the GRU, the input and recurrent
            biases of the update and reset gates summed, then the candidate's two).
        reverse: Process from the last step; outputs keep input order.

    Returns:
        `(final_states, outputs)`: states and `(batch, time, units)` outputs in the
        dtype of `initial_state[0]`.

    Raises:
        NotImplementedError: Where oneDNN has no primitive for the problem.
    """
    dtype = kernel.dtype
    x = jnp.transpose(inputs.astype(dtype), (1, 0, 2))  # (time, batch, features)
    _workspace(cell, reverse, x, recurrent_kernel.shape[0])  # declines before any tracing
    h0 = initial_state[0]
    c0 = initial_state[1].astype(jnp.float32) if cell == "lstm" else None
    results = _rnn(
        cell,
        bool(reverse),
        x,
        h0.astype(dtype),
        c0,
        kernel,
        recurrent_kernel,
        bias.astype(jnp.float32),
    )
    outputs = jnp.transpose(results[0], (1, 0, 2)).astype(h0.dtype)
    states = [results[1].astype(h0.dtype)]
    if cell == "lstm":
        states.append(results[2].astype(initial_state[1].dtype))
    return states, outputs


def masked_sequence(cell, inputs, initial_state, kernel, recurrent_kernel, bias, reverse, mask):
    """`sequence` where `mask` (`(batch, time)`, False for padding) holds.

    A masked step keeps the state and outputs zeros, so a row's recurrence is that
    over its kept steps alone, in any pattern of padding. Each row's kept steps are
    gathered to its front, in the order they are processed (last first when
    `reverse`), one call runs the batch, and the outputs go back to their steps; the
    final `h` is the output of a row's last kept step (the initial state for a row
    with none). oneDNN gives the LSTM's cell state after the last step only, so the
    LSTM gets one more input feature, 1 on the padded steps now at the end of each
    row, whose kernel row (not trained) holds the input gate at 0 and the forget gate
    at 1 there: the cell state passes those steps unchanged, and so do its gradients.
    """
    mask = jnp.asarray(mask, bool)
    steps = inputs.shape[1]
    step = jnp.arange(steps)
    key = jnp.where(mask, steps - 1 - step if reverse else step, steps + step)
    order = jnp.argsort(key, axis=1)  # kept steps first, in processing order
    gathered = jnp.take_along_axis(inputs, order[..., None], axis=1)
    kept = jnp.sum(mask, axis=1)
    if cell == "lstm":
        padded = step[None, :] >= kept[:, None]
        gathered = jnp.concatenate([gathered, padded[..., None].astype(gathered.dtype)], axis=-1)
        units = recurrent_kernel.shape[0]
        hold = [-_SATURATED, _SATURATED, 0.0, 0.0]  # gates i, f, c, o
        row = jnp.repeat(jnp.asarray(hold, kernel.dtype), units)[None]
        kernel = jnp.concatenate([kernel, jax.lax.stop_gradient(row)], axis=0)
    states, outputs = sequence(cell, gathered, initial_state, kernel, recurrent_kernel, bias, False)
    last = jnp.take_along_axis(outputs, jnp.maximum(kept - 1, 0)[:, None, None], axis=1)[:, 0]
    h = jnp.where(kept[:, None] > 0, last, initial_state[0].astype(last.dtype))
    outputs = jnp.take_along_axis(outputs, jnp.argsort(order, axis=1)[..., None], axis=1)
    return [h, *states[1:]], outputs * mask[..., None].astype(outputs.dtype)


def _product(a, b, dtype, transpose_a=False, transpose_b=False):
    """One oneDNN call: `op(a) @ op(b)` as `dtype`, 2-D operands, `op` a transpose where asked."""
    rows = a.shape[1] if transpose_a else a.shape[0]
    columns = b.shape[0] if transpose_b else b.shape[1]
    return jax.ffi.ffi_call(
        onednn.OnednnLibrary.matmul,
        jax.ShapeDtypeStruct((rows, columns), dtype),
        vmap_method="sequential",
    )(a, b, transpose_a=transpose_a, transpose_b=transpose_b)


@jax.custom_vjp
def _matmul(a, b):
    return _product(a, b, jnp.float32)


def _matmul_fwd(a, b):
    return _product(a, b, jnp.float32), (a, b)


def _matmul_bwd(residuals, d_product):
    # Each gradient is its own call: XLA drops the one nobody uses (a kernel held
    # constant in `scan_deferring_kernels`, an input that is not differentiated).
    a, b = residuals
    d_product = d_product.astype(a.dtype)
    d_a = _product(d_product, b, a.dtype, transpose_b=True)
    d_b = _product(a, d_product, b.dtype, transpose_a=True)
    return d_a, d_b


_matmul.defvjp(_matmul_fwd, _matmul_bwd)


def matmul_applies(a, b) -> bool:
    """Whether `matmul` runs `a @ b` on oneDNN: bfloat16 operands, `b` 2-D, known shapes,
    and `bfloat16_runs_here`."""
    return (
        a.dtype == jnp.bfloat16
        and b.dtype == jnp.bfloat16
        and a.ndim >= 2
        and b.ndim == 2
        and bfloat16_runs_here(a, b)
    )


def gram(a, d):
    """`a^T @ d` in float32 over the rows of `(..., k)` and `(..., n)`, both cast to
    bfloat16, on oneDNN (see `bfloat16_runs_here`): the gradient of a kernel from its operands and
    the product's gradient."""
    rows = a.reshape(-1, a.shape[-1]).astype(jnp.bfloat16)
    d_rows = d.reshape(-1, d.shape[-1]).astype(jnp.bfloat16)
    return _product(rows, d_rows, jnp.float32, transpose_a=True)


def matmul(a, b):
    """`a @ b` in float32 from bfloat16 operands, on oneDNN (see `matmul_applies`).

    `a` is `(..., k)`, `b` `(k, n)`; the product accumulates in float32 and is not
    rounded to bfloat16. Gradients are oneDNN products too, in the operands' dtype.
    """
    rows = a.reshape(-1, a.shape[-1])
    return _matmul(rows, b).reshape(*a.shape[:-1], b.shape[1])
