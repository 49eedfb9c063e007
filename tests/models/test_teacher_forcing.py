"""Teacher forcing without a label leak, free-running inference, scheduled sampling.

The original library fed step t the *current* target y[t] during training. Here step t
reads y[t-1]: perturbing y[:, t] must leave every training-mode output at steps <= t
unchanged and change step t+1. One call checks every t: the batch holds one copy of the
data per perturbed step.
"""

import numpy as np
import pytest
from helpers import assert_close, random_sequences, to_numpy

from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

pytestmark = pytest.mark.usefixtures("op_by_op")

BATCH, IN_LEN, IN_DIM, HIDDEN, OUT_LEN, OUT_DIM, VOCAB = 2, 5, 3, 4, 4, 2, 7
REAL = {"input_dim": IN_DIM, "hidden_dim": HIDDEN, "output_length": OUT_LEN, "output_dim": OUT_DIM}
TOKEN = {
    "input_vocab_size": VOCAB,
    "output_vocab_size": VOCAB,
    "hidden_dim": HIDDEN,
    "output_length": OUT_LEN,
    "embedding_dim": 3,
}

CASES = {
    "seq2seq": (Seq2Seq, {**REAL, "teacher_force": True}),
    "seq2seq_peek_deep_gru": (
        Seq2Seq,
        {**REAL, "teacher_force": True, "peek": True, "depth": 2, "cell": "gru"},
    ),
    "attention": (AttentionSeq2Seq, {**REAL, "teacher_force": True, "depth": (1, 2)}),
    "seq2seq_tokens": (Seq2Seq, TOKEN),
    "attention_tokens": (AttentionSeq2Seq, TOKEN),
}


def _data(kwargs, seed=0):
    rng = np.random.default_rng(seed)
    if "output_vocab_size" in kwargs:
        x = rng.integers(4, VOCAB, size=(BATCH, IN_LEN)).astype("int32")
        y = rng.integers(4, VOCAB, size=(BATCH, OUT_LEN)).astype("int32")
    else:
        x = random_sequences(BATCH, IN_LEN, IN_DIM, seed=seed)
        y = random_sequences(BATCH, OUT_LEN, OUT_DIM, seed=seed + 1)
    return x, y


def _perturb(y, t):
    changed = y.copy()
    if y.ndim == 2:  # token ids: another real token
        changed[:, t] = np.where(changed[:, t] == 4, 5, 4)
    else:
        changed[:, t] += 1.0
    return changed


@pytest.mark.parametrize("case", list(CASES))
def test_no_label_leak(case):
    model_cls, kwargs = CASES[case]
    model = model_cls(**kwargs)
    assert model.teacher_force
    x, y = _data(kwargs)
    xs = np.concatenate([x] * (OUT_LEN + 1))
    ys = np.concatenate([y] + [_perturb(y, t) for t in range(OUT_LEN)])
    outputs = to_numpy(model([xs, ys], training=True))
    outputs = outputs.reshape((OUT_LEN + 1, BATCH) + outputs.shape[1:])
    base = outputs[0]
    for t in range(OUT_LEN):
        changed = outputs[t + 1]
        np.testing.assert_allclose(changed[:, : t + 1], base[:, : t + 1], atol=1e-6)
        if t + 1 < OUT_LEN:
            assert np.abs(changed[:, t + 1] - base[:, t + 1]).max(axis=-1).min() > 1e-6, t


@pytest.mark.parametrize("case", ["seq2seq", "attention_tokens"])
def test_training_uses_the_targets_and_inference_runs_free(case):
    model_cls, kwargs = CASES[case]
    model = model_cls(**kwargs)
    x, y = _data(kwargs)
    free = to_numpy(model(x))
    forced = to_numpy(model([x, y], training=True))
    # Step 0 reads the start value either way; later steps read y[t-1] only when forced.
    np.testing.assert_allclose(forced[:, 0], free[:, 0], atol=1e-5)
    assert np.abs(forced[:, 1:] - free[:, 1:]).max() > 1e-4
    # Inference ignores targets given alongside x; training without targets runs free.
    assert_close(model([x, y]), free)
    assert_close(model(x, training=True), free)
    assert_close(model({"x": x, "y": y}, training=True), forced)


def test_teacher_forcing_on_own_predictions_equals_free_running():
    model = Seq2Seq(**REAL, teacher_force=True, depth=2)
    x, _ = _data(REAL)
    free = to_numpy(model(x))
    assert_close(model([x, free], training=True), free, atol=1e-5)


def test_free_running_models_ignore_training_targets():
    x, y = _data(REAL)
    for model in [Seq2Seq(**REAL), AttentionSeq2Seq(**REAL), SimpleSeq2Seq(**REAL)]:
        assert not model.teacher_force
        assert_close(model([x, y], training=True), model(x))


@pytest.mark.parametrize("case", ["seq2seq", "attention_tokens"])
def test_scheduled_sampling_probability(case):
    """Probability 0 is teacher forcing, 1 is free running, in between a mix."""
    model_cls, kwargs = CASES[case]
    model = model_cls(**kwargs, scheduled_sampling=True, seed=5)
    x, y = _data(kwargs)
    free = to_numpy(model(x))
    forced = to_numpy(model([x, y], training=True))
    assert np.abs(forced[:, 1:] - free[:, 1:]).max() > 1e-4
    model.sampling_probability.assign(1.0)
    assert_close(model([x, y], training=True), free, atol=1e-5)
    model.sampling_probability.assign(0.0)
    assert_close(model([x, y], training=True), forced, atol=1e-5)
    model.sampling_probability.assign(0.5)
    xs, ys = np.concatenate([x] * 8), np.concatenate([y] * 8)
    mixed = to_numpy(model([xs, ys], training=True)).reshape((8,) + forced.shape)
    # Step 0 never depends on the draw; some copies differ from teacher forcing later on.
    np.testing.assert_allclose(
        mixed[:, :, 0], np.broadcast_to(forced[:, 0], mixed[:, :, 0].shape), atol=1e-5
    )
    assert np.abs(mixed - forced).max() > 1e-4
    assert np.abs(mixed - free).max() > 1e-4
