"""SubwordVocabulary: SentencePiece pieces with the package's reserved ids, saved in model.keras."""

import warnings

import keras
import numpy as np
import pytest

from seq2seq.data.subword_vocabulary import SubwordVocabulary
from seq2seq.data.vocabularies import build_vocabulary
from seq2seq.data.vocabulary import (
    END_ID,
    END_TOKEN,
    PAD_ID,
    PAD_TOKEN,
    START_ID,
    START_TOKEN,
    UNK_ID,
    UNK_TOKEN,
    Vocabulary,
)
from seq2seq.models import Seq2Seq

WORDS = ("lower", "lowest", "newer", "newest", "wider", "widest", "low", "new", "wide")


def _texts(count=400, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 5))) for _ in range(count)]


@pytest.fixture(scope="module")
def vocab():
    return SubwordVocabulary.build(_texts(), vocab_size=30)


def test_reserved_ids_match_the_char_and_word_vocabularies(vocab):
    assert vocab.symbols[:4] == [PAD_TOKEN, START_TOKEN, END_TOKEN, UNK_TOKEN]
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)
    assert vocab.symbols[:4] == Vocabulary(["a"]).symbols[:4]
    assert [vocab.token_to_id(t) for t in (PAD_TOKEN, START_TOKEN, END_TOKEN)] == [0, 1, 2]
    assert 4 < len(vocab) <= 30


def test_encode_decode_round_trip(vocab):
    texts = _texts(50, seed=1)
    ids = vocab.encode(texts)
    assert ids.dtype == np.int32 and ids.shape[0] == 50
    lengths = [len(vocab.tokenize(text)) for text in texts]
    assert ids.shape[1] == max(lengths) + 1
    for row, length in zip(ids, lengths, strict=True):
        assert row[length] == END_ID and not row[length + 1 :].any()
        assert START_ID not in row and (row[:length] >= 4).all()
    assert vocab.decode(ids) == texts
    # Subwords: a frequent word may be one piece, a rarer one several.
    assert "".join(vocab.tokenize("newest wide")).replace("▁", " ").strip() == "newest wide"


def test_decode_stops_at_the_end_id_and_drops_reserved_ids(vocab):
    ids = vocab.encode(["low new"])[0].tolist()
    assert vocab.decode([[START_ID, *ids, *vocab.encode(["wide"])[0].tolist(), PAD_ID]]) == [
        "low new"
    ]
    assert vocab.decode(np.zeros((0, 3), int)) == []
    assert vocab.decode(ids, strip=False)[0].endswith(END_TOKEN)


def test_max_length_cuts_and_unknown_characters_warn(vocab):
    assert vocab.encode(["lowest newest widest"], max_length=3).shape == (1, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = vocab.encode(["low Zed"])
    assert UNK_ID in ids[0] and "'Z'" in str(caught[0].message)


def test_training_is_deterministic():
    texts = _texts(seed=3)
    first = SubwordVocabulary.build(texts, vocab_size=25)
    second = SubwordVocabulary.build(iter(texts), vocab_size=25)  # a stream, read once
    assert first == second and first.symbols == second.symbols


def test_config_round_trip_holds_data_only(vocab):
    config = vocab.get_config()
    assert set(config) == {"model_proto"} and isinstance(config["model_proto"], str)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(vocab))
    assert isinstance(restored, SubwordVocabulary) and restored == vocab
    np.testing.assert_array_equal(restored.encode(_texts(20)), vocab.encode(_texts(20)))


def test_model_keras_round_trip_gives_identical_ids(vocab, tmp_path):
    target = build_vocabulary(_texts(seed=5), "char")
    model = Seq2Seq(
        input_vocab_size=len(vocab), output_vocab_size=len(target), output_length=12,
        hidden_dim=8, embedding_dim=4, source_vocabulary=vocab, target_vocabulary=target,
    )  # fmt: skip
    x = vocab.encode(_texts(8))
    model.predict(x, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # safe mode
    assert loaded.source_vocabulary == vocab and loaded.target_vocabulary == target
    np.testing.assert_array_equal(loaded.source_vocabulary.encode(_texts(8)), x)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"vocab_size": 4}, "vocab_size"),
        ({"vocab_size": True}, "vocab_size"),
        ({"model_type": "word"}, "model_type"),
    ],
)
def test_bad_build_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        SubwordVocabulary.build(_texts(20), **arguments)


def test_bad_model_proto():
    with pytest.raises(ValueError, match="base64"):
        SubwordVocabulary("not base64!")
    with pytest.raises(ValueError, match="do not load"):
        SubwordVocabulary(b"not a model")
    with pytest.raises(TypeError, match="model_proto"):
        SubwordVocabulary(12)
