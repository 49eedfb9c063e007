"""The PyTorch fused recurrences (`fused.torch_rnn`: `torch._VF.lstm`/`gru`) agree with
the `keras.ops` fallback."""

import keras
import numpy as np
import pytest

from seq2seq.layers import Recurrent, fused
from seq2seq.models import AttentionSeq2Seq, Seq2Seq

if keras.backend.backend() != "torch":
    pytest.skip("the PyTorch fused recurrences are PyTorch-only", allow_module_level=True)

from seq2seq.layers.fused import torch_rnn  # noqa: E402
from tests.helpers import count_runs  # noqa: E402

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

    rng = np.random.default_rng(0)
    layer = Recurrent(UNITS, cell=cell, return_sequences=True, go_backwards=go_backwards)
    layer.build((None, TIME, FEATURES))
    layer.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    )
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    states = [
        rng.normal(scale=0.5, size=(BATCH, UNITS)).astype("float32") for _ in layer.cell.state_size
    ]
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
