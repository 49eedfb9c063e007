"""Seq2Seq: state transfer, output feedback, peek, vertical state threading."""

import keras
import numpy as np
import pytest
from helpers import assert_close, random_sequences, run_model_test, to_numpy

from seq2seq.layers import Decoder, Encoder
from seq2seq.models import Seq2Seq

BATCH, IN_LEN, IN_DIM, HIDDEN, OUT_LEN, OUT_DIM = 4, 5, 3, 4, 4, 2
BASE = {"input_dim": IN_DIM, "hidden_dim": HIDDEN, "output_length": OUT_LEN, "output_dim": OUT_DIM}


def _lstm(input_dim):
    return 4 * HIDDEN * (input_dim + HIDDEN + 1)


@pytest.mark.parametrize("teacher_force", [False, True])
def test_model(keras_path, teacher_force):
    model = Seq2Seq(input_length=IN_LEN, teacher_force=teacher_force, peek=teacher_force, **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=1)
    feedback_dim = OUT_DIM + (HIDDEN if teacher_force else 0)  # peek adds the context
    loaded = run_model_test(
        model,
        x,
        y,
        expected_output_shape=(BATCH, OUT_LEN, OUT_DIM),
        # encoder, context Dense(output_dim), decoder cell, Dense(output_dim); no bridge weights
        expected_num_params=_lstm(IN_DIM)
        + (HIDDEN + 1) * OUT_DIM
        + _lstm(feedback_dim)
        + (HIDDEN + 1) * OUT_DIM,
        keras_path=keras_path,
    )
    assert isinstance(loaded.encoder, Encoder) and isinstance(loaded.decoder, Decoder)
    assert_close(loaded.encode(x), model.encode(x))
    assert loaded.teacher_force is teacher_force


def test_loaded_model_keeps_training_like_the_original(keras_path):
    model = Seq2Seq(input_length=IN_LEN, **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(keras_path)
    loaded = keras.saving.load_model(keras_path)
    model.fit(x, y, epochs=2, verbose=0)
    loaded.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def _decoder_inputs(model, encoded):
    """What a real-valued Seq2Seq's decoder reads from its encoder, from the public layers."""
    return {
        "context": encoded["last"],
        "memory": encoded["outputs"],
        "mask": encoded["mask"],
        "start": model.start_layer(encoded["last"]),
    }


def _decode(model, x, states):
    encoded = model.encoder(x)
    return model.decoder(_decoder_inputs(model, encoded), states, length=OUT_LEN)["outputs"]


@pytest.mark.usefixtures("op_by_op")
def test_broadcast_state():
    """True: the decoder starts from the encoder's final states; False: from zeros."""
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    model = Seq2Seq(**BASE)
    cut = Seq2Seq(broadcast_state=False, **BASE)
    assert cut.bridge is None
    cut.set_weights(model.get_weights())  # the bridge has no weights when sizes match
    encoder_states = model.encoder(x)["states"]
    zeros = [[np.zeros((BATCH, HIDDEN), "float32")] * 2]
    assert_close(model(x), _decode(model, x, encoder_states))
    assert_close(cut(x), _decode(model, x, zeros))
    assert np.abs(to_numpy(model(x)) - to_numpy(cut(x))).max() > 1e-3


@pytest.mark.usefixtures("op_by_op")
def test_token_mode_without_broadcast_state_needs_peek():
    """Token mode starts from the start token: with neither the bridge nor peek the decoder
    never saw the encoder (no gradient reached it and the outputs ignored the input)."""
    tokens = {"input_vocab_size": 6, "output_vocab_size": 5, "hidden_dim": HIDDEN}
    with pytest.raises(
        ValueError, match=r"argument `broadcast_state`. Expected True, or `peek=True`, in token"
    ):
        Seq2Seq(broadcast_state=False, output_length=OUT_LEN, **tokens)
    model = Seq2Seq(broadcast_state=False, peek=True, output_length=OUT_LEN, **tokens)
    x = np.array([[4, 5, 2], [5, 4, 2]], "int32")
    outputs = to_numpy(model(x))
    assert np.abs(outputs[0] - outputs[1]).max() > 1e-6  # the input matters
    # Real values start from the context, so broadcast_state=False alone is fine there.
    assert Seq2Seq(broadcast_state=False, **BASE).bridge is None


@pytest.mark.usefixtures("op_by_op")
def test_broadcast_state_bridges_depths_and_sizes():
    model = Seq2Seq(depth=(3, 2), inner_broadcast_state=False, **BASE)
    assert model.bridge.sources == [1, 2]
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    encoder_states = model.encoder(x)["states"]
    assert_close(model(x), _decode(model, x, encoder_states[1:]))


@pytest.mark.usefixtures("op_by_op")
def test_inner_broadcast_state():
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    threaded = Seq2Seq(depth=2, inner_broadcast_state=True, **BASE)
    stacked = Seq2Seq(depth=2, inner_broadcast_state=False, **BASE)
    assert threaded.decoder.inner_broadcast_state and not stacked.decoder.inner_broadcast_state
    assert len(threaded.bridge(threaded.encoder(x)["states"])) == 1
    assert len(stacked.bridge(stacked.encoder(x)["states"])) == 2
    stacked.set_weights(threaded.get_weights())
    assert np.abs(to_numpy(threaded(x)) - to_numpy(stacked(x))).max() > 1e-4
    # With one decoder layer the two are the same network.
    single = Seq2Seq(inner_broadcast_state=True, **BASE)
    standard = Seq2Seq(inner_broadcast_state=False, **BASE)
    standard.set_weights(single.get_weights())
    assert_close(single(x), standard(x))


@pytest.mark.usefixtures("op_by_op")
def test_peek_feeds_the_context_to_every_step():
    """With the context rows of the first kernel at zero, peek is plain Seq2Seq; with
    them, every output step changes."""
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    plain = Seq2Seq(**BASE)
    peek = Seq2Seq(peek=True, **BASE)
    kernel = peek.decoder.cells[0].kernel
    assert tuple(kernel.shape) == (OUT_DIM + HIDDEN, 4 * HIDDEN)
    weights = []
    for plain_weight, peek_weight in zip(plain.weights, peek.weights):
        value = to_numpy(plain_weight)
        if peek_weight is kernel:
            value = np.concatenate([value, np.zeros((HIDDEN, 4 * HIDDEN), "float32")])
        weights.append(value)
    peek.set_weights(weights)
    assert_close(peek(x), plain(x))
    rng = np.random.default_rng(0)
    context_rows = rng.normal(scale=0.5, size=(HIDDEN, 4 * HIDDEN)).astype("float32")
    plain_kernel = to_numpy(plain.decoder.cells[0].kernel)
    kernel.assign(np.concatenate([plain_kernel, context_rows]))
    difference = np.abs(to_numpy(peek(x)) - to_numpy(plain(x)))
    assert difference.max(axis=(0, 2)).min() > 1e-4  # at every output step


@pytest.mark.usefixtures("op_by_op")
def test_output_feedback():
    """Step 0 reads the context C = Dense(h_enc); each later step reads the previous output."""
    model = Seq2Seq(**BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    encoded = model.encoder(x)
    bundle = model.decoder.prepare(_decoder_inputs(model, encoded))
    states = model.bridge(encoded["states"])
    features, outputs = bundle["start"], []
    for _ in range(OUT_LEN):
        out, states, _ = model.decoder.step(features, states, bundle)
        outputs.append(to_numpy(out))
        features = out
    assert_close(model(x), np.stack(outputs, 1), atol=1e-5)
