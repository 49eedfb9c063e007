"""Checkpoints: a save/load round trip restores every variable; bad files are refused."""

import random

import keras
import numpy as np
import pytest

from seq2seq.models import AttentionSeq2Seq
from seq2seq.training.checkpoint import Checkpoint, CheckpointError, epoch_order


def _trained_model(seed=0, hidden=8):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(16, 5))
    y = rng.integers(1, 7, size=(16, 4))
    model = AttentionSeq2Seq(
        input_vocab_size=6, output_vocab_size=7, embedding_dim=4, hidden_dim=hidden,
        output_length=4, seed=seed,
    )  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    return model, x, y


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def test_round_trip_restores_model_optimizer_metrics_and_random_states(tmp_path):
    model, x, y = _trained_model()
    np.random.seed(5)
    random.seed(5)
    best = [w * 2 for w in model.get_weights()]
    checkpoint = Checkpoint.capture(model, {"epoch": 1, "position": 3, "global_step": 7}, best)
    path = checkpoint.save(tmp_path / "step.npz")
    expected_draws = (np.random.random(3), random.random())

    other, _, _ = _trained_model(seed=1)
    loaded = Checkpoint.load(path)
    assert (loaded.epoch, loaded.position, loaded.global_step) == (1, 3, 7)
    loaded.restore(other)
    loaded.restore_metrics(other)
    for group in ("variables", "metrics_variables"):
        for a, b in zip(_values(getattr(other, group)), _values(getattr(model, group))):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(_values(other.optimizer.variables), _values(model.optimizer.variables)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.arrays["best"], best):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.random(3), expected_draws[0])
    assert random.random() == expected_draws[1]
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    model, _, _ = _trained_model(hidden=8)
    path = Checkpoint.capture(model, {"epoch": 0, "position": 1, "global_step": 1}).save(
        tmp_path / "step.npz"
    )
    other, _, _ = _trained_model(hidden=12)
    with pytest.raises(CheckpointError, match="the checkpoint's model variables do not fit"):
        Checkpoint.load(path).restore(other)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "file not found"),
        (b"", "not a readable checkpoint"),
        (b"garbage" * 10, "not a readable checkpoint"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, message):
    path = tmp_path / "step.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=f"^{path}: {message}"):
        Checkpoint.load(path)


def test_a_truncated_checkpoint_is_refused(tmp_path):
    model, _, _ = _trained_model()
    path = Checkpoint.capture(model, {"epoch": 0, "position": 1, "global_step": 1}).save(
        tmp_path / "step.npz"
    )
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Checkpoint.load(path)


def test_an_npz_that_is_not_a_checkpoint_is_refused(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Checkpoint.load(tmp_path / "data.npz")


def test_epoch_order_depends_on_seed_and_epoch_only():
    first = epoch_order(50, seed=3, epoch=2)
    np.testing.assert_array_equal(first, epoch_order(50, seed=3, epoch=2))
    assert sorted(first.tolist()) == list(range(50))
    assert not np.array_equal(first, epoch_order(50, seed=3, epoch=3))
    assert not np.array_equal(first, epoch_order(50, seed=4, epoch=2))
