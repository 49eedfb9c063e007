"""The decoders' loops run as fused recurrences (`seq2seq.layers.fused_decoding`,
`Recurrent.repeat`) train exactly as the step loops do."""

import functools
import traceback

import keras
import numpy as np
import pytest

from seq2seq.layers import fused, fused_decoding
from seq2seq.models import Seq2Seq, SimpleSeq2Seq

if keras.backend.backend() not in ("jax", "torch"):
    pytest.skip("only JAX and PyTorch have fused recurrences", allow_module_level=True)

IN_LEN, OUT_LEN, FEATURES, OUT_DIM = 5, 4, 3, 2
# The decoders' fused routes, by the function on the stack of a fused call.
DECODER_PATHS = {"repeat", "teacher_readouts", "linear_feedback"}
UNKNOWN = object()


@pytest.fixture
def fused_calls(monkeypatch):
    """Records the calls of `fused.lstm` and `fused.gru` that ran (did not decline),
    each as the names of the functions on the stack that made it."""
    calls = []

    def counted(function):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            calls.append({frame.name for frame in traceback.extract_stack()})
            return result

        return wrapper

    for name in ("lstm", "gru"):
        monkeypatch.setattr(fused, name, counted(getattr(fused, name)))
    return calls


def _train_step(make, enabled, monkeypatch, calls, weights=None):
    """`(weights before, loss, weights after)` of one SGD step on fixed data; `calls`
    then holds the fused calls of that step only."""
    monkeypatch.setattr(fused, "ENABLED", enabled)
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, IN_LEN, FEATURES)).astype("float32")
    y = rng.normal(size=(6, OUT_LEN, OUT_DIM)).astype("float32")
    model = make()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.predict(x[:1], verbose=0)
    if weights is not None:
        model.set_weights(weights)
    before = model.get_weights()
    calls.clear()
    loss = model.train_on_batch([x, y], y) if model.teacher_force else model.train_on_batch(x, y)
    return before, loss, model.get_weights()


def _assert_same_step(make, monkeypatch, fused_calls, decoder_path=None):
    """One step on the fused paths and one on the loops train alike. With
    `decoder_path`, the decoder ran fused through that function; with None, it did not;
    with `UNKNOWN`, either."""
    before, fast_loss, fast_weights = _train_step(make, True, monkeypatch, fused_calls)
    decoder_calls = [stack for stack in fused_calls if DECODER_PATHS & stack]
    if decoder_path is None:
        assert decoder_calls == []
    elif decoder_path is not UNKNOWN:
        assert any(decoder_path in stack for stack in decoder_calls)
    _, loss, weights = _train_step(make, False, monkeypatch, fused_calls, before)
    assert fused_calls == []  # switched off: nothing fused ran
    np.testing.assert_allclose(fast_loss, loss, rtol=1e-5, atol=1e-6)
    for a, b in zip(fast_weights, weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert any(not np.array_equal(a, start) for a, start in zip(fast_weights, before))


def _path_on_this_backend(cell, path):
    """`path`, or `UNKNOWN` for the GRU on JAX (fused only where oneDNN is loaded)."""
    return path if cell == "lstm" or keras.backend.backend() == "torch" else UNKNOWN


def _maker(cls, **options):
    """A function that builds the test's model of class `cls` with `options`."""
    return functools.partial(
        cls,
        input_dim=FEATURES,
        input_length=IN_LEN,
        hidden_dim=6,
        output_length=OUT_LEN,
        output_dim=OUT_DIM,
        **options,
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("depth", [1, 2])
def test_simple_seq2seq_decoder(cell, depth, monkeypatch, fused_calls):
    make = _maker(SimpleSeq2Seq, depth=depth, cell=cell)
    _assert_same_step(make, monkeypatch, fused_calls, _path_on_this_backend(cell, "repeat"))


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "lstm"},
        {"cell": "gru"},
        {"cell": "lstm", "peek": True},
        {"cell": "gru", "peek": True, "depth": 2, "inner_broadcast_state": False},
        {"cell": "lstm", "depth": 2, "inner_broadcast_state": False, "dropout": 0.3},
    ],
    ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()),
)
def test_teacher_forced_seq2seq_decoder(options, monkeypatch, fused_calls):
    make = _maker(Seq2Seq, teacher_force=True, **options)
    path = _path_on_this_backend(options["cell"], "teacher_readouts")
    _assert_same_step(make, monkeypatch, fused_calls, path)


def test_one_state_threaded_through_the_stack_keeps_the_step_loop(monkeypatch, fused_calls):
    """With `inner_broadcast_state` a layer's step starts from the layer below's new
    state: not a stacked recurrence, so the decoder declines and runs its loop."""
    make = _maker(Seq2Seq, depth=2, teacher_force=True)
    with pytest.raises(NotImplementedError):
        fused_decoding.teacher_readouts(make().decoder, None, None, None, {}, None)
    _assert_same_step(make, monkeypatch, fused_calls)


@pytest.mark.parametrize("peek", [False, True])
def test_free_running_linear_feedback(peek, monkeypatch, fused_calls):
    make = _maker(Seq2Seq, peek=peek)
    _assert_same_step(make, monkeypatch, fused_calls, "linear_feedback")
