"""`ResizableCosineDecay`: Keras' cosine decay whose length a compiled step reads as state."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from test_training_run import _data, _model

from seq2seq.commands.train import build_model
from seq2seq.config import resolve_settings
from seq2seq.training.resizable_cosine_decay import ResizableCosineDecay

TEXT_SHAPES = {"input_vocab_size": 9, "output_vocab_size": 8, "output_length": 5}


@pytest.mark.parametrize("warmup", [0, 30])
def test_the_same_curve_as_keras_cosine_decay_attached_or_not(warmup):
    arguments = dict(decay_steps=200, warmup_target=0.002 if warmup else None,
                     warmup_steps=warmup)  # fmt: skip
    keras_curve = keras.optimizers.schedules.CosineDecay(0.0 if warmup else 0.002, **arguments)
    schedule = ResizableCosineDecay(0.0 if warmup else 0.002, **arguments)
    steps = [0, 10, 29, 30, 31, 100, 229, 230, 500]
    expected = [float(keras_curve(step)) for step in steps]
    assert [float(schedule(step)) for step in steps] == expected
    optimizer = keras.optimizers.Adam(schedule)
    schedule.attach(optimizer)
    assert schedule.attached and len(optimizer.variables) == 2  # its step and the length
    assert [float(schedule(step)) for step in steps] == expected
    schedule.resize_to_total(warmup + 100)
    shorter = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else 0.002, **{**arguments, "decay_steps": 100}
    )
    assert [float(schedule(step)) for step in steps] == [float(shorter(s)) for s in steps]
    assert schedule.get_config()["decay_steps"] == 100
    schedule.detach(optimizer)
    assert not schedule.attached and len(optimizer.variables) == 1
    assert schedule.decay_steps == 100
    again = ResizableCosineDecay.from_config(schedule.get_config())
    assert [float(again(step)) for step in steps] == [float(shorter(s)) for s in steps]


def _trained(model):
    return [keras.ops.convert_to_numpy(weight) for weight in model.trainable_weights]


def test_a_compiled_step_follows_a_resize_without_tracing_again():
    (x, y), _ = _data()
    model = _model()
    schedule = ResizableCosineDecay(0.01, decay_steps=1000)
    model.optimizer.learning_rate = schedule
    schedule.attach(model.optimizer)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    step = model.train_function
    before = _trained(model)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    moved = _trained(model)
    assert any(not np.array_equal(a, b) for a, b in zip(before, moved))
    schedule.resize_to_total(1)  # the decay ended long ago: a rate of 0 from now on
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model.train_function is step
    for a, b in zip(_trained(model), moved):
        np.testing.assert_array_equal(a, b)


def test_attaching_twice_is_refused():
    schedule = ResizableCosineDecay(0.01, decay_steps=10)
    optimizer = keras.optimizers.Adam(schedule)
    schedule.attach(optimizer)
    with pytest.raises(ValueError, match="already attached"):
        schedule.attach(optimizer)


def test_import_seq2seq_is_all_a_saved_model_needs(tmp_path):
    """A model as `seq2seq train` compiles it (its loss and cosine schedule are seq2seq
    classes) loads compiled in a new process that imports nothing else."""
    settings = resolve_settings(
        {"hidden": 4, "embedding_dim": 4, "schedule": "cosine", "epochs": 3}
    )
    model = build_model(settings, TEXT_SHAPES, text=True, steps_per_epoch=10)
    model.save(tmp_path / "model.keras")
    load = (
        "import sys, seq2seq.models; model = seq2seq.models.load_model(sys.argv[1], compile=True); "
        "print(type(model.loss).__name__, model.optimizer._learning_rate.get_config()['decay_steps'])"
    )
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    result = subprocess.run(
        [sys.executable, "-c", load, str(tmp_path / "model.keras")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["TokenCrossEntropy", str(3 * 10)]
