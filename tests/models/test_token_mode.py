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
