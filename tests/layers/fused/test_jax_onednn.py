"""oneDNN's recurrences on JAX (`fused.jax_onednn`): the outputs, final states and
gradients of the generic `keras.ops` loops, and the fallback where oneDNN is off."""

import keras
import numpy as np
import pytest

from seq2seq.layers import fused

if keras.backend.backend() != "jax":
    pytest.skip("the oneDNN kernels are called from JAX only", allow_module_level=True)

from helpers import onednn_bfloat16  # noqa: E402

from seq2seq import hardware  # noqa: E402
from seq2seq.layers.fused import jax_onednn, jax_rnn  # noqa: E402
from seq2seq.layers.recurrent import Recurrent  # noqa: E402
from seq2seq.native import onednn  # noqa: E402

needs_onednn = pytest.mark.skipif(
    onednn.onednn_library() is None, reason="oneDNN (the onednn wheels) cannot be loaded here"
)
needs_bfloat16 = pytest.mark.skipif(
    not onednn_bfloat16(), reason="oneDNN has no bfloat16 products on this CPU (no AVX-512)"
)


def counted(monkeypatch, name="sequence"):
    """Counts the calls of `jax_onednn.<name>`: by cell for `sequence`, else by name."""
    calls = []
    function = getattr(jax_onednn, name)

    def wrapper(*args, **kwargs):
        calls.append(args[0] if name == "sequence" else name)
        return function(*args, **kwargs)

    monkeypatch.setattr(jax_onednn, name, wrapper)
    return calls


def outputs_and_gradients(layer, x, initial, mask=None):
    """The layer's outputs and final states, and the gradients of a loss of both with
    respect to the weights, the inputs and the initial states (all float32)."""
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    scale = np.linspace(-1.0, 2.0, layer.units).astype("float32")

    def loss(weights, x, initial):
        (outputs, states), _ = layer.stateless_call(
            weights, [], x, initial_state=initial, mask=mask
        )
        total = (outputs * scale).sum() + sum((s * s * scale).sum() for s in states)
        return total, (outputs, states)

    (_, (outputs, states)), grads = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(
        trainable, x, initial
    )
    flat = [outputs, *states, *grads[0], grads[1], *grads[2]]
    return [np.asarray(a, "float32") for a in flat]


def assert_close(got, want, tolerance):
    """Each array within `tolerance` of the largest value of the reference array."""
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        scale = max(float(np.max(np.abs(b))), 1e-3)
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance * scale, err_msg=f"array {i}")


def make(cell, policy, go_backwards, units=8):
    layer = Recurrent(
        units, cell=cell, return_sequences=True, go_backwards=go_backwards, dtype=policy
    )
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    layer.build(x.shape)
    for variable in layer.weights:  # biases too: zeros would hide a misplaced bias
        variable.assign(0.5 * rng.normal(size=variable.shape).astype("float32"))
    states = 2 if cell == "lstm" else 1
    initial = [rng.normal(size=(3, units)).astype("float32") for _ in range(states)]
    return layer, x, initial


@needs_onednn
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize(
    "cell, policy",
    [
        ("gru", "float32"),
        pytest.param("gru", "mixed_bfloat16", marks=needs_bfloat16),
        pytest.param("lstm", "mixed_bfloat16", marks=needs_bfloat16),
    ],
)
def test_layer_runs_onednn_with_the_generic_loop_results(monkeypatch, cell, policy, go_backwards):
    calls = counted(monkeypatch)
    layer, x, initial = make(cell, policy, go_backwards)
    got = outputs_and_gradients(layer, x, initial)
    assert calls == [cell]
    monkeypatch.setattr(fused, "ENABLED", False)
    want = outputs_and_gradients(layer, x, initial)
    assert calls == [cell]
    # bfloat16: oneDNN carries `h` in bfloat16 between steps, the generic loop in float32.
    assert_close(got, want, 1e-5 if policy == "float32" else 3e-2)


@needs_onednn
@pytest.mark.parametrize("go_backwards", [False, True])
def test_float32_lstm_runs_onednn_from_its_threshold(monkeypatch, go_backwards):
    """Below `ONEDNN_LSTM_UNITS` the float32 LSTM keeps `seq2seq.native`'s loops; from
    there (lowered here to the test's 8 units) oneDNN, with the same results, on a CPU
    with AVX-512; without it (AVX2 alone) XLA's loop at every size."""
    monkeypatch.setattr(hardware, "avx512", lambda: True)
    calls = counted(monkeypatch)
    layer, x, initial = make("lstm", "float32", go_backwards)
    outputs_and_gradients(layer, x, initial)
    assert calls == []
    monkeypatch.setattr(jax_rnn, "ONEDNN_LSTM_UNITS", 8)
    got = outputs_and_gradients(layer, x, initial)
    assert calls == ["lstm"]
    monkeypatch.setattr(hardware, "avx512", lambda: False)
    assert_close(outputs_and_gradients(layer, x, initial), got, 1e-5)
    assert calls == ["lstm"]
    monkeypatch.setattr(fused, "ENABLED", False)
    assert_close(got, outputs_and_gradients(layer, x, initial), 1e-5)


@needs_onednn
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize(
    "cell, policy",
    [
        ("gru", "float32"),
        pytest.param("gru", "mixed_bfloat16", marks=needs_bfloat16),
        ("lstm", "float32"),
        pytest.param("lstm", "mixed_bfloat16", marks=needs_bfloat16),
    ],
)
def test_masked_sequences_run_onednn_with_the_generic_loop_results(
    monkeypatch, cell, policy, go_backwards
):
    """Padding at the end, at the start, in the middle, none and all: a padded step keeps
    the state and outputs zeros, as in the generic loop."""
    calls = counted(monkeypatch)
    monkeypatch.setattr(jax_rnn, "ONEDNN_LSTM_UNITS", 8)
    monkeypatch.setattr(hardware, "avx512", lambda: True)
    layer, x, initial = make(cell, policy, go_backwards)
    mask = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 0, 1]], bool)
    for rows in (mask, np.vstack([mask[:2], np.zeros((1, 5), bool)])):
        got = outputs_and_gradients(layer, x, initial, rows)
        assert calls == [cell]
        monkeypatch.setattr(fused, "ENABLED", False)
        want = outputs_and_gradients(layer, x, initial, rows)
        monkeypatch.setattr(fused, "ENABLED", True)
        calls.clear()
        assert np.all(got[0][~rows] == 0)
        assert_close(got, want, 1e-5 if policy == "float32" else 3e-2)


@needs_onednn
def test_declines_projected_inputs_and_other_dtypes():
    import jax.numpy as jnp

    x, h = jnp.ones((2, 3, 4)), jnp.zeros((2, 8))
    kernel, recurrent, bias = jnp.ones((4, 24)), jnp.ones((8, 24)), jnp.zeros((24,))
    with pytest.raises(NotImplementedError):
        fused.gru(jnp.ones((3, 2, 24)), [h], recurrent, bias)  # projected
    with pytest.raises(NotImplementedError):
        fused.gru(x, [h], recurrent.astype(jnp.float16), bias, kernel=kernel.astype(jnp.float16))
    outputs = fused.gru(x, [h], recurrent, bias, kernel=kernel, bias=bias)[1]
    assert outputs.shape == (2, 3, 8)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("missing", ["off", pytest.param("bfloat16", marks=needs_onednn)])
def test_without_onednn_the_layers_fall_back_with_the_same_results(monkeypatch, cell, missing):
    """`SEQ2SEQ_ONEDNN=0`, or a CPU where oneDNN has no bfloat16 products: nothing calls
    oneDNN in bfloat16, and the layers give what they give with every fused path off, up
    to bfloat16's rounding (the products then accumulate in float32 in XLA, not rounded
    to bfloat16 as `keras.ops.matmul`'s)."""
    if missing == "off":
        monkeypatch.setenv("SEQ2SEQ_ONEDNN", "0")
        monkeypatch.setattr(onednn, "_STATE", {})
    else:
        monkeypatch.setattr(onednn.onednn_library(), "bfloat16", False)
    calls = counted(monkeypatch)
    products = counted(monkeypatch, "_product")
    layer, x, initial = make(cell, "mixed_bfloat16", go_backwards=True)
    got = outputs_and_gradients(layer, x, initial)
    assert calls == [] and products == []
    assert (onednn.onednn_library() is None) == (missing == "off")
    monkeypatch.setattr(fused, "ENABLED", False)
    assert_close(got, outputs_and_gradients(layer, x, initial), 1e-2)


def bfloat16_operands(shape_a, shape_b, seed=5):
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    a = jnp.asarray(rng.normal(size=shape_a), jnp.bfloat16)
    b = jnp.asarray(rng.normal(size=shape_b), jnp.bfloat16)
    return a, b


@needs_bfloat16
@pytest.mark.parametrize("shape_a", [(6, 16), (2, 3, 16)])
def test_matmul_runs_bfloat16_on_onednn_with_float32_accumulation(monkeypatch, shape_a):
    """The product and both gradients against float32 arithmetic on the same bfloat16
    values: the product is not rounded to bfloat16; the gradients are, as the operands'."""
    import jax
    import jax.numpy as jnp

    calls = counted(monkeypatch, "matmul")
    a, b = bfloat16_operands(shape_a, (16, 24))
    weight = jnp.linspace(-1.0, 1.0, 24)

    def loss(matmul, a, b):
        product = matmul(a, b)
        return jnp.sum(product * weight), product

    (_, got), got_grads = jax.value_and_grad(
        lambda a, b: loss(lambda a, b: fused.matmul(a, b, "float32"), a, b),
        argnums=(0, 1),
        has_aux=True,
    )(a, b)
    assert calls == ["matmul"] and got.dtype == jnp.float32 and got.shape == (*shape_a[:-1], 24)
    a32, b32 = a.astype(jnp.float32), b.astype(jnp.float32)
    (_, want), want_grads = jax.value_and_grad(
        lambda a, b: loss(jnp.matmul, a, b), argnums=(0, 1), has_aux=True
    )(a32, b32)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    for g, w in zip(got_grads, want_grads):
        assert g.dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(g, "float32"), np.asarray(w), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("missing", ["off", pytest.param("bfloat16", marks=needs_onednn)])
def test_matmul_keeps_xla_for_float32_and_for_bfloat16_without_onednn(monkeypatch, missing):
    """float32 operands keep XLA's product; with oneDNN off, or without its bfloat16
    products on this CPU, bfloat16 ones take XLA's product accumulated in float32: the
    float32 product of the bfloat16 values, not rounded to bfloat16 (as oneDNN's)."""
    import jax
    import jax.numpy as jnp

    calls = counted(monkeypatch, "_product")
    a, b = bfloat16_operands((4, 8), (8, 5))
    a32, b32 = a.astype(jnp.float32), b.astype(jnp.float32)
    np.testing.assert_array_equal(fused.matmul(a32, b32, "float32"), jnp.matmul(a32, b32))
    if missing == "off":
        monkeypatch.setenv("SEQ2SEQ_ONEDNN", "0")
        monkeypatch.setattr(onednn, "_STATE", {})
    else:
        monkeypatch.setattr(onednn.onednn_library(), "bfloat16", False)
    _, grads = jax.value_and_grad(lambda a, b: fused.matmul(a, b, "float32").sum(), argnums=(0, 1))(
        a, b
    )
    got = fused.matmul(a, b, "float32")
    assert calls == [] and got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), np.asarray(a32 @ b32), rtol=1e-6, atol=1e-6)
    rounded = np.asarray(jnp.matmul(a, b).astype(jnp.float32))
    assert np.mean(np.asarray(got) != rounded) > 0.5
    assert [g.dtype for g in grads] == [jnp.bfloat16, jnp.bfloat16]
    np.testing.assert_allclose(
        np.asarray(grads[1], "float32"), np.repeat(a32.sum(0)[:, None], 5, 1), rtol=1e-2
    )
