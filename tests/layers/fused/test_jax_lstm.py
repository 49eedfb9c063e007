"""The JAX LSTM (`fused.jax_lstm`) agrees with the generic scan, outputs and gradients."""

import keras
import numpy as np
import pytest

if keras.backend.backend() != "jax":
    pytest.skip("the JAX LSTM is JAX-only", allow_module_level=True)

from seq2seq.layers.fused import jax_lstm  # noqa: E402
from seq2seq.layers.lstm_cell import LSTMCell  # noqa: E402
from seq2seq.layers.recurrent import run_steps  # noqa: E402


@pytest.mark.parametrize("inputs", ["sequence", "constant", "masked"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 7])
@pytest.mark.parametrize("units, batch", [(8, 3), (16, 9)])
def test_fast_path_matches_generic_scan(reverse, unroll, inputs, units, batch):
    """Units 16 and 9 rows: on the CPU the native loops (`seq2seq.native`), their rows
    split over threads with a remainder row; units 8: XLA's loops."""
    import jax
    import jax.numpy as jnp

    cell = LSTMCell(units)
    cell.build((None, 5))
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(7, batch, 5)).astype("float32"))
    h0 = jnp.asarray(rng.normal(size=(batch, units)).astype("float32"))
    c0 = jnp.asarray(rng.normal(size=(batch, units)).astype("float32"))
    kernel, recurrent, bias = (
        jnp.asarray(v.value) for v in (cell.kernel, cell.recurrent_kernel, cell.bias)
    )
    weights = jnp.arange(1, 8, dtype="float32")[:, None, None] ** 0.5
    # Rows complete, padded at the end, padded at the start and in the middle.
    mask_bt = jnp.asarray(
        [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1, 1]] * (batch // 3),
        dtype=bool,
    )
    mask_t = jnp.asarray(mask_bt.T[:, :, None], dtype="float32")

    def loss(fast):
        def f(kernel, recurrent, bias, h0, c0):
            constant = inputs == "constant"
            if constant:  # one input for every step: (batch, 4 * units)
                z = x[0] @ kernel + bias
            else:
                z = x @ kernel + bias
            if fast:
                (h, c), hs = jax_lstm.lstm_sequence(
                    z,
                    h0,
                    c0,
                    recurrent,
                    reverse,
                    unroll,
                    7 if constant else None,
                    mask_t if inputs == "masked" else None,
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

                mask = mask_bt if inputs == "masked" else None
                (h, c), hs = run_steps(step, z, [h0, c0], mask, reverse)
            return jnp.sum(hs * weights) + jnp.sum(h * 0.3) + jnp.sum(c**2)

        return f

    args = (kernel, recurrent, bias, h0, c0)
    np.testing.assert_allclose(loss(True)(*args), loss(False)(*args), rtol=1e-5)
    fast_grads = jax.grad(loss(True), argnums=range(5))(*args)
    ref_grads = jax.grad(loss(False), argnums=range(5))(*args)
    for got, want in zip(fast_grads, ref_grads):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_kernel_gradient_sums_over_steps_with_and_without_a_distribution():
    """One device merges steps and batch into rows; under a `keras.distribution` the
    product contracts both axes in place (no reshape across the sharded batch axis).
    Both give the sum of the per-step products."""
    import jax

    rng = np.random.default_rng(3)
    operands = rng.normal(size=(5, 3, 4)).astype("float32")
    d_outputs = rng.normal(size=(5, 3, 6)).astype("float32")
    expected = sum(operands[t].T @ d_outputs[t] for t in range(5))
    plain = jax_lstm.kernel_gradient(operands, d_outputs)
    distribution = keras.distribution.DataParallel(devices=jax.devices()[:1])
    with distribution.scope():
        distributed = jax_lstm.kernel_gradient(operands, d_outputs)
    for got in (plain, distributed):
        assert got.shape == (4, 6)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)


def _lstm_loss_and_grads(reverse, length, mask=None, units=16):
    """Loss, outputs and gradients of `lstm_sequence` at 9 rows, 6 steps."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(4)
    steps, batch = 6, 9
    shape = (batch, 4 * units) if length else (steps, batch, 4 * units)
    args = [
        jnp.asarray(rng.normal(size=s).astype("float32"))
        for s in (shape, (batch, units), (batch, units), (units, 4 * units))
    ]
    args[3] = args[3] / np.sqrt(units)  # Glorot-like scale: gates not all saturated
    weights = jnp.asarray(rng.normal(size=(steps, batch, units)).astype("float32"))

    def loss(projected, h0, c0, kernel):
        (h, c), hs = jax_lstm.lstm_sequence(projected, h0, c0, kernel, reverse, 1, length, mask)
        return jnp.sum(hs * weights) + jnp.sum(h * 0.3) + jnp.sum(c**2), hs

    function = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True))
    hlo = function.lower(*args).as_text()
    (value, hs), grads = function(*args)
    return value, hs, grads, hlo


@pytest.mark.parametrize(
    "reverse, length, masked, units, avx512",
    [(False, None, False, 16, True), (True, None, False, 16, True), (False, 6, False, 16, True),
     (True, 6, False, 16, True), (False, None, True, 16, True), (True, None, True, 16, True),
     (True, None, False, 144, True), (False, None, True, 144, True),
     (False, None, False, 16, False), (True, None, True, 16, False),
     (True, None, False, 144, False), (False, None, True, 144, False)],
)  # fmt: skip
def test_native_loops_agree_with_xla_loops(monkeypatch, reverse, length, masked, units, avx512):
    """The native CPU loops (`seq2seq.native`) and XLA's loops give the same numbers.

    Above 128 units the forward loop stays in XLA, and the backward loop is native only
    on a CPU said to have AVX-512 (`hardware.avx512`); without it neither loop is.
    """
    import shutil

    import jax.numpy as jnp

    from seq2seq import hardware, native

    monkeypatch.setattr(hardware, "avx512", lambda: avx512)
    monkeypatch.setattr(jax_lstm, "_LSTM", None)  # rebuild: jit caches the trace

    if native.lstm_library() is None:
        assert shutil.which("c++") is None and shutil.which("g++") is None, (
            "a C++ compiler is installed but the native kernels did not build"
        )
        pytest.skip("no C++ compiler: the native kernels are not built")
    mask = None
    if masked:  # every row padded differently: at the end, start, middle, or not at all
        pattern = np.random.default_rng(5).random((6, 9, 1)) < 0.7
        pattern[:, 0] = True
        mask = jnp.asarray(pattern, "float32")
    value, hs, grads, hlo = _lstm_loss_and_grads(reverse, length, mask, units)
    suffix = "_masked" if masked else ""
    assert (f"seq2seq_lstm_forward{suffix}" in hlo) == (units <= 128)
    assert (f"seq2seq_lstm_backward{suffix}" in hlo) == (units <= 128 or avx512)

    monkeypatch.setattr(native, "lstm_library", lambda: None)
    monkeypatch.setattr(jax_lstm, "_LSTM", None)  # rebuild: jit caches the trace
    xla_value, xla_hs, xla_grads, xla_hlo = _lstm_loss_and_grads(reverse, length, mask, units)
    assert "seq2seq_lstm" not in xla_hlo
    np.testing.assert_allclose(float(value), float(xla_value), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(hs), np.asarray(xla_hs), rtol=1e-5, atol=2e-6)
    for got, want in zip(grads, xla_grads):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_the_avx2_build_of_the_native_loops_agrees(tmp_path):
    """`lstm.cc` has two builds, 16-float vectors with AVX-512 and 8-float ones with
    AVX2 alone (a different matrix-multiply block). On a CPU with AVX-512 the test above
    checks the first; this one runs it in a process that builds the second
    (`-mno-avx512f`, into its own cache). On an AVX2-only CPU the test above already
    runs the AVX2 build."""
    import os
    import shutil
    import subprocess
    import sys

    from seq2seq import hardware, native

    if not hardware.avx512():
        pytest.skip("this CPU builds the AVX2 variant in the test above")
    if native.compiler() is None:
        pytest.skip("no C++ compiler: the native kernels are not built")
    script = (
        "import sys, pytest\n"
        "from seq2seq import native\n"
        "command = native._compile_command\n"
        "def avx2(compiler, source, include, output, flags=()):\n"
        "    return command(compiler, source, include, output, (*flags, '-mno-avx512f'))\n"
        "native._compile_command = avx2\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {__file__!r}, "
        "'-k', 'test_native_loops_agree_with_xla_loops']))\n"
    )
    environment = {**os.environ, "KERAS_BACKEND": "jax", "SEQ2SEQ_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "12 passed" in result.stdout
    built = list(tmp_path.glob("lstm-*.so"))
    assert len(built) == 1
    if shutil.which("objdump"):  # the flag took: no 512-bit register in the build
        disassembly = subprocess.run(["objdump", "-d", str(built[0])], capture_output=True)
        assert b"zmm" not in disassembly.stdout


def test_units_not_a_multiple_of_16_keep_xla_loops():
    """The native loops work on whole 16-float vectors: other sizes take XLA's loops."""
    import jax
    import jax.numpy as jnp

    z, h0 = jnp.zeros((4, 3, 32)), jnp.zeros((3, 8))
    lowered = jax.jit(jax_lstm.lstm_sequence).lower(z, h0, h0, jnp.zeros((8, 32)))
    assert "seq2seq_lstm" not in lowered.as_text()
