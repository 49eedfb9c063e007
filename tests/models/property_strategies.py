"""Hypothesis strategies over the three models' constructor arguments and data shapes.

`valid_cases()` draws a configuration that the constructors document as valid, with the
input shape given in one of the three ways (`input_dim`/`input_length`/`batch_size`,
`input_shape`, `batch_input_shape`), the shape the model must resolve from it and a
batch of data that fits. `invalid_cases()` draws a valid configuration with exactly one
argument broken, and the argument the error must name. Sizes stay tiny: every valid
case builds, trains and saves a model.
"""

import re
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from seq2seq.layers.cell_factory import CELLS
from seq2seq.layers.encoder import MERGE_MODES
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

MODELS = (SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq)
# Few distinct sizes: on JAX each new shape compiles every operation that meets it again
# (op by op, about 30 ms each), and that, not the arithmetic, is what a case costs there.
sizes = st.sampled_from([1, 3, 4, 8])  # hidden_dim
lengths = st.integers(1, 4)
batches = st.sampled_from([1, 2, 3])
features = st.sampled_from([1, 2, 3])  # input_dim and output_dim
vocabulary_sizes = st.sampled_from([2, 5, 7])
embedding_sizes = st.sampled_from([2, 3])
depths = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@dataclass
class Case:
    """One drawn configuration: the model, its arguments and what they must give."""

    model_cls: type
    kwargs: dict
    input_shape: tuple = ()  # what the model must resolve (`full_input_shape`)
    batch: int = 1  # rows of the data batch
    input_length: int = 1  # time steps of the data batch
    sampling_probability: float = 0.0
    data_seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def token_input(self):
        return self.kwargs.get("input_vocab_size") is not None

    @property
    def token_output(self):
        return self.kwargs.get("output_vocab_size") is not None

    @property
    def output_dim(self):
        return self.kwargs["output_vocab_size"] if self.token_output else self.kwargs["output_dim"]

    @property
    def expected_output_shape(self):
        return (self.batch, self.kwargs["output_length"], self.output_dim)


@st.composite
def _input_arguments(draw, token_input):
    """`(kwargs, resolved_shape)` for one of the three ways of giving the input shape."""
    batch = draw(st.one_of(st.none(), batches))
    length = draw(st.one_of(st.none(), lengths))
    feature_shape = () if token_input else (draw(features),)
    way = draw(st.sampled_from(["arguments", "input_shape", "batch_input_shape"]))
    if way == "batch_input_shape":
        kwargs = {"batch_input_shape": (batch, length) + feature_shape}
    elif way == "input_shape":
        kwargs = {"input_shape": (length,) + feature_shape, "batch_size": batch}
    else:
        kwargs = {"input_length": length, "batch_size": batch}
        if feature_shape:
            kwargs["input_dim"] = feature_shape[0]
    if token_input:
        kwargs["input_vocab_size"] = draw(vocabulary_sizes)
    return kwargs, (batch, length) + feature_shape


@st.composite
def valid_cases(draw, model_classes=MODELS):
    """A valid configuration of any model, with a data batch that fits it."""
    model_cls = draw(st.sampled_from(model_classes))
    token_input, token_output = draw(st.booleans()), draw(st.booleans())
    kwargs, shape = draw(_input_arguments(token_input))
    kwargs.update(
        output_length=draw(lengths),
        hidden_dim=draw(st.one_of(st.none(), sizes)),
        depth=draw(depths),
        cell=draw(st.sampled_from(sorted(CELLS))),
        dropout=draw(st.sampled_from([0.0, 0.25])),
        unroll=draw(st.booleans()),
        teacher_force=draw(st.sampled_from([None, True, False])),
        scheduled_sampling=draw(st.booleans()),
        seed=draw(st.integers(0, 99)),
    )
    if token_output:
        vocab = draw(vocabulary_sizes)
        kwargs["output_vocab_size"] = vocab
        kwargs["output_dim"] = draw(st.sampled_from([None, vocab]))
        kwargs["logits"] = draw(st.booleans())
    else:
        kwargs["output_dim"] = draw(features)
        kwargs["output_activation"] = draw(st.sampled_from(["linear", "tanh", "sigmoid"]))
    if token_input or token_output:
        embedding = draw(st.one_of(st.none(), embedding_sizes))
        # Token models default to hidden_dim 64 without either size: too big for here.
        kwargs["embedding_dim"] = embedding if kwargs["hidden_dim"] else draw(embedding_sizes)
    if model_cls is Seq2Seq:
        kwargs.update(
            peek=draw(st.booleans()),
            broadcast_state=draw(st.booleans()),
            inner_broadcast_state=draw(st.booleans()),
        )
        if token_output and not kwargs["broadcast_state"]:
            kwargs["peek"] = True  # else the decoder would not see the encoder (refused)
    if model_cls is AttentionSeq2Seq:
        kwargs.update(
            bidirectional=draw(st.booleans()), merge_mode=draw(st.sampled_from(MERGE_MODES))
        )
    return Case(
        model_cls,
        kwargs,
        input_shape=shape,
        batch=shape[0] or draw(batches),
        input_length=shape[1] or draw(lengths),
        sampling_probability=draw(st.sampled_from([0.0, 0.5, 1.0])),
        data_seed=draw(st.integers(0, 2**16)),
    )


# Invalid configurations ------------------------------------------------------------------

not_an_int = st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.just([2]))
not_positive = st.one_of(st.integers(max_value=0), not_an_int)
bad_depths = st.one_of(
    not_positive,
    st.none(),
    st.tuples(st.integers(max_value=0), st.integers(1, 3)),
    st.tuples(st.integers(1, 3), not_positive),
    st.lists(st.integers(1, 3), max_size=4).filter(lambda depth: len(depth) != 2),
)
bad_rates = st.one_of(
    st.floats(max_value=0, exclude_max=True),
    st.floats(min_value=1),
    st.just(float("nan")),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)
bad_cells = st.one_of(st.text(max_size=5), st.integers(), st.none()).filter(
    lambda cell: not isinstance(cell, str) or cell.lower() not in CELLS
)
bad_merge_modes = st.one_of(st.text(max_size=6), st.integers(), st.none()).filter(
    lambda mode: mode not in MERGE_MODES
)
# Sizes for which None is a mistake too (for the others it means "the default").
NONE_IS_BAD = ("output_length", "output_dim", "input_dim")


def _message(name, value, expected="Expected"):
    """The regex of a constructor error: the argument, what was expected, what was received."""
    return rf"argument `{name}`\. {expected}.*" + re.escape(f"Received: {name}={value!r}")


@st.composite
def invalid_cases(draw):
    """`(case, message regex)` for a valid configuration with one argument broken.

    Every such mistake raises a `ValueError` (Keras' own for unknown arguments).
    """
    model_cls = draw(st.sampled_from(MODELS))
    token_input, token_output = draw(st.booleans()), draw(st.booleans())
    kwargs = {"output_length": 2, "hidden_dim": 4}
    kwargs.update({"input_vocab_size": 5} if token_input else {"input_dim": 3})
    kwargs.update({"output_vocab_size": 5} if token_output else {"output_dim": 2})
    sizes_to_break = ["output_length", "hidden_dim", "batch_size", "input_length"]
    sizes_to_break += ["output_vocab_size"] if token_output else ["output_dim"]
    sizes_to_break += ["input_vocab_size"] if token_input else ["input_dim"]
    if token_input or token_output:
        sizes_to_break.append("embedding_dim")
    choices = sizes_to_break + ["depth", "dropout", "cell", "rank", "stateful", "unknown"]
    if token_output:
        choices.append("output_dim")
    if model_cls is AttentionSeq2Seq:
        choices.append("merge_mode")
    if model_cls is Seq2Seq and token_output:
        choices.append("broadcast_state")
    broken = draw(st.sampled_from(choices))

    if broken in sizes_to_break:
        bad = st.one_of(st.none(), not_positive) if broken in NONE_IS_BAD else not_positive
        kwargs[broken] = value = draw(bad)
        message = _message(broken, value)
    elif broken == "output_dim":  # token mode: only None or the vocabulary size
        kwargs[broken] = value = draw(st.integers(1, 9).filter(lambda dim: dim != 5))
        message = _message(broken, value, r"Expected None or `output_vocab_size` \(5\)")
    elif broken == "depth":
        kwargs[broken] = value = draw(bad_depths)
        message = _message(broken, value, "Expected a positive int or a pair of positive ints")
    elif broken == "dropout":
        kwargs[broken] = value = draw(bad_rates)
        message = _message(broken, value, r"Expected a float in \[0, 1\)")
    elif broken == "cell":
        kwargs[broken] = value = draw(bad_cells)
        message = _message(broken, value, r"Expected one of \['gru', 'lstm'\]")
    elif broken == "merge_mode":
        kwargs[broken] = value = draw(bad_merge_modes)
        message = _message(broken, value, r"Expected one of \('concat', 'sum', 'ave', 'mul'\)")
    elif broken == "rank":
        name = draw(st.sampled_from(["input_shape", "batch_input_shape"]))
        full_rank = 2 if token_input else 3
        rank = full_rank - (name == "input_shape")
        length = draw(st.integers(0, 5).filter(lambda n: n != rank))
        value = tuple(draw(st.lists(st.one_of(st.none(), sizes), min_size=length, max_size=length)))
        kwargs[name] = value
        message = _message(name, value, f"Expected a shape of rank {full_rank}")
    elif broken == "broadcast_state":  # token mode, without peek
        kwargs.update(broadcast_state=False, peek=draw(st.sampled_from([False, None, 0])))
        message = _message(broken, False, r"Expected True, or `peek=True`, in token mode")
    elif broken == "stateful":  # without a fixed batch size
        kwargs[broken] = True
        message = _message("batch_size", None, "Expected a fixed batch size")
    else:
        # An argument this model does not take (or a misspelt one), refused by Keras.
        name = draw(st.sampled_from(["hiden_dim", "depht", "peek", "bidirectional"]))
        if (name, model_cls) in (("peek", Seq2Seq), ("bidirectional", AttentionSeq2Seq)):
            name = "teacher_forcing"
        kwargs[name] = value = draw(st.booleans())
        message = re.escape(
            f"Unrecognized keyword arguments passed to {model_cls.__name__}: { ({name: value})!r}"
        )
    return Case(model_cls, kwargs, extra={"broken": broken}), message


@st.composite
def invalid_data(draw):
    """`(model key, method, x, y, error type, message regex)`: data that does not fit.

    The model key is `(model class, token input, token output)` of a small model with
    `input_dim=3` (or `input_vocab_size=5`), `output_length=3` and `output_dim=2` (or
    `output_vocab_size=5`).
    """
    model_cls = draw(st.sampled_from(MODELS))
    token_input, token_output = draw(st.booleans()), draw(st.booleans())
    batch, length = draw(batches), draw(lengths)
    x = np.ones((batch, length), "int32") if token_input else np.ones((batch, length, 3), "float32")
    y = np.ones((batch, 3), "int32") if token_output else np.ones((batch, 3, 2), "float32")
    kinds = ["x_rank", "x_empty", "x_dtype", "y_rank", "y_length", "rows"]
    kinds += [] if token_input else ["x_features"]
    kinds += [] if token_output else ["y_features"]
    kind = draw(st.sampled_from(kinds))
    methods = ["fit", "evaluate"] + ([] if kind.startswith("y") or kind == "rows" else ["predict"])
    method = draw(st.sampled_from(methods))
    error = ValueError
    if kind == "x_rank":
        rank = draw(st.integers(1, 4).filter(lambda r: r != x.ndim))
        x = np.ones(tuple(draw(st.lists(batches, min_size=rank, max_size=rank))), x.dtype)
        expected = "(batch, time) token ids" if token_input else "(batch, time, 3)"
        message = f"Invalid input `x`. Expected a rank-{2 if token_input else 3} array {expected}. "
        message = re.escape(message + f"Received shape {x.shape}.")
    elif kind == "x_features":
        size = draw(st.integers(1, 6).filter(lambda f: f != 3))
        x = np.ones((batch, length, size), "float32")
        message = re.escape(
            f"Invalid input `x`. Expected feature size 3 (input_dim). Received shape {x.shape} "
            f"with feature size {size}."
        )
    elif kind == "x_empty":
        x = x[:0]
        message = re.escape(
            f"Invalid input `x`. Expected a non-empty batch. Received shape {x.shape}."
        )
    elif kind == "x_dtype":
        error = TypeError
        if token_input:
            x = x.astype(draw(st.sampled_from(["float32", "float64", "bool"])))
            message = re.escape(
                f"Invalid input `x`. Expected integer token ids. Received dtype {x.dtype}."
            )
        else:
            x = np.full(x.shape, draw(st.text(min_size=1, max_size=2)))
            message = re.escape(
                f"Invalid input `x`. Expected an array of numbers. Received dtype {x.dtype}."
            )
    elif kind == "y_rank":
        rank = draw(st.integers(1, 4).filter(lambda r: r != y.ndim))
        y = np.ones(tuple(draw(st.lists(batches, min_size=rank, max_size=rank))), y.dtype)
        y = np.ones((batch,) + y.shape[1:], y.dtype)
        if token_output:
            message = "Invalid targets `y`. Expected a rank-2 array (batch, time) of token ids. "
        else:
            message = "Invalid targets `y`. Expected shape (batch, time, 2). "
        message = re.escape(message + f"Received shape {y.shape}.")
    elif kind == "y_features":
        y = np.ones((batch, 3, draw(st.integers(1, 6).filter(lambda f: f != 2))), "float32")
        message = re.escape(
            f"Invalid targets `y`. Expected shape (batch, time, 2). Received shape {y.shape}."
        )
    elif kind == "y_length":
        steps = draw(st.integers(1, 6).filter(lambda t: t != 3))
        y = np.ones((batch, steps) + y.shape[2:], y.dtype)
        message = re.escape(
            f"Invalid targets `y`. Expected 3 time steps (output_length=3). Received shape {y.shape} "
            f"with {steps} time steps."
        )
    else:
        rows = draw(batches.filter(lambda n: n != batch))
        y = np.ones((rows,) + y.shape[1:], y.dtype)
        message = re.escape(
            "Invalid inputs `x` and `y`. Expected the same number of rows (samples). "
            f"Received {batch} rows in `x` and {rows} in `y`."
        )
    return (model_cls, token_input, token_output), method, x, y, error, message
