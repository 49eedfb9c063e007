"""TokenCrossEntropy: Keras' sparse cross-entropy with padding ignored, plus label smoothing."""

import keras
import numpy as np
import pytest

from seq2seq.losses import TokenCrossEntropy


def _batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")
    targets = np.array([[4, 5, 2, 0, 0], [6, 2, 0, 0, 0], [4, 4, 4, 5, 2]])
    return targets, logits


@pytest.mark.parametrize("from_logits", [False, True])
def test_without_smoothing_it_is_keras_sparse_cross_entropy_ignoring_padding(from_logits):
    targets, logits = _batch()
    predictions = logits if from_logits else keras.ops.softmax(logits)
    ours = TokenCrossEntropy(from_logits=from_logits)(targets, predictions)
    keras_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, ignore_class=0
    )(targets, predictions)
    np.testing.assert_allclose(float(ours), float(keras_loss), rtol=1e-5)


def test_smoothing_mixes_the_uniform_distribution_over_valid_steps():
    targets, logits = _batch()
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    eps = 0.2
    valid = targets != 0
    picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0]
    per_step = -(1 - eps) * picked - eps * log_probs.mean(-1)
    expected = per_step[valid].mean()
    loss = TokenCrossEntropy(from_logits=True, label_smoothing=eps)(targets, logits)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    # Padding counts for nothing: changing the logits of padded steps changes nothing.
    changed = logits.copy()
    changed[~valid] = 50.0
    again = TokenCrossEntropy(from_logits=True, label_smoothing=eps)(targets, changed)
    np.testing.assert_allclose(float(again), expected, rtol=1e-5)


def test_config_round_trip_and_bad_smoothing():
    loss = TokenCrossEntropy(from_logits=True, label_smoothing=0.1)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(restored, TokenCrossEntropy)
    assert (restored.from_logits, restored.label_smoothing, restored.ignore_class) == (True, 0.1, 0)
    with pytest.raises(ValueError, match=r"label_smoothing.*Received: label_smoothing=1\.0"):
        TokenCrossEntropy(label_smoothing=1.0)
