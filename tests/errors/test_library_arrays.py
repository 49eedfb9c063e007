"""docs/errors.md, "Arrays given to the library": bad arrays given to fit, evaluate and
predict are refused before Keras sees them (nothing trains)."""

import numpy as np
import pytest
from catalogue import expect, message_of

from seq2seq import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq


@pytest.fixture(scope="module", params=[SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq])
def real_model(request):
    model = request.param(input_dim=3, output_dim=2, output_length=3, hidden_dim=4)
    model.compile(loss="mse")
    return model


@pytest.fixture(scope="module")
def token_model():
    model = Seq2Seq(input_vocab_size=6, output_vocab_size=5, output_length=3, hidden_dim=4)
    model.compile()
    return model


X = np.zeros((4, 5, 3), "float32")
Y = np.zeros((4, 3, 2), "float32")
IDS = np.array([[4, 5, 1, 0]] * 4, "int32")
TARGETS = np.ones((4, 3), "int32")


def _calls(model, x, y):
    """The message of each of fit, evaluate and predict (predict only when `y` is None)."""
    if y is None:
        return [message_of(ValueError, lambda: model.predict(x, verbose=0))]
    return [
        message_of(ValueError, lambda: model.fit(x, y, epochs=1, verbose=0)),
        message_of(ValueError, lambda: model.evaluate(x, y, verbose=0)),
    ]


def _unchanged(model, run):
    before = [w.copy() for w in model.get_weights()]
    run()
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_x_of_the_wrong_shape(real_model):
    for message in _calls(real_model, X[..., 0], None) + _calls(real_model, X[..., 0], Y):
        expect("E16", message)
    for message in _calls(real_model, X[..., :2], None) + _calls(real_model, X[..., :2], Y):
        expect("E17", message)


def test_token_ids(token_model):
    expect("E18", _calls(token_model, IDS[..., None], None)[0])
    expect(
        "E19", message_of(TypeError, lambda: token_model.predict(IDS.astype("float32"), verbose=0))
    )
    bad = IDS.copy()
    bad[1, 2] = 7
    for message in _calls(token_model, bad, None) + _calls(token_model, bad, TARGETS):
        expect("E20", message)
    targets = TARGETS.copy()
    targets[2, 0] = -1
    for message in _calls(token_model, IDS, targets):
        expect("E21", message)


def test_targets_of_the_wrong_shape(real_model, token_model):
    for message in _calls(token_model, IDS, np.zeros((4, 3, 5), "int32")):
        expect("E22", message)
    for message in _calls(real_model, X, np.zeros((4, 3, 5), "float32")):
        expect("E23", message)
    for message in _calls(token_model, IDS, np.ones((4, 5), "int32")):
        expect("E24", message)


def test_rows_and_empty_data(real_model, token_model):
    for message in _calls(real_model, X, Y[:3]) + _calls(token_model, IDS, TARGETS[:3]):
        expect("E25", message)
    for message in _calls(real_model, X[:0], None) + _calls(real_model, X[:0], Y[:0]):
        expect("E26", message)


def test_non_finite_values_are_refused_before_training(real_model):
    x = X.copy()
    x[3, 1, 2] = np.nan
    y = Y.copy()
    y[1, 2, 0] = np.inf

    def check():
        for message in _calls(real_model, x, Y) + _calls(real_model, x, None):
            expect("E27", message)
        for message in _calls(real_model, X, y):
            expect("E28", message)

    _unchanged(real_model, check)


def test_x_that_is_not_numbers(real_model):
    message = message_of(TypeError, lambda: real_model.predict(np.full((4, 5, 3), "a"), verbose=0))
    expect("E29", message)
