"""The JAX LSTM: a custom VJP around the recurrence, its loops native on the CPU.

JAX's automatic derivative of `lax.scan` accumulates the recurrent kernel's gradient
step by step: T small matrix multiplies whose inner dimension is the batch. This
module's custom VJP stores the gates' sigmoids in the forward scan (one sigmoid over
all four gates, see `lstm_cell.gate_scales`), runs the backward recurrence for
`dh`/`dc` only, and computes the kernel's gradient after the loop as one large matrix
multiply over all steps. It takes inputs already projected, masked or not. On the CPU
the two loops themselves run as native calls where `seq2seq.native` is built (float32,
units a multiple of 16, no `keras.distribution`; above 128 units the backward loop alone,
and only on a CPU with AVX-512, `hardware.avx512`), else as `lax.scan`. `jax_rnn` calls
it for the fused `lstm` (`seq2seq.layers.fused`); `tests/layers/fused/test_jax_lstm.py`
checks that all paths give the same outputs and gradients.
"""

import keras

from seq2seq import hardware, native
from seq2seq.layers.lstm_cell import gate_scales


def kernel_gradient(operands, d_outputs):
    """`sum_t operands[t]^T @ d_outputs[t]` over stacked steps, as one matrix multiply.

    On one device the steps and the batch are merged into the rows of one product. Under
    a `keras.distribution` (data parallel: the batch axis sharded) that reshape would
    make XLA gather every step's activations on every device, so the product contracts
    the step and batch axes in place instead: each device keeps its partial sum, which
    the gradients' all-reduce combines. (On one device the contraction costs two
    transposed copies of the operands, hence the reshape there.)
    """
    if keras.distribution.distribution() is None:
        return operands.reshape(-1, operands.shape[-1]).T @ d_outputs.reshape(
            -1, d_outputs.shape[-1]
        )
    from jax import lax

    axes = tuple(range(operands.ndim - 1))
    return lax.dot_general(operands, d_outputs, ((axes, axes), ((), ())))


def _build():
    from functools import partial

    import jax
    import jax.numpy as jnp
    import numpy as np

    def states_before(initial, states, reverse):
        """The state (`h` or `c`) each step started from, in input order."""
        if reverse:
            return jnp.concatenate([states[1:], initial[None]], axis=0)
        return jnp.concatenate([initial[None], states[:-1]], axis=0)

    def cell_update(z, c):
        """The LSTM step from pre-activations `z`: new `h`, new `c`, and the sigmoids `s`."""
        s = jax.nn.sigmoid(z * gate_scales(c.shape[-1])[0].astype(z.dtype))
        i, f, g, o = jnp.split(s, 4, axis=-1)
        c_new = f * c + i * (2.0 * g - 1.0)
        return o * jnp.tanh(c_new), c_new, s

    def gate_gradient(dh, dc, c_before, tanh_c, s):
        """Gradient of the gate pre-activations `z` from those of the new `h` and `c`."""
        derivative = gate_scales(dh.shape[-1])[1].astype(s.dtype)
        i, f, g, o = jnp.split(s, 4, axis=-1)
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        upstream = jnp.concatenate(
            [dc * (2.0 * g - 1.0), dc * c_before, dc * i, dh * tanh_c], axis=-1
        )
        return upstream * derivative * s * (1.0 - s), dc * f

    # The native forward loop's matrix multiply is slower than XLA's from hidden 256 on
    # (measured, T=20: batch 64 at par, batch 1,024 0.73x; batch 64 at hidden 512 0.76x),
    # where XLA's per-step product is large enough to use every core. With AVX-512 its
    # backward loop was at par or faster at every size measured (hidden 64-512, batch
    # 64-1,024); with AVX2 alone (8-float vectors) level at 256 and slower at 512, so
    # there both loops stop at `max_units` (docs/benchmarks.md, "An AVX2-only CPU").
    max_units = 128

    def native_or_xla(native_loop, xla_loop, arrays, units, forward):
        """`native_loop(*arrays)` on the CPU where `seq2seq.native` applies, else
        `xla_loop(*arrays)`."""
        applies = (
            units % 16 == 0
            and (units <= max_units or (not forward and hardware.avx512()))
            and all(a.dtype == jnp.float32 for a in arrays)
            # Data parallel: XLA cannot partition a custom call over the batch.
            and keras.distribution.distribution() is None
            and native.lstm_library() is not None
        )
        if not applies:
            return xla_loop(*arrays)
        return jax.lax.platform_dependent(*arrays, cpu=native_loop, default=xla_loop)

    def native_forward(projected, h0, c0, kernel, reverse, length):
        steps = projected.shape[0] if length is None else length
        states = jax.ShapeDtypeStruct((steps, *h0.shape), h0.dtype)
        gates = jax.ShapeDtypeStruct((steps, h0.shape[0], kernel.shape[1]), h0.dtype)
        hs, cs, gates = jax.ffi.ffi_call(
            "seq2seq_lstm_forward", (states, states, gates), vmap_method="sequential"
        )(projected, h0, c0, kernel, reverse=reverse, steps=np.int64(steps))
        last = 0 if reverse else -1
        return (hs, hs[last], cs[last]), (hs, cs, gates)

    def forward_scan(projected, h0, c0, kernel, reverse, unroll, length):
        return native_or_xla(
            lambda *a: native_forward(*a, reverse, length),
            lambda *a: xla_forward_scan(*a, reverse, unroll, length),
            (projected, h0, c0, kernel),
            h0.shape[-1],
            forward=True,
        )

    def xla_forward_scan(projected, h0, c0, kernel, reverse, unroll, length):
        constant = length is not None  # one (batch, 4 * units) input for every step

        def body(carry, z_t):
            h, c = carry
            h_new, c_new, gates = cell_update((projected if constant else z_t) + h @ kernel, c)
            return (h_new, c_new), (h_new, c_new, gates)

        (h, c), (hs, cs, gates) = jax.lax.scan(
            body,
            (h0, c0),
            None if constant else projected,
            length=length,
            reverse=reverse,
            unroll=unroll,
        )
        return (hs, h, c), (hs, cs, gates)

    @partial(jax.custom_vjp, nondiff_argnums=(4, 5, 6))
    def lstm(projected, h0, c0, kernel, reverse, unroll, length):
        return forward_scan(projected, h0, c0, kernel, reverse, unroll, length)[0]

    def lstm_fwd(projected, h0, c0, kernel, reverse, unroll, length):
        out, (hs, cs, gates) = forward_scan(projected, h0, c0, kernel, reverse, unroll, length)
        return out, (h0, c0, kernel, hs, cs, gates)

    def lstm_bwd(reverse, unroll, length, residuals, cotangents):
        h0, c0, kernel, hs, cs, gates = residuals
        d_hs, d_h_last, d_c_last = cotangents
        dzs, dh0, dc0, d_sum = native_or_xla(
            lambda *a: native_backward(*a, reverse, length is not None),
            lambda *a: xla_backward(*a, reverse, unroll, length is not None),
            (d_hs, d_h_last, d_c_last, cs, c0, gates, kernel),
            c0.shape[-1],
            forward=False,
        )
        d_kernel = kernel_gradient(states_before(h0, hs, reverse), dzs)
        return (d_sum if length is not None else dzs), dh0, dc0, d_kernel

    def native_backward(d_hs, d_h_last, d_c_last, cs, c0, gates, kernel, reverse, constant):
        shapes = (gates, d_h_last, d_c_last, gates[0])
        return jax.ffi.ffi_call(
            "seq2seq_lstm_backward",
            tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in shapes),
            vmap_method="sequential",
        )(d_hs, d_h_last, d_c_last, cs, c0, gates, kernel.T, reverse=reverse, sum=constant)

    def xla_backward(d_hs, d_h_last, d_c_last, cs, c0, gates, kernel, reverse, unroll, constant):
        """`(dzs, dh0, dc0, d_sum)`: the gates' gradients, `d_sum` their sum if `constant`."""
        c_prev = states_before(c0, cs, reverse)
        kernel_t = kernel.T

        def body(carry, xs):
            dh_next, dc_next, d_sum = carry
            d_h_t, c_t, c_before, gate_t = xs
            dz, dc_prev = gate_gradient(d_h_t + dh_next, dc_next, c_before, jnp.tanh(c_t), gate_t)
            # A constant input's gradient is summed here: a separate reduction over
            # the stacked steps is several times slower on XLA's CPU backend.
            d_sum = d_sum + dz if d_sum is not None else None
            return (dz @ kernel_t, dc_prev, d_sum), dz

        d_sum0 = jnp.zeros_like(gates[0]) if constant else None
        (dh0, dc0, d_sum), dzs = jax.lax.scan(
            body,
            (d_h_last, d_c_last, d_sum0),
            (d_hs, cs, c_prev, gates),
            reverse=not reverse,
            unroll=unroll,
        )
        return dzs, dh0, dc0, (d_sum if constant else jnp.zeros_like(gates[0]))

    lstm.defvjp(lstm_fwd, lstm_bwd)

    # Masked sequences: a padded step keeps the previous state and outputs zeros.
    def masked_scan(projected, mask, h0, c0, kernel, reverse, unroll):
        return native_or_xla(
            lambda *a: native_masked_scan(*a, reverse),
            lambda *a: xla_masked_scan(*a, reverse, unroll),
            (projected, mask, h0, c0, kernel),
            h0.shape[-1],
            forward=True,
        )

    def native_masked_scan(projected, mask, h0, c0, kernel, reverse):
        states = jax.ShapeDtypeStruct((projected.shape[0], *h0.shape), h0.dtype)
        gates = jax.ShapeDtypeStruct(projected.shape, projected.dtype)
        hs, cs, gates, cs_new = jax.ffi.ffi_call(
            "seq2seq_lstm_forward_masked",
            (states, states, gates, states),
            vmap_method="sequential",
        )(projected, mask, h0, c0, kernel, reverse=reverse)
        last = 0 if reverse else -1
        return (hs * mask, hs[last], cs[last]), (hs, cs, cs_new, gates)

    def xla_masked_scan(projected, mask, h0, c0, kernel, reverse, unroll):
        def body(carry, xs):
            h, c = carry
            z_t, m = xs
            h_new, c_new, gates = cell_update(z_t + h @ kernel, c)
            h = m * h_new + (1.0 - m) * h
            c = m * c_new + (1.0 - m) * c
            return (h, c), (h, c, c_new, gates)

        (h, c), (hs, cs, cs_new, gates) = jax.lax.scan(
            body, (h0, c0), (projected, mask), reverse=reverse, unroll=unroll
        )
        return (hs * mask, h, c), (hs, cs, cs_new, gates)

    @partial(jax.custom_vjp, nondiff_argnums=(5, 6))
    def masked_lstm(projected, mask, h0, c0, kernel, reverse, unroll):
        return masked_scan(projected, mask, h0, c0, kernel, reverse, unroll)[0]

    def masked_fwd(projected, mask, h0, c0, kernel, reverse, unroll):
        out, saved = masked_scan(projected, mask, h0, c0, kernel, reverse, unroll)
        return out, (mask, h0, c0, kernel, *saved)

    def masked_bwd(reverse, unroll, residuals, cotangents):
        mask, h0, c0, kernel, hs, cs, cs_new, gates = residuals
        d_out, d_h_last, d_c_last = cotangents
        dzs, dh0, dc0 = native_or_xla(
            lambda *a: native_masked_backward(*a, reverse),
            lambda *a: xla_masked_backward(*a, reverse, unroll),
            (d_out, mask, d_h_last, d_c_last, cs, cs_new, c0, gates, kernel),
            c0.shape[-1],
            forward=False,
        )
        h_prev = states_before(h0, hs, reverse)
        return dzs, jnp.zeros_like(mask), dh0, dc0, kernel_gradient(h_prev, dzs)

    def native_masked_backward(d_out, mask, d_h_last, d_c_last, cs, cs_new, c0, gates, kernel,
                               reverse):  # fmt: skip
        shapes = (gates, d_h_last, d_c_last)
        return jax.ffi.ffi_call(
            "seq2seq_lstm_backward_masked",
            tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in shapes),
            vmap_method="sequential",
        )(d_out, mask, d_h_last, d_c_last, cs, cs_new, c0, gates, kernel.T, reverse=reverse)

    def xla_masked_backward(d_out, mask, d_h_last, d_c_last, cs, cs_new, c0, gates, kernel,
                            reverse, unroll):  # fmt: skip
        c_prev = states_before(c0, cs, reverse)
        kernel_t = kernel.T

        def body(carry, xs):
            dh_next, dc_next = carry
            d_out_t, m, c_new, c_before, gate_t = xs
            dh = d_out_t * m + dh_next  # the state kept after this step
            dz, dc_prev = gate_gradient(m * dh, m * dc_next, c_before, jnp.tanh(c_new), gate_t)
            keep = 1.0 - m
            return (dz @ kernel_t + keep * dh, dc_prev + keep * dc_next), dz

        (dh0, dc0), dzs = jax.lax.scan(
            body,
            (d_h_last, d_c_last),
            (d_out, mask, cs_new, c_prev, gates),
            reverse=not reverse,
            unroll=unroll,
        )
        return dzs, dh0, dc0

    masked_lstm.defvjp(masked_fwd, masked_bwd)
    return jax.jit(lstm, static_argnums=(4, 5, 6)), jax.jit(masked_lstm, static_argnums=(5, 6))


_LSTM = None


def lstm_sequence(
    projected, h0, c0, recurrent_kernel, reverse=False, unroll=1, length=None, mask=None
):
    """Runs the LSTM recurrence over time-major projected inputs on JAX.

    Args:
        projected: `(time, batch, 4 * units)` input projections (bias included), or
            `(batch, 4 * units)`, the same input at each of `length` steps.
        h0: `(batch, units)` initial hidden state.
        c0: `(batch, units)` initial cell state.
        recurrent_kernel: `(units, 4 * units)`.
        reverse: Process from the last step; outputs keep input order.
        unroll: Scan unroll factor.
        length: Number of steps when `projected` is one step's input; else None.
        mask: Optional `(time, batch, 1)` floats, 0 at padding: a padded step keeps the
            previous state and outputs zeros (as `run_steps` does). Not with `length`.

    Returns:
        `(final_states, outputs)` as `run_steps` returns them: `[h, c]` and
        `(time, batch, units)`.
    """
    global _LSTM
    if _LSTM is None:
        _LSTM = _build()
    plain, masked = _LSTM
    if mask is not None:
        if length is not None:
            raise ValueError(
                "Invalid arguments: `mask` needs one projected input per step. Expected "
                f"length=None with a mask. Received: length={length!r}"
            )
        hs, h, c = masked(projected, mask, h0, c0, recurrent_kernel, bool(reverse), int(unroll))
    else:
        hs, h, c = plain(projected, h0, c0, recurrent_kernel, bool(reverse), int(unroll), length)
    return [h, c], hs
