"""The dispatch of the fused recurrences (`seq2seq.layers.fused`), on every backend."""

import pathlib
import re

import keras
import numpy as np
import pytest

from seq2seq.layers import GRUCell, LSTMCell, Recurrent, fused

LAYERS = pathlib.Path(fused.__file__).parent.parent


def test_cells_name_their_recurrence():
    assert LSTMCell(4).recurrence == "lstm"
    assert GRUCell(4).recurrence == "gru"


def test_switched_off_everything_declines(monkeypatch):
    monkeypatch.setattr(fused, "ENABLED", False)
    z, h = np.zeros((3, 2, 16), "float32"), np.zeros((2, 4), "float32")
    kernel = np.zeros((4, 16), "float32")
    with pytest.raises(NotImplementedError):
        fused.lstm(z, [h, h], kernel)
    with pytest.raises(NotImplementedError):
        fused.run("gru", z[..., :12], [h], recurrent_kernel=kernel[:, :12], recurrent_bias=None)
    with pytest.raises(NotImplementedError):
        fused.scan_deferring_kernels(None, None, z, (kernel,))
    assert not fused.runs_projected("lstm", "float32")


def test_a_cell_without_a_fused_recurrence_declines():
    with pytest.raises(NotImplementedError):
        fused.run(None, np.zeros((2, 3, 4), "float32"), [])


@pytest.mark.skipif(
    keras.backend.backend() in ("jax", "torch"), reason="JAX and PyTorch have fused GRUs"
)
def test_other_backends_decline_and_layers_fall_back():
    """A GRU on TensorFlow (whose one fused recurrence is a float32 LSTM) and on NumPy."""
    layer = Recurrent(4, cell="gru", return_sequences=True)
    x = np.ones((2, 3, 5), "float32")
    layer.build(x.shape)
    with pytest.raises(NotImplementedError):
        layer.run_fused(x, layer.get_initial_state(2))
    outputs, _ = layer(x)
    assert tuple(outputs.shape) == (2, 3, 4)


def test_only_the_dispatch_looks_at_the_backend_or_class_names():
    """Layers ask the cell (`recurrence`) and the fused functions, nothing else."""
    pattern = re.compile(r"backend\.backend\(\)|config\.backend\(\)|__name__ ==")
    for path in sorted(LAYERS.glob("*.py")):
        assert not pattern.search(path.read_text()), path.name
