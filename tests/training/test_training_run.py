"""The epoch loop: determinism, history.csv, checkpoint pruning, resuming inside an epoch."""

import keras
import numpy as np
import pytest

from seq2seq.commands.train import seed_everything
from seq2seq.models import Seq2Seq
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.training_run import RunSettings, TrainingRun

SETTINGS = RunSettings(epochs=3, batch_size=8, seed=4, patience=5, checkpoint_every=5,
                       keep_checkpoints=2, verbose=0)  # fmt: skip


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((60, 6, 3), dtype=np.float32)
    y = np.flip(x[:, :4, :2], axis=1).copy()
    return (x[:44], y[:44]), (x[44:], y[44:])


def _model():
    seed_everything(4)
    model = Seq2Seq(input_dim=3, hidden_dim=8, output_length=4, output_dim=2, depth=2,
                    peek=True, teacher_force=True, dropout=0.2, seed=4)  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _train(folder, resume_from=None, settings=SETTINGS):
    model = _model()
    run = TrainingRun(model, RunFolder(folder), settings)
    train, validation = _data()
    history = run.fit(train, validation, resume_from=resume_from)
    return model, history


def test_the_same_seed_gives_the_same_losses_and_weights(tmp_path):
    first, history = _train(tmp_path / "a")
    second, again = _train(tmp_path / "b")
    assert history == again and len(history["loss"]) == 3
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_history_csv_and_pruned_checkpoints(tmp_path):
    _, history = _train(tmp_path)
    rows = (tmp_path / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,val_loss"
    assert rows[1:] == [
        f"{epoch},{history['loss'][epoch]},{history['val_loss'][epoch]}" for epoch in range(3)
    ]
    # 6 steps an epoch (44 examples, 8 a batch): checkpoints at 5, 6 (epoch end), 10, 12, 15, 18
    assert [p.name for p in RunFolder(tmp_path).checkpoint_paths()] == [
        "step-000000015.npz",
        "step-000000018.npz",
    ]


@pytest.mark.parametrize("step", [5, 6, 10])  # inside the first epoch, at its end, in the second
def test_resuming_from_any_checkpoint_ends_as_never_interrupted(tmp_path, step):
    reference, history = _train(tmp_path / "whole")
    folder = RunFolder(tmp_path / "part")
    _train(folder.path, settings=RunSettings(**{**vars(SETTINGS), "keep_checkpoints": 9}))
    for later in folder.checkpoint_paths():
        if int(later.stem.split("-")[1]) > step:
            later.unlink()
    checkpoint = folder.latest_checkpoint()
    assert checkpoint.global_step == step
    resumed, resumed_history = _train(folder.path, resume_from=checkpoint)
    assert resumed_history == history
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
