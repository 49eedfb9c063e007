"""Constructor arguments of the three models: input shape precedence, defaults, depth, and
the errors a user's mistake raises (each names the argument and the value received)."""

import json

import numpy as np
import pytest

from seq2seq import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq
from seq2seq.layers import GRUCell, LSTMCell

MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
BASE = {"output_dim": 2, "output_length": 3, "hidden_dim": 4}


def _decoder_depth(model):
    if isinstance(model, SimpleSeq2Seq):
        return len(model.decoder_layers)
    return len(model.decoder.cells)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"input_dim": 3}, (None, None, 3)),
        ({"input_dim": 3, "input_length": 5}, (None, 5, 3)),
        ({"input_dim": 3, "input_length": 5, "batch_size": 8}, (8, 5, 3)),
        ({"input_shape": (5, 3)}, (None, 5, 3)),
        ({"input_shape": (None, 3), "batch_size": 2}, (2, None, 3)),
        # batch_input_shape wins over everything else, input_shape over input_dim.
        ({"batch_input_shape": (4, 6, 2), "input_shape": (5, 3), "input_dim": 7}, (4, 6, 2)),
        ({"input_shape": (5, 3), "input_dim": 7, "input_length": 9}, (None, 5, 3)),
    ],
)
def test_input_shape_precedence(model_cls, kwargs, shape):
    model = model_cls(**BASE, **kwargs)
    assert model.full_input_shape == shape
    assert (model.batch_size, model.input_length, model.input_dim) == shape
    assert model.get_config()["batch_input_shape"] == shape
    # The encoder's first layer reads input_dim features.
    assert tuple(model.encoder.forward_layers[0].cell.kernel.shape)[0] == shape[-1]


@pytest.mark.parametrize("model_cls", MODELS)
def test_hidden_dim_defaults_to_output_dim(model_cls):
    model = model_cls(input_dim=3, output_length=2, output_dim=4)
    assert model.hidden_dim == 4
    assert model.encoder.units == 4
    assert model_cls(input_dim=3, **BASE).encoder.units == BASE["hidden_dim"]


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "depth, expected",
    [(1, (1, 1)), (3, (3, 3)), ((4, 5), (4, 5)), ((1, 3), (1, 3)), ([3, 1], (3, 1))],
)
def test_depth(model_cls, depth, expected):
    model = model_cls(input_dim=3, depth=depth, **BASE)
    assert (model.encoder_depth, model.decoder_depth) == expected
    assert model.encoder.depth == expected[0]
    assert len(model.encoder.forward_layers) == expected[0]
    # One decoder layer per level: the original library built two for depth 1.
    assert _decoder_depth(model) == expected[1]
    # A pair is kept as a tuple: a list after a `.keras` (JSON) round trip gives the same config.
    config = model.get_config()
    assert config["depth"] == (depth if isinstance(depth, int) else tuple(depth))
    assert model_cls.from_config(json.loads(json.dumps(config))).get_config() == config


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("cell, cell_cls", [("lstm", LSTMCell), ("GRU", GRUCell)])
def test_cell(model_cls, cell, cell_cls):
    model = model_cls(input_dim=3, cell=cell, depth=2, **BASE)
    assert model.cell == cell.lower()
    recurrent_cells = [layer.cell for layer in model.encoder.forward_layers]
    if isinstance(model, SimpleSeq2Seq):
        recurrent_cells += [layer.cell for layer in model.decoder_layers]
    else:
        recurrent_cells += model.decoder.cells
    assert all(type(c) is cell_cls for c in recurrent_cells)
    assert model.get_config()["cell"] == cell.lower()


# Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("depth", [0, -1, (0, 2), (2, -1), (1, 2, 3), (2,), 1.5, "2", True, None])
def test_invalid_depth(model_cls, depth):
    with pytest.raises(
        ValueError, match=r"argument `depth`. Expected a positive int or a pair"
    ) as info:
        model_cls(input_dim=3, depth=depth, **BASE)
    assert f"Received: depth={depth!r}" in str(info.value)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("output_length", [0, -2, None, 2.0])
def test_invalid_output_length(model_cls, output_length):
    with pytest.raises(ValueError, match=r"`output_length`. Expected a positive int") as info:
        model_cls(input_dim=3, output_dim=2, output_length=output_length)
    assert f"Received: output_length={output_length!r}" in str(info.value)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs", [{}, {"input_length": 5}, {"input_shape": (5, None)}, {"batch_size": 2}]
)
def test_no_way_to_know_input_dim(model_cls, kwargs):
    with pytest.raises(ValueError, match=r"argument `input_dim`.*Received: input_dim=None"):
        model_cls(**BASE, **kwargs)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs, name",
    [({"input_shape": (3,)}, "input_shape"), ({"batch_input_shape": (2, 5)}, "batch_input_shape")],
)
def test_input_shape_of_the_wrong_rank(model_cls, kwargs, name):
    with pytest.raises(
        ValueError, match=rf"argument `{name}`. Expected a shape of rank 3.*Received: {name}="
    ):
        model_cls(**BASE, **kwargs)


@pytest.mark.parametrize("model_cls", MODELS)
def test_unknown_cell(model_cls):
    with pytest.raises(
        ValueError,
        match=r"argument `cell`. Expected one of \['gru', 'lstm'\]. Received: cell='rnn'",
    ):
        model_cls(input_dim=3, cell="rnn", **BASE)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs", [{"input_dim": 3}, {"input_shape": (5, 3)}, {"batch_input_shape": (None, 5, 3)}]
)
def test_stateful_needs_a_batch_size(model_cls, kwargs):
    with pytest.raises(
        ValueError,
        match=r"argument `batch_size`. Expected a fixed batch size.*Received: batch_size=None",
    ):
        model_cls(stateful=True, **BASE, **kwargs)
    if "batch_input_shape" in kwargs:
        kwargs = {"batch_input_shape": (2, 5, 3)}
    assert model_cls(stateful=True, batch_size=2, **BASE, **kwargs).batch_size == 2


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"output_dim": None}, "output_dim"),
        ({"output_dim": 0}, "output_dim"),
        ({"hidden_dim": -4}, "hidden_dim"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": "0.5"}, "dropout"),
        ({"output_vocab_size": 0}, "output_vocab_size"),
        ({"input_vocab_size": -1}, "input_vocab_size"),
        ({"output_vocab_size": 10, "output_dim": 4}, "output_dim"),
    ],
)
def test_other_invalid_values(model_cls, kwargs, name):
    arguments = {**BASE, "input_dim": 3, **kwargs}
    with pytest.raises(ValueError, match=rf"argument `{name}`.*Received: {name}="):
        model_cls(**arguments)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize(
    "kwargs, name",
    [
        # Zero sizes used to fall back to the defaults (`hidden_dim or output_dim`).
        ({"hidden_dim": 0}, "hidden_dim"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"input_vocab_size": 5, "embedding_dim": 0}, "embedding_dim"),
        ({"output_vocab_size": 5, "output_dim": None, "embedding_dim": 0}, "embedding_dim"),
        # Batch sizes and input lengths were never checked: (0, None, 3) built a model.
        ({"input_length": 0}, "input_length"),
        ({"input_length": -2}, "input_length"),
        ({"input_length": 2.5}, "input_length"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": "2"}, "batch_size"),
        ({"input_shape": (0, 3), "batch_size": -1}, "batch_size"),
        ({"input_shape": (0, 3)}, "input_shape"),
        ({"input_vocab_size": 5, "input_shape": (-1,)}, "input_shape"),
        ({"batch_input_shape": (0, 5, 3)}, "batch_input_shape"),
        ({"batch_input_shape": (2, 1.5, 3)}, "batch_input_shape"),
    ],
)
def test_zero_or_malformed_sizes(model_cls, kwargs, name):
    with pytest.raises(ValueError, match=rf"argument `{name}`. Expected .*positive int") as info:
        model_cls(**{**BASE, "input_dim": 3, **kwargs})
    assert f"Received: {name}={kwargs[name]!r}" in str(info.value)


@pytest.mark.parametrize("model_cls", MODELS)
def test_unknown_output_activation(model_cls):
    with pytest.raises(ValueError, match="no_such_activation"):
        model_cls(input_dim=3, output_activation="no_such_activation", **BASE)


def test_invalid_merge_mode():
    with pytest.raises(ValueError, match=r"argument `merge_mode`.*Received: merge_mode='max'"):
        AttentionSeq2Seq(input_dim=3, merge_mode="max", **BASE)


# Data checks at fit / predict / evaluate --------------------------------------------------


@pytest.fixture(scope="module")
def real_model():
    model = Seq2Seq(input_dim=3, **BASE)
    model.compile(loss="mse")
    return model


@pytest.mark.parametrize("method", ["fit", "predict", "evaluate"])
@pytest.mark.parametrize(
    "x, message",
    [
        (
            np.zeros((4, 5), "float32"),
            r"Invalid input `x`. Expected a rank-3 array \(batch, time, 3\). Received shape \(4, 5\)",
        ),
        (np.zeros((4, 5, 3, 1), "float32"), r"Invalid input `x`. Expected a rank-3 array"),
        (
            np.zeros((4, 5, 2), "float32"),
            r"Invalid input `x`. Expected feature size 3 \(input_dim\). Received shape \(4, 5, 2\)",
        ),
    ],
)
def test_wrong_x(real_model, method, x, message):
    y = np.zeros((4, 3, 2), "float32")
    with pytest.raises(ValueError, match=message):
        if method == "predict":
            real_model.predict(x, verbose=0)
        else:
            getattr(real_model, method)(x, y, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate"])
@pytest.mark.parametrize("y_shape", [(4, 3), (4, 3, 5), (4, 3, 2, 1)])
def test_wrong_y(real_model, method, y_shape):
    x = np.zeros((4, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"Invalid targets `y`. Expected shape \(batch, time, 2\)"):
        getattr(real_model, method)(x, np.zeros(y_shape, "float32"), verbose=0)


def test_token_data_checks():
    model = Seq2Seq(
        input_vocab_size=6, output_vocab_size=5, output_length=3, hidden_dim=4, input_length=4
    )
    model.compile()
    ids = np.array([[4, 5, 1, 0]], "int32")
    with pytest.raises(
        ValueError,
        match=r"Invalid input `x`. Expected token ids in \[0, 6\) \(input_vocab_size=6\). Received id 7",
    ):
        model.predict(ids + 2, verbose=0)
    with pytest.raises(
        TypeError, match=r"Invalid input `x`. Expected integer token ids. Received dtype float32"
    ):
        model.predict(ids.astype("float32"), verbose=0)
    with pytest.raises(
        ValueError, match=r"Invalid input `x`. Expected a rank-2 array \(batch, time\) token ids"
    ):
        model.predict(ids[..., None], verbose=0)
    with pytest.raises(
        ValueError,
        match=r"Invalid targets `y`. Expected token ids in \[0, 5\).*Received id -1 in row 0",
    ):
        model.fit(ids, np.array([[1, 2, -1]]), verbose=0)
    with pytest.raises(ValueError, match=r"Invalid targets `y`. Expected a rank-2 array"):
        model.fit(ids, np.zeros((1, 3, 5), "int32"), verbose=0)
