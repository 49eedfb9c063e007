"""The JAX LSTM fast path agrees with the generic scan, outputs and gradients."""

import keras
import numpy as np
import pytest

from seq2seq.layers import fast_recurrence
from seq2seq.layers.lstm_cell import LSTMCell
from seq2seq.layers.recurrent import run_steps

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="the fast path is JAX-only"
)


@pytest.mark.parametrize("constant", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 7])
def test_fast_path_matches_generic_scan(reverse, unroll, constant):
    import jax
    import jax.numpy as jnp

    cell = LSTMCell(8)
    cell.build((None, 5))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(7, 3, 5)).astype("float32"))
    h0 = jnp.asarray(rng.normal(size=(3, 8)).astype("float32"))
    c0 = jnp.asarray(rng.normal(size=(3, 8)).astype("float32"))
    kernel, recurrent, bias = (
        jnp.asarray(v.value) for v in (cell.kernel, cell.recurrent_kernel, cell.bias)
    )
    weights = jnp.arange(1, 8, dtype="float32")[:, None, None] ** 0.5

    def loss(fast):
        def f(kernel, recurrent, bias, h0, c0):
            if constant:  # one input for every step: (batch, 4 * units)
                z = x[0] @ kernel + bias
            else:
                z = x @ kernel + bias
            if fast:
                (h, c), hs = fast_recurrence.lstm_sequence(
                    z, h0, c0, recurrent, reverse, unroll, 7 if constant else None
                )
            else:
                if constant:
                    z = jnp.broadcast_to(z[None], (7, *z.shape))


                def step(z_t, states):
                    h, c = states
                    i, f_, g, o = jnp.split(z_t + h @ recurrent, 4, -1)
                    c = jax.nn.sigmoid(f_) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
                    h = jax.nn.sigmoid(o) * jnp.tanh(c)
                    return h, [h, c]

                (h, c), hs = run_steps(step, z, [h0, c0], None, reverse)
            return jnp.sum(hs * weights) + jnp.sum(h * 0.3) + jnp.sum(c**2)

        return f

    args = (kernel, recurrent, bias, h0, c0)
    np.testing.assert_allclose(loss(True)(*args), loss(False)(*args), rtol=1e-5)
    fast_grads = jax.grad(loss(True), argnums=range(5))(*args)
    ref_grads = jax.grad(loss(False), argnums=range(5))(*args)
    for got, want in zip(fast_grads, ref_grads):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_recurrent_layer_uses_fast_path_with_same_outputs(monkeypatch):
    from seq2seq.layers.recurrent import Recurrent

    layer = Recurrent(6, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    fast_out, fast_states = layer(x)
    monkeypatch.setattr(fast_recurrence, "ENABLED", False)
    assert not fast_recurrence.available(layer.cell, None)
    slow_out, slow_states = layer(x)
    np.testing.assert_allclose(np.asarray(fast_out), np.asarray(slow_out), atol=1e-6)
    np.testing.assert_allclose(np.asarray(fast_states[1]), np.asarray(slow_states[1]), atol=1e-6)
