"""ScheduledSampling: Bengio et al.'s schedules and their effect on training."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.callbacks import ScheduledSampling
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq


@pytest.mark.parametrize(
    "kwargs, step, expected",
    [
        ({"schedule": "linear", "k": 1.0, "c": 0.1, "epsilon": 0.2}, 0, 0.0),
        ({"schedule": "linear", "k": 1.0, "c": 0.1, "epsilon": 0.2}, 3, 0.3),
        ({"schedule": "linear", "k": 1.0, "c": 0.1, "epsilon": 0.2}, 10, 0.8),  # floor 0.2
        ({"schedule": "linear", "k": 0.9, "c": 0.05}, 4, 0.3),
        ({"schedule": "exponential", "k": 0.9}, 0, 0.0),
        ({"schedule": "exponential", "k": 0.9}, 2, 0.19),
        ({"schedule": "exponential", "k": 0.9, "epsilon": 0.5}, 10, 0.5),  # 0.9 ** 10 = 0.349 < 0.5
        ({"schedule": "inverse_sigmoid", "k": 5.0}, 0, 1 - 5 / 6),
        ({"schedule": "inverse_sigmoid", "k": 5.0}, 5, 1 - 5 / (5 + math.e)),
        ({"schedule": "inverse_sigmoid", "k": 5.0}, 20, 1 - 5 / (5 + math.exp(4))),
        ({"schedule": "inverse_sigmoid", "k": 5.0, "epsilon": 0.1}, 10**6, 0.9),
    ],
)
def test_schedule_values(kwargs, step, expected):
    assert ScheduledSampling(**kwargs).probability(step) == pytest.approx(expected, abs=1e-12)


def test_probability_rises():
    for schedule in ("linear", "exponential", "inverse_sigmoid"):
        callback = ScheduledSampling(schedule)
        values = [callback.probability(step) for step in range(0, 2000, 50)]
        assert values == sorted(values) and values[-1] > values[0], schedule


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"schedule": "cosine"}, "schedule='cosine'"),
        ({"update": "step"}, "update='step'"),
        ({"schedule": "linear", "k": 1.5}, "k=1.5"),
        ({"schedule": "exponential", "k": 0.0}, "k=0.0"),
        ({"schedule": "inverse_sigmoid", "k": 0.5}, "k=0.5"),
        ({"c": -0.1}, "c=-0.1"),
        ({"epsilon": 1.2}, "epsilon=1.2"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScheduledSampling(**kwargs)


REAL = {"input_dim": 2, "input_length": 4, "hidden_dim": 6, "output_length": 5, "output_dim": 3}
TOKENS = {
    "input_vocab_size": 9,
    "output_vocab_size": 9,
    "input_length": None,
    "output_length": 5,
    "hidden_dim": 6,
}


def real_data(batch=8):
    rng = np.random.default_rng(0)
    x = rng.random((batch, 4, 2)).astype("float32")
    y = rng.random((batch, 5, 3)).astype("float32")
    return x, y


def token_data(batch=8):
    rng = np.random.default_rng(0)
    return rng.integers(3, 9, size=(batch, 4)).astype("int32"), rng.integers(3, 9, size=(batch, 5))


def test_needs_a_model_with_scheduled_sampling():
    x, y = real_data()
    for model in (
        Seq2Seq(teacher_force=True, **REAL),
        SimpleSeq2Seq(scheduled_sampling=True, **REAL),
    ):
        model.compile(loss="mse")
        with pytest.raises(ValueError, match="scheduled_sampling=True"):
            model.fit(x, y, epochs=1, verbose=0, callbacks=[ScheduledSampling()])


def teacher_forced_twin(model):
    """A model of the same class and weights that always feeds the targets back in training."""
    config = {**model.get_config(), "scheduled_sampling": False, "teacher_force": True}
    twin = type(model).from_config(config)
    twin.set_weights(model.get_weights())
    return twin


@pytest.mark.parametrize(
    "cls, kwargs, data",
    [
        (Seq2Seq, REAL, real_data),
        (AttentionSeq2Seq, REAL, real_data),
        (AttentionSeq2Seq, TOKENS, token_data),
    ],
    ids=["real-seq2seq", "real-attention", "token-attention"],
)
def test_probability_mixes_teacher_forcing_and_free_running(cls, kwargs, data):
    model = cls(scheduled_sampling=True, **kwargs)
    x, y = data()
    teacher = ops.convert_to_numpy(teacher_forced_twin(model)([x, y], training=True))
    free = ops.convert_to_numpy(model(x, training=False))
    assert not np.allclose(teacher, free, atol=1e-4)
    outputs = {}
    for p in (0.0, 0.5, 1.0):
        model.sampling_probability.assign(p)
        outputs[p] = ops.convert_to_numpy(model([x, y], training=True))
    np.testing.assert_allclose(outputs[0.0], teacher, atol=1e-5)
    np.testing.assert_allclose(outputs[1.0], free, atol=1e-5)
    assert not np.allclose(outputs[0.5], teacher, atol=1e-4)
    assert not np.allclose(outputs[0.5], free, atol=1e-4)


def test_fit_uses_the_probability_set_before_each_batch():
    # lr 0 keeps the weights; batch 0 runs at p = 0 (teacher forcing), batch 1 at p = 1 (free).
    model = Seq2Seq(scheduled_sampling=True, **REAL)
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.0))
    x, y = real_data()
    teacher = teacher_forced_twin(model)([x[:4], y[:4]], training=True)
    expected_first = float(np.mean((ops.convert_to_numpy(teacher) - y[:4]) ** 2))
    free = ops.convert_to_numpy(model(x[4:], training=False))
    expected_second = float(np.mean((free - y[4:]) ** 2))

    running = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: running.append(logs["loss"])
    )
    callback = ScheduledSampling("linear", k=1.0, c=1.0)
    history = model.fit(
        x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[callback, record]
    )
    # Logged losses are running means over the epoch's batches.
    np.testing.assert_allclose(running[0], expected_first, rtol=1e-4)
    np.testing.assert_allclose(2 * running[1] - running[0], expected_second, rtol=1e-4)
    assert float(ops.convert_to_numpy(model.sampling_probability)) == 1.0
    assert history.history["sampling_probability"] == [1.0]
    assert callback.step == 2


def test_epoch_updates_on_a_token_model():
    model = AttentionSeq2Seq(scheduled_sampling=True, **TOKENS)
    model.compile(optimizer="adam")
    x, y = token_data()
    callback = ScheduledSampling("exponential", k=0.5, update="epoch")
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callback])
    assert history.history["sampling_probability"] == [0.0, 0.5, 0.75]
    assert float(ops.convert_to_numpy(model.sampling_probability)) == 0.75
    assert np.all(np.isfinite(history.history["loss"]))
