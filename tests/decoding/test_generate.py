"""`Seq2SeqModel.generate` on the three models: scoring, padding, save/load, errors."""

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.data import END_ID, Vocabulary
from seq2seq.models import AttentionSeq2Seq, Seq2Seq, SimpleSeq2Seq

VOCAB = Vocabulary(list("abcdef"))  # 10 ids
MODELS = [SimpleSeq2Seq, Seq2Seq, AttentionSeq2Seq]
# One setting per strategy, shared by the tests so that each model compiles each once.
BEAM = {"strategy": "beam", "beam_width": 3, "return_all_beams": True}
SETTINGS = [{"strategy": "greedy"}, BEAM, {"strategy": "random", "seed": 3}]


def token_model(cls, **kwargs):
    return cls(
        input_vocab_size=len(VOCAB),
        output_vocab_size=len(VOCAB),
        input_length=None,
        output_length=6,
        hidden_dim=8,
        embedding_dim=6,
        seed=1,
        **kwargs,
    )


@pytest.fixture(scope="module")
def models():
    """One token model per class, shared so that their compiled generation functions are reused."""
    return {cls: token_model(cls) for cls in MODELS}


def token_inputs(batch=6, length=5, seed=0):
    """Ids of real symbols followed by padding, rows of different lengths."""
    rng = np.random.default_rng(seed)
    x = rng.integers(4, len(VOCAB), size=(batch, length)).astype("int32")
    for row, size in enumerate(rng.integers(2, length + 1, size=batch)):
        x[row, size:] = 0
    return x


def teacher_forced_log_probs(model, x, ids):
    """Sum of the log-probabilities of `ids` (up to the end id) under teacher forcing."""
    if model.uses_feedback:
        probs = model([x, ids], training=True)  # dropout 0: only teacher forcing differs
    else:
        probs = model(x, training=False)
    log_probs = np.log(ops.convert_to_numpy(probs)[:, : ids.shape[1]])
    chosen = np.take_along_axis(log_probs, ids[..., None], axis=-1)[..., 0]
    return (chosen * (ids != 0)).sum(axis=1)


@pytest.mark.parametrize("cls", MODELS)
def test_generate_shapes_and_sequences(cls, models):
    model = models[cls]
    x = token_inputs()
    for settings in SETTINGS:
        out = model.generate(x, **settings)
        assert out["ids"].shape == (6, 6) and out["ids"].dtype == np.int32
        assert out["log_probs"].shape == (6,) and np.all(out["log_probs"] <= 0)
        if cls is AttentionSeq2Seq:
            assert out["attention"].shape == (6, 6, 5)
        else:
            assert "attention" not in out
        for row in out["ids"].tolist():
            if END_ID in row:
                assert set(row[row.index(END_ID) + 1 :]) <= {0}
            emitted = row[: row.index(END_ID)] if END_ID in row else row
            assert min(emitted, default=4) >= 3  # no padding or start before the end


@pytest.mark.parametrize("cls", MODELS)
def test_reported_log_prob_equals_teacher_forced_scoring(cls, models):
    model = models[cls]
    x = token_inputs()
    for settings in SETTINGS:
        out = model.generate(x, **settings)
        np.testing.assert_allclose(
            out["log_probs"], teacher_forced_log_probs(model, x, out["ids"]), atol=1e-4
        )


@pytest.mark.parametrize("cls", MODELS)
def test_beam_width_one_and_top_k_one_are_greedy(cls, models):
    model = models[cls]
    x = token_inputs()
    greedy = model.generate(x)
    beam = model.generate(x, strategy="beam", beam_width=1)
    sampled = model.generate(x, strategy="random", top_k=1, seed=7)
    np.testing.assert_array_equal(beam["ids"], greedy["ids"])
    np.testing.assert_array_equal(sampled["ids"], greedy["ids"])
    np.testing.assert_allclose(beam["log_probs"], greedy["log_probs"], atol=1e-5)
    wide = model.generate(x, **BEAM)
    assert wide["all_ids"].shape == (6, 3, 6)
    assert np.all(np.diff(wide["all_scores"], axis=1) <= 1e-6)  # best first
    np.testing.assert_array_equal(wide["all_ids"][:, 0], wide["ids"])


def test_random_sampling_is_reproducible(models):
    model = models[Seq2Seq]
    x = token_inputs()
    a = model.generate(x, strategy="random", seed=11)
    b = model.generate(x, strategy="random", seed=11)
    np.testing.assert_array_equal(a["ids"], b["ids"])
    others = [model.generate(x, strategy="random", seed=seed)["ids"] for seed in (12, 13)]
    assert any(not np.array_equal(a["ids"], other) for other in others)


@pytest.mark.parametrize("settings", SETTINGS[:2], ids=["greedy", "beam"])
def test_batches_give_the_same_result_as_one_batch(models, settings):
    model = models[AttentionSeq2Seq]
    x = token_inputs()
    # Decoded shortest first in batches of 4, the outputs put back in the inputs' order.
    assert list(np.argsort((x != 0).sum(axis=1), kind="stable")) != list(range(len(x)))
    whole = model.generate(x, **settings)
    split = model.generate(x, batch_size=4, **settings)  # 4, then 2 filled up to 4
    assert split.keys() == whole.keys()
    for name in whole:
        if np.issubdtype(whole[name].dtype, np.integer):
            np.testing.assert_array_equal(split[name], whole[name], err_msg=name)
        else:
            np.testing.assert_allclose(split[name], whole[name], atol=1e-5, err_msg=name)


@pytest.mark.parametrize("cls", MODELS)
def test_appending_padding_changes_nothing_in_generate(cls, models):
    model = models[cls]
    x = token_inputs()
    padded = np.pad(x, ((0, 0), (0, 3)))
    for kwargs in ({}, BEAM):
        before, after = model.generate(x, **kwargs), model.generate(padded, **kwargs)
        np.testing.assert_array_equal(after["ids"], before["ids"])
        np.testing.assert_allclose(after["log_probs"], before["log_probs"], atol=1e-5)
        if "attention" in before:
            np.testing.assert_allclose(after["attention"][..., :5], before["attention"], atol=1e-5)
            np.testing.assert_allclose(after["attention"][..., 5:], 0.0, atol=1e-6)


@pytest.mark.parametrize("cls", MODELS)
def test_appending_padding_changes_nothing_in_predict(cls, models):
    model = models[cls]
    x = token_inputs()
    reference = model.predict(x, verbose=0)
    padded = np.pad(x, ((0, 0), (0, 3)))
    np.testing.assert_allclose(model.predict(padded, verbose=0), reference, atol=1e-5)


def test_attention_rows_sum_to_one_until_the_end(models):
    model = models[AttentionSeq2Seq]
    x = token_inputs()
    out = model.generate(x)
    sums = out["attention"].sum(axis=-1)
    for row, total in zip(out["ids"].tolist(), sums):
        steps = row.index(END_ID) + 1 if END_ID in row else len(row)
        np.testing.assert_allclose(total[:steps], 1.0, atol=1e-5)
        np.testing.assert_allclose(total[steps:], 0.0)
    # Padded inputs get no attention.
    np.testing.assert_allclose(
        out["attention"][x[:, None, :].repeat(6, axis=1) == 0], 0.0, atol=1e-6
    )


def test_text_and_save_load_round_trip(keras_path):
    model = token_model(AttentionSeq2Seq, source_vocabulary=VOCAB, target_vocabulary=VOCAB)
    model.compile()
    x = token_inputs()
    before = model.generate(x, strategy="beam", beam_width=3, return_text=True)
    assert before["text"] == VOCAB.decode(before["ids"])
    model.save(keras_path)
    loaded = keras.saving.load_model(keras_path)
    assert loaded.target_vocabulary == VOCAB and loaded.source_vocabulary == VOCAB
    after = loaded.generate(x, strategy="beam", beam_width=3, return_text=True)
    np.testing.assert_array_equal(after["ids"], before["ids"])
    np.testing.assert_allclose(after["log_probs"], before["log_probs"], atol=1e-6)
    assert after["text"] == before["text"]
    np.testing.assert_array_equal(loaded.generate(x)["ids"], model.generate(x)["ids"])


def test_longer_generation_for_feedback_models_only(models):
    x = token_inputs()
    assert models[Seq2Seq].generate(x, max_length=9)["ids"].shape == (6, 9)
    with pytest.raises(ValueError, match="max_length=9"):
        models[SimpleSeq2Seq].generate(x, max_length=9)


@pytest.mark.parametrize("cls", MODELS)
def test_real_valued_generation_is_the_free_running_prediction(cls):
    model = cls(input_dim=3, input_length=4, hidden_dim=6, output_length=5, output_dim=2, seed=2)
    x = np.random.default_rng(0).random((4, 4, 3)).astype("float32")
    out = model.generate(x, batch_size=3)
    np.testing.assert_allclose(out["outputs"], model.predict(x, verbose=0), atol=1e-5)
    assert ("attention" in out) == (cls is AttentionSeq2Seq)
    if cls is not SimpleSeq2Seq:
        longer = model.generate(x, max_length=8)["outputs"]
        assert longer.shape == (4, 8, 2)
        np.testing.assert_allclose(longer[:, :5], out["outputs"], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "nucleus"}, r"\('greedy', 'beam', 'random'\). Received: strategy='nucleus'"),
        ({"strategy": "beam", "beam_width": 0}, "beam_width=0"),
        ({"strategy": "random", "top_p": 1.01}, "top_p=1.01"),
        ({"strategy": "random", "top_p": 0}, "top_p=0"),
        ({"strategy": "random", "top_k": 0}, "top_k=0"),
        ({"strategy": "random", "temperature": 0.0}, "temperature=0.0"),
        ({"max_length": 0}, "max_length=0"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"return_text": True}, "return_text=True"),
    ],
)
def test_invalid_arguments(kwargs, message, models):
    model = models[Seq2Seq]
    with pytest.raises(ValueError, match=message):
        model.generate(token_inputs(), **kwargs)


def test_invalid_ids_and_vocabularies(models):
    model = models[Seq2Seq]
    with pytest.raises(ValueError, match=r"input_vocab_size=10\). Received id 10"):
        model.generate(np.array([[4, 10, 0]]))
    with pytest.raises(ValueError, match="Received id -1"):
        model.generate(np.array([[4, -1, 0]]))
    small = Vocabulary(list("abc"))  # 7 ids for a model of 10
    mismatched = token_model(Seq2Seq, target_vocabulary=small)
    with pytest.raises(ValueError, match=r"target_vocabulary.*output_vocab_size=10.*7 symbols"):
        mismatched.generate(token_inputs(), return_text=True)
    mismatched = token_model(Seq2Seq, source_vocabulary=small)
    with pytest.raises(ValueError, match=r"source_vocabulary.*input_vocab_size=10.*7 symbols"):
        mismatched.generate(token_inputs())


def test_stateful_model_generates_any_batch_and_keeps_its_states():
    model = token_model(Seq2Seq, batch_size=4, stateful=True)
    states = [
        v
        for v in model.non_trainable_variables
        if "sampling" not in v.path and "seed" not in v.path
    ]
    for v in states:
        v.assign(np.full(v.shape, 0.5, "float32"))
    x = token_inputs()  # 6 rows: a batch of 4, then 2 filled up to 4
    first = model.generate(x, **BEAM)
    assert first["ids"].shape == (6, 6)
    np.testing.assert_array_equal(model.generate(x, **BEAM)["ids"], first["ids"])
    for v in states:
        np.testing.assert_allclose(ops.convert_to_numpy(v), 0.5)
