"""docs/errors.md, "Model arguments": each constructor mistake, on the three models."""

import pytest
from catalogue import expect, message_of

from seq2seq import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
BASE = {"output_dim": 2, "output_length": 3, "hidden_dim": 4}


def _error(model_cls, error_type=ValueError, **kwargs):
    return message_of(error_type, lambda: model_cls(**kwargs))


@pytest.mark.parametrize("model_cls", MODELS)
def test_shapes_and_sizes(model_cls):
    expect("E01", _error(model_cls, input_dim=3, depth=(0, 2), **BASE))
    expect("E02", _error(model_cls, input_dim=3, output_dim=2, output_length=3, hidden_dim=-4))
    expect("E03", _error(model_cls, input_dim=3, output_dim=2, output_length=0))
    expect("E04", _error(model_cls, input_dim=3, output_length=3, hidden_dim=4))
    expect("E05", _error(model_cls, input_dim=3, dropout=1.0, **BASE))


@pytest.mark.parametrize("model_cls", MODELS)
def test_input_shapes(model_cls):
    expect("E06", _error(model_cls, input_shape=(3,), **BASE))
    expect(
        "E07",
        _error(model_cls, input_vocab_size=5, output_vocab_size=5, output_length=3,
               input_shape=(4, 2)),
    )  # fmt: skip
    expect("E08", _error(model_cls, input_length=5, **BASE))


@pytest.mark.parametrize("model_cls", MODELS)
def test_cell_state_and_vocabulary(model_cls):
    expect("E09", _error(model_cls, input_dim=3, cell="rnn", **BASE))
    expect("E10", _error(model_cls, input_dim=3, stateful=True, **BASE))
    expect("E11", _error(model_cls, input_dim=3, output_vocab_size=0, output_length=3))
    expect(
        "E12",
        _error(model_cls, input_dim=3, output_vocab_size=10, output_dim=4, output_length=3),
    )


def test_merge_mode():
    expect("E13", _error(AttentionSeq2Seq, input_dim=3, merge_mode="max", **BASE))


@pytest.mark.parametrize("model_cls", MODELS)
def test_keras_messages(model_cls):
    expect("E14", _error(model_cls, input_dim=3, output_activation="no_such_activation", **BASE))
    message = _error(Seq2Seq, input_dim=3, foo=1, **BASE)
    expect("E15", message)


def test_zero_sizes_and_a_decoder_blind_to_its_encoder():
    base = {"input_dim": 3, "output_length": 4, "output_dim": 2}
    expect("E99", message_of(ValueError, lambda: SimpleSeq2Seq(**base, hidden_dim=0)))
    expect(
        "E100", message_of(ValueError, lambda: SimpleSeq2Seq(**base, hidden_dim=4, batch_size=0))
    )
    tokens = {"input_vocab_size": 5, "output_vocab_size": 6, "hidden_dim": 4, "output_length": 3}
    expect("E101", message_of(ValueError, lambda: Seq2Seq(**tokens, broadcast_state=False)))
