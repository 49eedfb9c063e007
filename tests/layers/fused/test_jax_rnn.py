"""The JAX backend's fused recurrences (`fused.jax_rnn`): the layers take them, with the
generic loops' outputs and gradients."""

import keras
import numpy as np
import pytest

from seq2seq.layers import fused

if keras.backend.backend() != "jax":
    pytest.skip("the JAX fused recurrences are JAX-only", allow_module_level=True)

from seq2seq.layers.fused import jax_rnn  # noqa: E402
from tests.helpers import count_runs, deferred_loop_case  # noqa: E402


def test_declines_what_it_does_not_run():
    """Inputs not projected, a GRU, bfloat16 projected inputs, float16 kernels:
    `NotImplementedError`."""
    import jax.numpy as jnp

    z, h = np.zeros((3, 2, 16), "float32"), np.zeros((2, 4), "float32")
    kernel = np.zeros((4, 16), "float32")
    with pytest.raises(NotImplementedError):
        fused.lstm(z, [h, h], kernel, kernel=np.zeros((16, 16), "float32"), bias=z[0, 0])
    with pytest.raises(NotImplementedError):
        fused.lstm(z, [h, h], jnp.asarray(kernel, jnp.bfloat16))
    with pytest.raises(NotImplementedError):
        fused.gru(z[..., :12], [h], kernel[:, :12], z[0, 0, :12])
    with pytest.raises(NotImplementedError):
        fused.scan_deferring_kernels(None, None, z, (jnp.asarray(kernel, jnp.float16),))
    assert fused.runs_projected("lstm", "float32")
    assert not fused.runs_projected("lstm", "bfloat16")
    assert not fused.runs_projected("gru", "float32")


def test_recurrent_layer_uses_fast_path_with_same_outputs(monkeypatch):
    from seq2seq.layers.recurrent import Recurrent

    calls = count_runs(monkeypatch, jax_rnn, "lstm")
    layer = Recurrent(6, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    fast_out, fast_states = layer(x)
    assert len(calls) == 1
    monkeypatch.setattr(fused, "ENABLED", False)
    slow_out, slow_states = layer(x)
    assert len(calls) == 1
    np.testing.assert_allclose(np.asarray(fast_out), np.asarray(slow_out), atol=1e-6)
    np.testing.assert_allclose(np.asarray(fast_states[1]), np.asarray(slow_states[1]), atol=1e-6)


@pytest.mark.parametrize("peek", [False, True])
def test_linear_feedback_decoder_matches_the_step_loop(monkeypatch, peek):
    """Seq2Seq's free-running decoder as one LSTM: same outputs and gradients."""
    import jax

    from seq2seq.models import Seq2Seq

    model = Seq2Seq(
        input_dim=3, input_length=4, hidden_dim=6, output_length=5, output_dim=4, peek=peek
    )
    x = np.random.default_rng(2).normal(size=(3, 4, 3)).astype("float32")
    assert model.decoder._feedback_is_linear(5)
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(weights):
        outputs, _ = model.stateless_call(weights, fixed, x)
        return (outputs**2 * np.arange(1, 5, dtype="float32")).sum(), outputs

    (fast_loss, fast_out), fast_grads = jax.value_and_grad(loss, has_aux=True)(trainable)
    monkeypatch.setattr(fused, "ENABLED", False)
    (slow_loss, slow_out), slow_grads = jax.value_and_grad(loss, has_aux=True)(trainable)
    np.testing.assert_allclose(np.asarray(fast_out), np.asarray(slow_out), rtol=1e-5, atol=1e-6)
    for variable, got, want in zip(model.trainable_variables, fast_grads, slow_grads):
        np.testing.assert_allclose(
            np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5, err_msg=variable.path
        )


@pytest.mark.parametrize(
    "kind, policy",
    [
        ("attention", "float32"),
        ("attention_depth2", "float32"),
        ("feedback", "float32"),
        ("attention", "mixed_bfloat16"),
        ("attention_depth2", "mixed_bfloat16"),
        ("free_attention", "float32"),
        ("free_attention", "mixed_bfloat16"),
        ("free_feedback", "float32"),
    ],
)
def test_deferred_kernel_gradients_match_the_plain_scan(monkeypatch, kind, policy):
    """Teacher forcing and free running with kernel gradients after the loop: same loss
    and gradients (under `mixed_bfloat16`, to bfloat16's precision: the deferred
    gradient is rounded to bfloat16 once, the plain scan's at every step)."""
    import jax

    model, inputs = deferred_loop_case(kind, policy)
    calls = count_runs(monkeypatch, jax_rnn, "scan_deferring_kernels")
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(weights):
        outputs, _ = model.stateless_call(weights, fixed, inputs, training=True)
        return (outputs**2).sum(), outputs

    (got_loss, got_out), got_grads = jax.value_and_grad(loss, has_aux=True)(trainable)
    assert len(calls) == 1

    def declined(*args):
        raise NotImplementedError

    monkeypatch.setattr(jax_rnn, "scan_deferring_kernels", declined)
    (want_loss, want_out), want_grads = jax.value_and_grad(loss, has_aux=True)(trainable)
    if policy == "float32":
        np.testing.assert_allclose(np.asarray(got_out), np.asarray(want_out), rtol=1e-5, atol=1e-6)
        for variable, got, want in zip(model.trainable_variables, got_grads, want_grads):
            np.testing.assert_allclose(
                np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5, err_msg=variable.path
            )
        return
    np.testing.assert_allclose(
        np.asarray(got_out, "float32"), np.asarray(want_out, "float32"), atol=2e-2
    )
    for variable, got, want in zip(model.trainable_variables, got_grads, want_grads):
        scale = max(float(np.max(np.abs(want))), 1e-3)
        np.testing.assert_allclose(
            np.asarray(got), np.asarray(want), rtol=0, atol=2e-2 * scale, err_msg=variable.path
        )
