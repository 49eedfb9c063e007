"""SimpleSeq2Seq: the seed's encoder -> Dense(relu) -> repeat -> decoder -> Dense."""

import numpy as np
import pytest
from helpers import assert_close, random_sequences, run_model_test, to_numpy

from seq2seq.layers import Encoder, Recurrent
from seq2seq.models import SimpleSeq2Seq

BATCH, IN_LEN, IN_DIM, HIDDEN, OUT_LEN, OUT_DIM = 4, 5, 3, 4, 4, 2
BASE = {"input_dim": IN_DIM, "hidden_dim": HIDDEN, "output_length": OUT_LEN, "output_dim": OUT_DIM}


def test_model(keras_path):
    model = SimpleSeq2Seq(input_length=IN_LEN, **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=1)
    lstm = lambda d: 4 * HIDDEN * (d + HIDDEN + 1)  # noqa: E731
    loaded = run_model_test(
        model,
        x,
        y,
        expected_output_shape=(BATCH, OUT_LEN, OUT_DIM),
        # encoder LSTM, Dense(relu), decoder LSTM, Dense(output_dim)
        expected_num_params=lstm(IN_DIM)
        + (HIDDEN * HIDDEN + HIDDEN)
        + lstm(HIDDEN)
        + (HIDDEN * OUT_DIM + OUT_DIM),
        keras_path=keras_path,
    )
    assert isinstance(loaded.encoder, Encoder)
    assert_close(loaded.encode(x), model.encode(x))


@pytest.mark.usefixtures("op_by_op")
def test_decoder_reads_the_repeated_encoder_vector_from_zero_states():
    """Outputs follow the seed's graph, computed layer by layer."""
    model = SimpleSeq2Seq(depth=(1, 2), **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    assert len(model.decoder_layers) == 2 and all(
        isinstance(layer, Recurrent) for layer in model.decoder_layers
    )
    vector = model.bottleneck(model.encoder(x)["last"])
    assert np.all(to_numpy(vector) >= 0)  # relu
    sequence = np.repeat(to_numpy(vector)[:, None], OUT_LEN, axis=1)
    for layer in model.decoder_layers:
        sequence, _ = layer(sequence, initial_state=[np.zeros((BATCH, HIDDEN), "float32")] * 2)
    assert_close(model(x), model.output_layer(sequence))


@pytest.mark.usefixtures("op_by_op")
def test_targets_never_reach_the_outputs():
    """No feedback: even with teacher_force=True, `[x, y]` trains like `x`."""
    model = SimpleSeq2Seq(teacher_force=True, **BASE)
    x = random_sequences(BATCH, IN_LEN, IN_DIM)
    y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=1)
    assert_close(model([x, y], training=True), model(x, training=True))
    assert_close(model([x, 10 * y], training=True), model(x))
