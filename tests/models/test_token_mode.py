"""Token mode: embeddings, softmax or logits over the output vocabulary, padding ignored,
vocabularies saved inside the .keras file."""

import keras
import numpy as np
import pytest
from helpers import assert_close, run_model_test, to_numpy

from seq2seq.data.vocabulary import Vocabulary
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

BATCH, IN_LEN, HIDDEN, OUT_LEN = 4, 5, 4, 4
SOURCE = Vocabulary(list("abcde"))  # 9 ids
TARGET = Vocabulary(list("xyz"))  # 7 ids
TOKEN = {
    "input_vocab_size": len(SOURCE),
    "output_vocab_size": len(TARGET),
    "hidden_dim": HIDDEN,
    "embedding_dim": 3,
    "output_length": OUT_LEN,
}


def _ids():
    x = SOURCE.encode(["abcd", "ba", "edca", "c"], max_length=IN_LEN)
    y = TARGET.encode(["xyz", "zz", "yxz", "x"], max_length=OUT_LEN)
    return x, y


@pytest.mark.parametrize("model_cls", [Seq2Seq, AttentionSeq2Seq])
def test_model(model_cls, keras_path):
    model = model_cls(
        **TOKEN, source_vocabulary=SOURCE, target_vocabulary=TARGET, input_length=IN_LEN
    )
    assert model.token_mode and model.token_input
    assert model.output_dim == len(TARGET)
    assert model.teacher_force  # the default in token mode
    x, y = _ids()
    loaded = run_model_test(
        model,
        x,
        y,
        expected_output_shape=(BATCH, OUT_LEN, len(TARGET)),
        keras_path=keras_path,
        loss=None,  # the model's default: sparse cross-entropy ignoring padding
    )
    assert loaded.source_vocabulary == SOURCE
    assert loaded.target_vocabulary == TARGET
    probabilities = loaded.predict(x, verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    loss = loaded.loss
    assert isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
    assert loss.get_config()["ignore_class"] == 0 and not loss.get_config()["from_logits"]


def test_defaults():
    # hidden_dim defaults to embedding_dim (64 when neither is given).
    model = Seq2Seq(output_vocab_size=7, output_length=3, input_dim=3, embedding_dim=4)
    assert model.teacher_force  # token mode trains with teacher forcing
    assert model.hidden_dim == 4 and model.embedding_dim == 4
    assert tuple(model.decoder.embedding.embeddings.shape) == (7, 4)
    assert model.get_config()["output_dim"] is None
    kwargs = {"output_length": 3, "input_dim": 3, "hidden_dim": 4}
    assert not Seq2Seq(output_vocab_size=7, teacher_force=False, **kwargs).teacher_force
    assert not Seq2Seq(output_dim=2, **kwargs).teacher_force


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", [Seq2Seq, AttentionSeq2Seq])
def test_logits(model_cls):
    probabilities = model_cls(**TOKEN)
    logits = model_cls(**TOKEN, logits=True)
    logits.set_weights(probabilities.get_weights())
    x, y = _ids()
    raw = logits(x)
    assert_close(keras.ops.softmax(raw, axis=-1), probabilities(x), atol=1e-6)
    assert np.abs(to_numpy(raw).sum(-1) - 1.0).max() > 1e-2  # not normalised
    logits.compile()
    assert logits.loss.get_config()["from_logits"]


@pytest.mark.usefixtures("op_by_op")
def test_real_input_token_output():
    model = Seq2Seq(output_vocab_size=7, output_length=OUT_LEN, input_dim=3, hidden_dim=HIDDEN)
    x = np.random.default_rng(0).random((2, IN_LEN, 3)).astype("float32")
    assert tuple(model(x).shape) == (2, OUT_LEN, 7)


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq])
def test_input_padding_changes_nothing(model_cls):
    model = model_cls(**TOKEN, depth=2)
    x, _ = _ids()
    padded = np.concatenate([x, np.zeros((BATCH, 3), x.dtype)], axis=1)
    assert_close(model(padded), model(x), atol=1e-5)
    assert_close(model.encode(padded)["context"], model.encode(x)["context"], atol=1e-5)


@pytest.mark.usefixtures("op_by_op")
@pytest.mark.parametrize("model_cls", [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq])
def test_inference_with_targets_runs_free_for_the_targets_steps(model_cls):
    # `evaluate` on batches whose targets are cut to their own length (a bucketed run's
    # validation): the free-running outputs of that many steps, not teacher forced.
    model = model_cls(**TOKEN, depth=2, logits=True)
    x, y = _ids()
    full = to_numpy(model(x))
    for steps in (1, 3, OUT_LEN):
        cut = to_numpy(model([x, y[:, :steps]], training=False))
        assert cut.shape == (BATCH, steps, len(TARGET))
        assert_close(cut, full[:, :steps], atol=1e-6)
    if model.uses_feedback:  # teacher forcing (training) feeds `y`, not the model's outputs
        teacher_forced = to_numpy(model([x, y], training=True))
        assert np.abs(teacher_forced - full)[:, 1:].max() > 1e-3


@pytest.mark.parametrize("model_cls", [SimpleSeq2Seq, AttentionSeq2Seq])
def test_evaluating_length_bucketed_batches_scores_as_whole_width_ones(model_cls):
    from seq2seq.training.length_buckets import LengthBuckets

    model = model_cls(**{**TOKEN, "output_length": 8}, input_length=None)
    model.compile(optimizer="adam")
    rng = np.random.default_rng(0)
    lengths = [1, 6, 2, 7, 1, 5]  # in batches of 2 by source length: targets of 2, 6, 8 ids
    x = SOURCE.encode(["".join(rng.choice(list("abcde"), n)) for n in lengths], max_length=8)
    y = TARGET.encode(["".join(rng.choice(list("xyz"), n)) for n in lengths], max_length=8)
    model.evaluate(x[:1], y[:1], verbose=0)  # builds the loss at full width
    batches = LengthBuckets(x, y, np.arange(len(x)), batch_size=2, seed=0,
                            trim_targets=model.uses_feedback, pool_batches=None)  # fmt: skip
    widths = sorted(batches[i][1].shape[1] for i in range(len(batches)))
    assert widths == ([4, 8, 8] if model.uses_feedback else [8, 8, 8])
    whole = [
        model.evaluate(x[rows], y[rows], batch_size=len(rows), verbose=0) * len(rows)
        for rows in batches.batches
    ]
    assert model.evaluate(batches, verbose=0) == pytest.approx(sum(whole) / len(x), rel=1e-5)
