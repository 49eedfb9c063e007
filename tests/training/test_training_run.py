"""The epoch loop: determinism, history.csv, checkpoint pruning, resuming inside an epoch."""

import keras
import numpy as np
import pytest

from seq2seq.commands.train import seed_everything
from seq2seq.models import Seq2Seq
from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.training_run import RunSettings, TrainingRun

SETTINGS = RunSettings(epochs=3, batch_size=8, seed=4, patience=5, checkpoint_every=5,
                       keep_checkpoints=9, verbose=0)  # fmt: skip


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((60, 6, 3), dtype=np.float32)
    y = np.flip(x[:, :4, :2], axis=1).copy()
    return (x[:44], y[:44]), (x[44:], y[44:])


def _model(ema=0.0):
    seed_everything(4)
    model = Seq2Seq(input_dim=3, hidden_dim=4, output_length=4, output_dim=2, peek=True,
                    teacher_force=True, dropout=0.2, seed=4)  # fmt: skip
    optimizer = keras.optimizers.Adam(0.01, use_ema=bool(ema), ema_momentum=ema or 0.99)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _train(folder, resume_from=None, settings=SETTINGS, ema=0.0):
    model = _model(ema)
    run = TrainingRun(model, RunFolder(folder), settings)
    train, validation = _data()
    history = run.fit(train, validation, resume_from=resume_from)
    return model, history


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """A run never interrupted: its folder, final weights and history."""
    folder = tmp_path_factory.mktemp("whole")
    model, history = _train(folder)
    return folder, model.get_weights(), history


def test_the_same_seed_gives_the_same_losses_and_weights(whole, tmp_path):
    _, weights, history = whole
    second, again = _train(tmp_path)
    assert history == again and len(history["loss"]) == 3
    for a, b in zip(second.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_history_csv_and_pruned_checkpoints(whole, tmp_path):
    folder, _, history = whole
    rows = (folder / "history.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,val_loss"
    assert rows[1:] == [
        f"{epoch},{history['loss'][epoch]},{history['val_loss'][epoch]}" for epoch in range(3)
    ]
    # 6 steps an epoch (44 examples, 8 a batch): checkpoints at 5, 6 (epoch end), 10, 12, 15, 18
    names = [p.name for p in RunFolder(folder).checkpoint_paths()]
    assert names == [f"step-{step:09d}.npz" for step in (5, 6, 10, 12, 15, 18)]
    run = TrainingRun(_model(), RunFolder(tmp_path), SETTINGS)
    for path in RunFolder(folder).checkpoint_paths():
        run.folder.save_checkpoint(Checkpoint.load(path), keep=2)
    assert [p.name for p in run.folder.checkpoint_paths()] == names[-2:]


@pytest.mark.parametrize("step", [5, 6, 10])  # inside the first epoch, at its end, in the second
def test_resuming_from_any_checkpoint_ends_as_never_interrupted(whole, tmp_path, step):
    source, weights, history = whole
    folder = RunFolder(tmp_path)
    folder.checkpoints.mkdir()
    (folder.checkpoints / f"step-{step:09d}.npz").write_bytes(
        (RunFolder(source).checkpoint_path(step)).read_bytes()
    )
    checkpoint = folder.latest_checkpoint()
    assert checkpoint.global_step == step
    resumed, resumed_history = _train(folder.path, resume_from=checkpoint)
    assert resumed_history == history
    for a, b in zip(resumed.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_a_run_with_an_average_of_the_weights_resumes_as_never_interrupted(whole, tmp_path):
    whole_folder = tmp_path / "whole"
    model, history = _train(whole_folder, ema=0.9)
    assert history["val_loss"] != whole[2]["val_loss"]  # the average was validated
    folder = RunFolder(tmp_path / "resumed")
    folder.checkpoints.mkdir(parents=True)
    (folder.checkpoints / "step-000000010.npz").write_bytes(
        RunFolder(whole_folder).checkpoint_path(10).read_bytes()
    )
    resumed, resumed_history = _train(folder.path, folder.latest_checkpoint(), ema=0.9)
    assert resumed_history == history
    for a, b in zip(resumed.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
