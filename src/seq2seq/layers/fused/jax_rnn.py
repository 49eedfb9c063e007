"""The fused recurrences on the JAX backend (see `seq2seq.layers.fused`).

float32 `lstm` runs inputs already projected through `jax_lstm`'s custom VJP, whose
kernel gradient is one matrix multiply after the loop; the layer projects every step in
one matrix multiply before it. `gru` (float32, bfloat16), bfloat16 `lstm` and float32
`lstm` from `ONEDNN_LSTM_UNITS` units on a CPU with AVX-512 (`hardware.avx512`; without
it XLA's loop is faster) run inputs not yet projected on oneDNN (`jax_onednn`), masked or
not; other inputs not projected are declined.
`scan_deferring_kernels` gives the decoders' loops (teacher-forced and free-running) the
same treatment as the float32 LSTM, for float32 and bfloat16 kernels. `matmul` runs
bfloat16 products on oneDNN (`jax_onednn.matmul`) where this CPU has them: XLA's CPU
bfloat16 dot is no faster than its float32 one; elsewhere XLA's dot, accumulated and
returned in float32 as oneDNN's. In float32 XLA's dot is as fast as oneDNN's and is kept.
"""

import jax
import jax.numpy as jnp

from seq2seq import hardware
from seq2seq.layers.fused import jax_onednn, onednn_bias
from seq2seq.layers.fused.jax_lstm import kernel_gradient, lstm_sequence

# The float32 LSTM's units from which oneDNN runs it (below, `jax_lstm`'s native loops):
# one layer forward and backward, batch 64, 20 steps, 2 cores (docs/benchmarks.md):
# oneDNN 0.85x the native loops at 64 units, 1.21x at 256, 1.36x at 512.
ONEDNN_LSTM_UNITS = 256


def runs_projected(recurrence, dtype) -> bool:
    """Whether `lstm` or `gru` (`recurrence`) runs projected inputs of `dtype`."""
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
    if (
        kernel is not None
        and (
            kernel.dtype == jnp.bfloat16
            or (recurrent_kernel.shape[0] >= ONEDNN_LSTM_UNITS and hardware.avx512())
        )
        and jax_onednn.applies(kernel, recurrent_kernel, inputs)
    ):
        arguments = (inputs, initial_state, kernel, recurrent_kernel, bias.reshape(4, -1))
        if mask is not None:
            return jax_onednn.masked_sequence("lstm", *arguments, go_backwards, mask)
        return jax_onednn.sequence("lstm", *arguments, go_backwards)
    arrays = [inputs, *initial_state, recurrent_kernel]
    if kernel is not None or not all(runs_projected("lstm", a.dtype) for a in arrays):
        raise NotImplementedError
    if mask is not None:
        if length is not None:  # the masked loop takes one input per step
            inputs = jnp.broadcast_to(inputs[None], (length, *inputs.shape))
            length = None
        mask = jnp.transpose(jnp.asarray(mask, inputs.dtype), (1, 0))[..., None]  # (time, batch, 1)
    steps = length if length is not None else inputs.shape[0]
    factor = (steps or 1) if unroll is True else 1
    return lstm_sequence(
        inputs, *initial_state, recurrent_kernel, go_backwards, factor, length, mask
    )


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
    if not jax_onednn.applies(kernel, recurrent_kernel, inputs):
        raise NotImplementedError
    merged = onednn_bias.gru_bias(bias, recurrent_bias)
    arguments = (inputs, initial_state, kernel, recurrent_kernel, merged)
    if mask is not None:
        return jax_onednn.masked_sequence("gru", *arguments, go_backwards, mask)
    return jax_onednn.sequence("gru", *arguments, go_backwards)


def matmul(a, b):
    if jax_onednn.matmul_applies(a, b):
        return jax_onednn.matmul(a, b)
    if a.dtype == jnp.bfloat16 and b.dtype == jnp.bfloat16:
        # No oneDNN bfloat16 here: XLA's product, accumulated and returned in float32 (not
        # rounded to bfloat16), the numbers oneDNN's gives.
        return jnp.matmul(a, b, preferred_element_type=jnp.float32)
    raise NotImplementedError


def recomputed(function):
    return jax.checkpoint(function)


def _kernel_gradient(operands, d_outputs, kernel):
    """`kernel_gradient` in `kernel`'s dtype: for a bfloat16 kernel, bfloat16 products on
    oneDNN where they apply (as the step's own products), else XLA's float32 one."""
    if kernel.dtype == jnp.bfloat16 and jax_onednn.bfloat16_runs_here(operands, d_outputs):
        return jax_onednn.gram(operands, d_outputs).astype(kernel.dtype)
    return kernel_gradient(operands, d_outputs).astype(kernel.dtype)


def scan_deferring_kernels(body, init, xs, kernels, unroll=1):
    if not all(kernel.dtype in (jnp.float32, jnp.bfloat16) for kernel in kernels):
        raise NotImplementedError

    def run(init, xs, kernels):
        def step(carry, x_t):
            constant = tuple(jax.lax.stop_gradient(k) for k in kernels)
            carry, y, operands = body(constant, carry, x_t)
            return carry, (y, tuple(operands))

        return jax.lax.scan(step, init, xs, unroll=unroll)

    converted, consts = jax.closure_convert(run, init, xs, kernels)

    def forward(init, xs, kernels, consts):
        return jax.vjp(lambda i, x, c: converted(i, x, kernels, *c), init, xs, consts)

    @jax.custom_vjp
    def loop(init, xs, kernels, consts):
        carry, (ys, _) = converted(init, xs, kernels, *consts)
        return carry, ys

    def loop_fwd(init, xs, kernels, consts):
        (carry, (ys, operands)), pullback = forward(init, xs, kernels, consts)
        return (carry, ys), (pullback, operands)

    def loop_bwd(residuals, cotangents):
        pullback, operands = residuals
        d_carry, d_ys = cotangents
        zeros = tuple(jnp.zeros_like(a) for a in operands)
        d_init, d_xs, d_consts = pullback((d_carry, (d_ys, zeros)))
        d_kernels = tuple(_kernel_gradient(a, d_xs, k) for a, k in zip(operands, kernels))
        return d_init, d_xs, d_kernels, d_consts

    loop.defvjp(loop_fwd, loop_bwd)
    return loop(init, xs, tuple(kernels), consts)


def step(recurrence, projected, states, recurrent_kernel, recurrent_bias=None):
    """Declines: the loop's step is traced once, so `keras.ops` cost nothing per step."""
    raise NotImplementedError


def attention(query, keys, memory, mask, query_kernel, score_vector):
    """Declines, as `step`."""
    raise NotImplementedError
