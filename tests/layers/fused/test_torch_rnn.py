"""The PyTorch fused recurrences (`fused.torch_rnn`: `torch._VF.lstm`/`gru`) agree with
the `keras.ops` fallback."""

import keras
import numpy as np
import pytest

from seq2seq.layers import Recurrent, fused
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() != "torch":
    pytest.skip("the PyTorch fused recurrences are PyTorch-only", allow_module_level=True)

from seq2seq.layers.fused import torch_rnn  # noqa: E402
from tests.helpers import count_runs, deferred_loop_case, random_recurrent  # noqa: E402

BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 5
# Right padding: a full row, two shorter ones, a single step.
LENGTHS = [6, 4, 2, 1]


@pytest.fixture
def fast_path_calls(monkeypatch):
    """Counts the calls of `torch_rnn.lstm` and `gru` that ran (did not decline)."""
    return count_runs(monkeypatch, torch_rnn, "lstm", "gru")


def _run(layer, x, mask, initial_state, enabled, monkeypatch):
    """Outputs, final states and gradients (inputs, states, weights) of a fixed loss."""
    import torch

    monkeypatch.setattr(fused, "ENABLED", enabled)
    x = torch.tensor(x, requires_grad=True)
    states = [torch.tensor(s, requires_grad=True) for s in initial_state]
    outputs, final = layer(x, mask=mask, initial_state=states)
    scale = torch.linspace(0.5, 1.5, outputs.numel()).reshape(outputs.shape)
    loss = (outputs * scale).sum() + sum((s * (i + 2)).sum() for i, s in enumerate(final))
    weights = [w.value for w in layer.trainable_weights]
    grads = torch.autograd.grad(loss, [x, *states, *weights])
    return [t.detach().numpy() for t in [outputs, *final, *grads]]


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "right_padded"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fast_path_matches_fallback(cell, go_backwards, masked, monkeypatch, fast_path_calls):
    import torch

    layer, x, states = random_recurrent(cell, go_backwards, BATCH, TIME, FEATURES, UNITS)
    mask = None
    if masked:
        mask = torch.arange(TIME)[None, :] < torch.tensor(LENGTHS)[:, None]
    fast = _run(layer, x, mask, states, True, monkeypatch)
    assert len(fast_path_calls) == 1
    fallback = _run(layer, x, mask, states, False, monkeypatch)
    assert len(fast_path_calls) == 1
    assert len(fast) == len(fallback) == 2 + 2 * len(states) + len(layer.trainable_weights)
    for a, b in zip(fast, fallback):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    if masked:  # padded steps output zeros
        assert not fast[0][1, 4:].any() and not fast[0][3, 1:].any()


@pytest.mark.parametrize(
    "mask, reason",
    [
        ([[1, 1, 1], [0, 1, 1]], "left padding"),
        ([[1, 1, 1], [1, 0, 1]], "a hole"),
        ([[1, 1, 1], [0, 0, 0]], "an empty row"),
    ],
)
def test_declines_masks_it_cannot_pack(mask, reason):
    import torch

    layer = Recurrent(UNITS)
    layer.build((None, 3, FEATURES))
    x = torch.zeros((2, 3, FEATURES))
    states = layer.get_initial_state(2)
    with pytest.raises(NotImplementedError):
        layer.run_fused(x, states, torch.tensor(mask, dtype=torch.bool))


def test_declines_mixed_precision_unroll_and_projected_inputs():
    import torch

    x = torch.zeros((2, 3, FEATURES))
    for layer in [Recurrent(UNITS, dtype="mixed_bfloat16"), Recurrent(UNITS, unroll=True)]:
        layer.build((None, 3, FEATURES))
        with pytest.raises(NotImplementedError):
            layer.run_fused(x, layer.get_initial_state(2))
    layer = Recurrent(UNITS, cell="gru")
    layer.build((None, 3, FEATURES))
    projected = layer.cell.project(torch.zeros((3, 2, FEATURES)))
    with pytest.raises(NotImplementedError):
        layer.run_fused(projected, layer.get_initial_state(2), projected=True)
    assert not fused.runs_projected("lstm", "float32")


@pytest.mark.parametrize("cls", [AttentionSeq2Seq, Seq2Seq], ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_model_trains_one_step_alike_on_both_paths(cls, cell, monkeypatch, fast_path_calls):
    rng = np.random.default_rng(0)
    x = rng.integers(3, 12, (8, 6)).astype("int32")
    for row, length in enumerate([6, 5, 3, 1] * 2):
        x[row, length:] = 0  # right padding
    y = rng.integers(3, 12, (8, 6)).astype("int32")

    def train(enabled, weights=None):
        monkeypatch.setattr(fused, "ENABLED", enabled)
        keras.utils.set_random_seed(1)
        kwargs = {} if cls is Seq2Seq else {"bidirectional": True}
        model = cls(
            input_vocab_size=12,
            output_vocab_size=12,
            input_length=6,
            output_length=6,
            hidden_dim=8,
            embedding_dim=4,
            cell=cell,
            **kwargs,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        model([x[:1], y[:1]])
        if weights is not None:
            model.set_weights(weights)
        before = model.get_weights()
        loss = model.train_on_batch([x, y], y)
        return before, loss, model.get_weights()

    before, fast_loss, fast_weights = train(True)
    calls = len(fast_path_calls)
    assert calls > 0
    _, loss, weights = train(False, before)
    assert len(fast_path_calls) == calls
    np.testing.assert_allclose(fast_loss, loss, rtol=1e-5, atol=1e-5)
    for a, b in zip(fast_weights, weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert any(not np.array_equal(a, start) for a, start in zip(fast_weights, before))


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_scan_matches_keras_scan_with_one_stack_as_the_inputs_gradient(reverse):
    """`torch_rnn.scan` gives `keras.ops.scan`'s carry, outputs and gradients; the
    scanned tensors' gradient is one stack, where Keras' loop builds a zero-filled
    tensor per step (`select_backward`)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpNames(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    rng = np.random.default_rng(1)
    kernel = torch.tensor(rng.normal(size=(UNITS, UNITS)).astype("float32"), requires_grad=True)

    def step(carry, x_t):
        h, total = carry
        h = torch.tanh(x_t["a"] + h @ kernel) * x_t["b"]
        return (h, total + h.sum()), {"h": h, "twice": 2.0 * h}

    def results(scan):
        xs = {
            "a": torch.tensor(rng.normal(size=(TIME, BATCH, UNITS)).astype("float32")),
            "b": torch.tensor(rng.uniform(size=(TIME, BATCH, 1)).astype("float32")),
        }
        xs = {k: v.requires_grad_() for k, v in xs.items()}
        init = (torch.zeros(BATCH, UNITS), torch.zeros(()))
        (h, total), ys = scan(step, init, xs, reverse=reverse)
        loss = (ys["h"] * torch.linspace(0.5, 1.5, ys["h"].numel()).reshape(ys["h"].shape)).sum()
        loss = loss + ys["twice"].mean() + total + (h**2).sum()
        with OpNames() as recorded:
            grads = torch.autograd.grad(loss, [xs["a"], xs["b"], kernel])
        values = [h, total, ys["h"], ys["twice"], *grads]
        return [v.detach().numpy() for v in values], recorded.names

    rng = np.random.default_rng(1)
    ours, ours_ops = results(torch_rnn.scan)
    rng = np.random.default_rng(1)
    theirs, theirs_ops = results(keras.ops.scan)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert theirs_ops.count("select_backward") == 2 * TIME  # what `scan` avoids
    assert "select_backward" not in ours_ops


def test_scan_runs_length_steps_without_inputs_and_steps_without_outputs():
    import torch

    carry, ys = torch_rnn.scan(lambda c, _: (c + 1.0, c * 2.0), torch.zeros(2), length=3)
    np.testing.assert_array_equal(carry.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(ys.numpy(), [[0.0, 0.0], [2.0, 2.0], [4.0, 4.0]])
    carry, ys = torch_rnn.scan(lambda c, x: (c + x, None), torch.zeros(2), torch.ones(3, 2))
    np.testing.assert_array_equal(carry.numpy(), [3.0, 3.0])
    assert ys is None


@pytest.mark.parametrize(
    "kind", ["attention", "attention_depth2", "feedback", "free_attention", "free_feedback"]
)
def test_deferred_kernel_gradients_match_the_plain_scan(monkeypatch, kind):
    """Teacher forcing and free running with the kernels' gradients after the loop
    (`torch_rnn.scan_deferring_kernels`): the same outputs and gradients as the loop
    whose steps accumulate them."""
    import torch

    model, inputs = deferred_loop_case(kind)
    model(inputs)
    weights = [v.value for v in model.trainable_variables]

    def results():
        outputs = model(inputs, training=True)
        grads = torch.autograd.grad((outputs**2).sum(), weights)
        return [t.detach().numpy() for t in (outputs, *grads)]

    calls = count_runs(monkeypatch, torch_rnn, "scan_deferring_kernels")
    got = results()
    assert len(calls) == 1

    def declined(*args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(torch_rnn, "scan_deferring_kernels", declined)
    want = results()
    names = ["outputs"] + [v.path for v in model.trainable_variables]
    for name, a, b in zip(names, got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_weights_reach_pytorch_row_major_with_their_gates_reordered():
    """PyTorch's recurrences get `(gates, inputs)` weights that own their memory: for a
    transposed view, their backward takes each step's weight gradient in a layout about
    2.5 times slower."""
    import torch

    kernel = torch.arange(12.0).reshape(2, 6).requires_grad_()  # gate blocks z, r, n of 2
    z, r, n = kernel.detach().chunk(3, dim=-1)
    rows = torch_rnn._rows(kernel, (1, 0, 2))
    assert rows.is_contiguous() and rows.shape == (6, 2)
    np.testing.assert_array_equal(rows.detach().numpy(), torch.cat([r, z, n], -1).T.numpy())
    assert torch_rnn._rows(kernel).is_contiguous()
    np.testing.assert_array_equal(torch_rnn._rows(kernel).detach().numpy(), kernel.detach().T)
    (rows * torch.arange(12.0).reshape(6, 2)).sum().backward()  # the gradient finds its way back
    expected = torch.arange(12.0).reshape(6, 2).T.reshape(2, 3, 2)[:, [1, 0, 2]].reshape(2, 6)
    np.testing.assert_array_equal(kernel.grad.numpy(), expected.numpy())


def test_matmul_is_torch_matmul_for_one_floating_dtype():
    import torch

    rng = np.random.default_rng(5)
    a = torch.tensor(rng.normal(size=(2, 3, 4)).astype("float32"))
    b = torch.tensor(rng.normal(size=(4, 5)).astype("float32"))
    np.testing.assert_array_equal(torch_rnn.matmul(a, b).numpy(), keras.ops.matmul(a, b).numpy())
    bf16 = torch_rnn.matmul(a.bfloat16(), b.bfloat16())
    assert bf16.dtype == torch.bfloat16
    assert fused.matmul(a.bfloat16(), b.bfloat16(), "float32").dtype == torch.float32
    for x, y in [(a, b.double()), (a.int(), b.int()), (a.numpy(), b)]:
        with pytest.raises(NotImplementedError):
            torch_rnn.matmul(x, y)


def _step_results(function, inputs, monkeypatch, enabled):
    """`function(*tensors)`'s outputs and the gradients of a fixed loss with respect to
    every input, with the fused steps on or off."""
    import torch

    monkeypatch.setattr(fused, "ENABLED", enabled)
    tensors = [torch.tensor(x, requires_grad=True) for x in inputs]
    outputs = function(*tensors)
    loss = sum((out * (k + 1.5)).sum() + out.square().sum() for k, out in enumerate(outputs))
    grads = torch.autograd.grad(loss, tensors)
    return [t.detach().numpy() for t in [*outputs, *grads]]


@pytest.mark.parametrize("cell", ["lstm", "gru", "lstm_given_kernel"])
def test_cell_step_in_torch_equals_the_keras_step(cell, monkeypatch):
    """`fused.step` on PyTorch gives the cell's step: states and every gradient (inputs,
    states and, for a kernel passed in as the deferred loops do, that kernel)."""
    from seq2seq.layers.cell_factory import make_cell

    rng = np.random.default_rng(6)
    layer = make_cell(cell.split("_")[0], UNITS)
    layer.build((None, FEATURES))
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    projected = rng.normal(size=(BATCH, layer.gates * UNITS)).astype("float32")
    states = [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in layer.state_size]
    inputs = [projected, *states]
    if cell == "lstm_given_kernel":
        inputs.append(rng.normal(scale=0.5, size=(UNITS, 4 * UNITS)).astype("float32"))

    def run(projected, *rest):
        if cell == "lstm_given_kernel":
            *states, kernel = rest
            return layer.step(projected, list(states), recurrent_kernel=kernel)[1]
        return layer.step(projected, list(rest))[1]

    calls = count_runs(monkeypatch, torch_rnn, "step")
    fast = _step_results(run, inputs, monkeypatch, True)
    assert len(calls) == 1
    slow = _step_results(run, inputs, monkeypatch, False)
    assert len(calls) == 1
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_attention_step_in_torch_equals_the_keras_attention(monkeypatch):
    """`fused.attention` on PyTorch: the same context and weights, padding at zero weight,
    and the same gradients for the query, keys and memory."""
    from seq2seq.layers import BahdanauAttention

    rng = np.random.default_rng(7)
    attention = BahdanauAttention(UNITS)
    attention.build((None, UNITS), (None, TIME, FEATURES))
    attention.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in attention.get_weights()]
    )
    mask = np.arange(TIME)[None, :] < np.array(LENGTHS)[:, None]
    query = rng.normal(size=(BATCH, UNITS)).astype("float32")
    memory = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    keys = keras.ops.convert_to_numpy(attention.keys(memory))

    def run(query, keys, memory):
        return attention.call(query, keys, memory, keras.ops.convert_to_tensor(mask))

    calls = count_runs(monkeypatch, torch_rnn, "attention")
    fast = _step_results(run, [query, keys, memory], monkeypatch, True)
    assert len(calls) == 1
    slow = _step_results(run, [query, keys, memory], monkeypatch, False)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    weights = fast[1]
    np.testing.assert_array_equal(weights[~mask], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_steps_decline_other_dtypes_and_arrays():
    import torch

    rng = np.random.default_rng(8)
    projected = torch.tensor(rng.normal(size=(2, 4 * UNITS)).astype("float32"))
    states = [torch.zeros(2, UNITS), torch.zeros(2, UNITS)]
    kernel = torch.tensor(rng.normal(size=(UNITS, 4 * UNITS)).astype("float32"))
    assert len(torch_rnn.step("lstm", projected, states, kernel)) == 2
    for args in [
        (projected.bfloat16(), states, kernel.bfloat16()),
        (projected.numpy(), states, kernel),
        (projected, states, kernel.double()),
    ]:
        with pytest.raises(NotImplementedError):
            torch_rnn.step("lstm", *args)
    with pytest.raises(NotImplementedError):
        torch_rnn.step("rnn", projected, states, kernel)
    memory = torch.zeros(2, 3, 4)
    with pytest.raises(NotImplementedError):
        torch_rnn.attention(
            torch.zeros(2, UNITS).bfloat16(), memory, memory, None, kernel, kernel[0]
        )


@pytest.mark.parametrize(
    "model_class, compiled_calls",
    # Compiled, SimpleSeq2Seq's decoder (an input repeated at every step) runs the
    # compiled loop, which projects it once; Seq2Seq's decoder keeps the kernel.
    [(Seq2Seq, 2), (SimpleSeq2Seq, 1)],
)
def test_jit_compiled_training_equals_eager_training(monkeypatch, model_class, compiled_calls):
    # `compile(jit_compile=True)` is `torch.compile` on this backend. PyTorch's compiler
    # cannot lower the oneDNN LSTM that `torch._VF.lstm` runs, so the compiled step calls
    # it eagerly (`torch.compiler.disable`); it fails on the deferred kernels' side
    # channel, which declines while it traces, and it compiles that fallback. (Two LSTM
    # models, short sequences: a compilation costs about 20-40 s here.)
    fused_calls = count_runs(monkeypatch, torch_rnn, "_sequence")  # `torch._VF.lstm` calls
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 3)).astype("float32")
    y = rng.normal(size=(4, 2, 3)).astype("float32")
    losses, trained, calls = [], [], []
    for jit_compile in (False, True):
        keras.utils.set_random_seed(1)
        model = model_class(
            input_dim=3, input_length=3, hidden_dim=6, output_length=2, output_dim=3, cell="lstm"
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse", jit_compile=jit_compile)
        fused_calls.clear()
        losses.append([float(model.train_on_batch(x, y)) for _ in range(2)])
        calls.append(len(fused_calls))
        trained.append(model.get_weights())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for compiled, eager in zip(trained[1], trained[0]):
        np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
    # Eager, the encoder's and the decoder's LSTM run on PyTorch's kernel at each of the
    # two steps; compiled, those that do not decline.
    assert calls == [4, 2 * compiled_calls]
