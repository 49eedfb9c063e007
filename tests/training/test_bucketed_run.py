"""A token run with length buckets and selection on exact match: replayable and resumable."""

import keras
import numpy as np
import pytest
from helpers import backend_independent

from seq2seq.callbacks.validation_exact_match import ValidationExactMatch, exact_match
from seq2seq.commands.train import seed_everything
from seq2seq.models import AttentionSeq2Seq
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.training_run import RunSettings, TrainingRun

SETTINGS = RunSettings(epochs=2, batch_size=8, seed=1, patience=5, checkpoint_every=3,
                       keep_checkpoints=9, verbose=0, bucket=True,
                       select_on="exact_match")  # fmt: skip
WIDTH = 8


def _data():
    """Reversal of 1-6 ids, padded with 0 after the end id 2."""
    rng = np.random.default_rng(0)
    x = np.zeros((70, WIDTH), dtype="int32")
    y = np.zeros((70, WIDTH), dtype="int32")
    for row, length in enumerate(rng.integers(1, 7, 70)):
        ids = rng.integers(4, 10, length)
        x[row, :length], x[row, length] = ids, 2
        y[row, :length], y[row, length] = ids[::-1], 2
    return (x[:54], y[:54]), (x[54:], y[54:])


def _model():
    seed_everything(1)
    model = AttentionSeq2Seq(input_vocab_size=10, output_vocab_size=10, embedding_dim=4,
                             hidden_dim=6, input_length=None, output_length=WIDTH,
                             dropout=0.2, seed=1)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    return model


def _train(folder, resume_from=None):
    model = _model()
    run = TrainingRun(model, RunFolder(folder), SETTINGS)
    history = run.fit(*_data(), resume_from=resume_from)
    return model, history


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    model, history = _train(folder)
    return folder, model.get_weights(), history


def test_exact_match_compares_whole_rows():
    ids = np.array([[5, 2, 0], [5, 6, 2], [5, 6, 2]])
    targets = np.array([[5, 2, 0, 0], [5, 6, 2, 0], [5, 7, 2, 0]])
    assert exact_match(ids, targets) == pytest.approx(2 / 3)


def test_exact_match_counts_a_row_right_on_any_of_its_alternatives():
    ids = np.array([[5, 2, 0], [5, 6, 2], [5, 6, 2], [7, 2, 0]])
    targets = np.array([[5, 2, 0], [5, 7, 2], [5, 7, 2], [7, 2, 0]])
    # Row 1 may also be `5 6`, row 2 `5 8` or `5 6 6` (neither is its output), row 3 `8`.
    rows = np.array([1, 2, 2, 3])
    more = np.array([[5, 6, 2, 0], [5, 8, 2, 0], [5, 6, 6, 2], [8, 2, 0, 0]])
    assert exact_match(ids, targets, (rows, more)) == pytest.approx(3 / 4)
    assert exact_match(ids, targets) == pytest.approx(2 / 4)
    assert exact_match(ids, targets, (np.zeros(0, int), np.zeros((0, 3), int))) == 0.5


@backend_independent
def test_history_holds_the_validation_exact_match_of_greedy_decoding(whole):
    _, weights, history = whole
    assert sorted(history) == ["loss", "val_exact_match", "val_loss"]
    assert len(history["val_exact_match"]) == 2
    model = _model()
    model.build()
    model.set_weights(weights)
    (_, _), (x_val, y_val) = _data()
    # The run keeps the best epoch's weights: its score is the highest in the history.
    ids = model.generate(x_val)["ids"]
    assert exact_match(ids, y_val) == max(history["val_exact_match"])
    callback = ValidationExactMatch(x_val, y_val)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["val_exact_match"] == max(history["val_exact_match"])


@pytest.mark.parametrize("step", [9])  # inside the second epoch
@backend_independent
def test_resuming_a_bucketed_run_ends_as_never_interrupted(whole, tmp_path, step):
    source, weights, history = whole
    folder = RunFolder(tmp_path)
    folder.checkpoints.mkdir()
    (folder.checkpoints / f"step-{step:09d}.npz").write_bytes(
        RunFolder(source).checkpoint_path(step).read_bytes()
    )
    resumed, resumed_history = _train(folder.path, resume_from=folder.latest_checkpoint())
    assert resumed_history == history
    for a, b in zip(resumed.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
