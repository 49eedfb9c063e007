"""`--time-budget`: the epochs planned from the pace measured, the schedule resized without
tracing the step again, the plan kept by a resumed run (a fake clock gives each epoch its
duration)."""

import warnings

import keras
import numpy as np
import pytest
from helpers import backend_independent
from test_training_run import _data, _model

from seq2seq.training import training_run
from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.resizable_cosine_decay import ResizableCosineDecay
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.time_budget import TimeBudget
from seq2seq.training.training_run import RunSettings, TrainingRun

STEPS = 6  # 44 examples, 8 a batch


def test_compiled_epochs_are_no_pace_and_the_plan_fits_the_time_left():
    budget = TimeBudget(seconds=1000, epochs=20)
    assert budget.epoch_ended(130.0, compiled=True, done=1) is False  # no pace yet
    assert budget.pace is None and budget.planned == 20
    # 770 s left at 105 s an epoch (the pace plus its margin): 7 more.
    assert budget.epoch_ended(100.0, compiled=False, done=2) is True
    assert budget.planned == 9 and budget.pace == 100.0
    assert budget.epoch_ended(100.0, compiled=True, done=3) is False  # on plan: 6 left
    assert budget.state() == {"planned_epochs": 9, "trained_seconds": 330.0}


def test_the_plan_only_shrinks_and_follows_the_median_pace():
    budget = TimeBudget(seconds=1000, epochs=10)
    budget.epoch_ended(300.0, compiled=True, done=1)
    assert budget.epoch_ended(20.0, compiled=False, done=2) is False  # 34 would fit
    assert budget.planned == 10
    for done in range(3, 6):
        budget.epoch_ended(120.0, compiled=False, done=done)  # slower: median 120 s
    # After epoch 4, 440 s left hold 3 epochs of 126 s; after epoch 5, 320 s hold 2.
    assert budget.planned == 7 and budget.pace == 120.0
    assert budget.epoch_ended(20.0, compiled=False, done=6) is False  # never grows back
    assert budget.planned == 7


def test_the_plan_keeps_a_margin_for_slower_epochs():
    budget = TimeBudget(seconds=1000, epochs=20)
    budget.epoch_ended(100.0, compiled=True, done=1)  # compiled, but no slower
    assert budget.epoch_ended(100.0, compiled=False, done=2) is True
    # 800 s left hold 8 epochs of exactly 100 s, 7 of 105 s (the pace plus 5 %).
    assert budget.planned == 9
    # A slower epoch then shrinks it no further (planned at exactly the pace, 10, it would).
    assert budget.epoch_ended(104.0, compiled=False, done=3) is False
    assert budget.planned == 9


def test_spent_before_any_pace_stops_and_a_saved_plan_is_kept():
    budget = TimeBudget(seconds=100, epochs=5)
    assert budget.epoch_ended(130.0, compiled=True, done=1) is True
    assert budget.planned == 1
    resumed = TimeBudget(seconds=100, epochs=5, spent=40.0, planned=3)
    assert resumed.planned == 3 and resumed.state()["trained_seconds"] == 40.0
    assert TimeBudget(seconds=100, epochs=2, planned=3).planned == 2
    with pytest.raises(ValueError, match="expected seconds > 0. Received: seconds=0"):
        TimeBudget(seconds=0, epochs=5)


class FakeTime:
    """`time.perf_counter` for `training_run`: each epoch (a start and an end reading)
    lasts the next of `durations` seconds."""

    def __init__(self, durations):
        self.durations = list(durations)
        self.now, self.calls = 0.0, 0

    def perf_counter(self):
        self.calls += 1
        if self.calls % 2 == 0:  # an epoch's end
            self.now += self.durations.pop(0)
        return self.now


def _scheduled_model():
    """The test's model with a cosine decay over the 20 epochs, as `seq2seq train` builds
    it (an optimizer built with a schedule has no learning-rate variable to checkpoint)."""
    model = _model()
    model.optimizer.learning_rate = ResizableCosineDecay(0.01, 20 * STEPS)
    return model


def _budget_run(folder, monkeypatch, durations, resume_from=None, seconds=1000.0):
    monkeypatch.setattr(training_run, "time", FakeTime(durations))
    settings = RunSettings(epochs=20, batch_size=8, seed=4, patience=30, checkpoint_every=0,
                           keep_checkpoints=30, verbose=0, time_budget=seconds)  # fmt: skip
    model = _scheduled_model()
    schedule = model.optimizer._learning_rate
    traced = []
    step = TrainingRun._epoch_data

    def epoch_data(run, *args):  # records the compiled step each epoch starts with
        traced.append(run.model.train_function)
        return step(run, *args)

    monkeypatch.setattr(TrainingRun, "_epoch_data", epoch_data)
    run = TrainingRun(model, RunFolder(folder), settings, schedule=schedule)
    history = run.fit(*_data(), resume_from=resume_from)
    return model, history, schedule, traced


def _checkpoint_model(folder, step):
    model = _scheduled_model()
    model.optimizer._learning_rate.attach(model.optimizer)
    training_run._build_for_restore(model)
    Checkpoint.load(folder.checkpoint_path(step)).restore(model)
    return model


@backend_independent
def test_a_run_trains_the_epochs_that_fit_on_the_resized_schedule(tmp_path, monkeypatch):
    durations = [130.0] + [100.0] * 19
    model, history, schedule, traced = _budget_run(tmp_path, monkeypatch, durations)
    assert len(history["loss"]) == 9
    folder = RunFolder(tmp_path)
    assert folder.latest_checkpoint().global_step == 9 * STEPS
    # The step was compiled once, in the first epoch, and read the new length as state:
    # the learning rate is the 9-epoch curve's (0 at its last step) and the weights moved.
    assert traced[0] is None and len({id(function) for function in traced[1:]}) == 1
    before, after = (_checkpoint_model(folder, epoch * STEPS) for epoch in (1, 3))
    assert float(before.optimizer._learning_rate.decay_steps.numpy()) == 20 * STEPS
    assert float(after.optimizer._learning_rate.decay_steps.numpy()) == 9 * STEPS
    assert float(after.optimizer.learning_rate) == pytest.approx(
        float(keras.optimizers.schedules.CosineDecay(0.01, 9 * STEPS)(3 * STEPS))
    )
    last = _checkpoint_model(folder, 9 * STEPS)
    assert float(last.optimizer.learning_rate) == 0.0
    assert any(not np.array_equal(a, b) for a, b in zip(after.get_weights(), last.get_weights()))
    state = Checkpoint.load(folder.checkpoint_path(3 * STEPS)).state
    assert state["planned_epochs"] == 9 and state["trained_seconds"] == 330.0
    # After the run the schedule is a number again: the model saves and loads as Keras' own.
    assert not schedule.attached and schedule.get_config()["decay_steps"] == 9 * STEPS
    # Its step and Adam's two slots a weight: neither a learning rate nor a decay variable.
    assert len(model.optimizer.variables) == 1 + 2 * len(model.trainable_variables)
    model.save(tmp_path / "model.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.optimizer._learning_rate.get_config() == schedule.get_config()


@backend_independent
def test_a_resumed_run_keeps_its_plan_and_its_schedule(tmp_path, monkeypatch):
    whole, history, _, _ = _budget_run(tmp_path / "whole", monkeypatch, [130.0] + [100.0] * 19)
    folder = RunFolder(tmp_path / "resumed")
    folder.checkpoints.mkdir(parents=True)
    (folder.checkpoints / f"step-{3 * STEPS:09d}.npz").write_bytes(
        RunFolder(tmp_path / "whole").checkpoint_path(3 * STEPS).read_bytes()
    )
    # Fast epochs now: 30 would fit, but the plan (and the schedule) stays at 9.
    resumed, resumed_history, schedule, _ = _budget_run(
        folder.path, monkeypatch, [1.0] * 20, resume_from=folder.latest_checkpoint()
    )
    assert schedule.get_config()["decay_steps"] == 9 * STEPS and resumed_history == history
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert folder.latest_checkpoint().state["trained_seconds"] == 330.0 + 6 * 1.0


@backend_independent
def test_a_budget_spent_in_the_first_epoch_ends_the_run(tmp_path, monkeypatch):
    _, history, schedule, _ = _budget_run(tmp_path, monkeypatch, [130.0] * 20, seconds=100.0)
    assert len(history["loss"]) == 1  # nothing left to resize
    assert schedule.get_config()["decay_steps"] == 20 * STEPS
