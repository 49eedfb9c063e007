import random
import time
import warnings

import numpy as np
import pytest

from seq2seq.data.vocabulary import END_ID, PAD_ID, START_ID, UNK_ID, Vocabulary


def test_reserved_ids_and_symbols():
    vocab = Vocabulary(["x", "y"], level="char")
    assert (PAD_ID, START_ID, END_ID, UNK_ID) == (0, 1, 2, 3)
    assert vocab.symbols == ["<pad>", "<s>", "</s>", "<unk>", "x", "y"]
    assert len(vocab) == 6
    assert vocab.token_to_id("y") == 5
    assert vocab.token_to_id("z") == UNK_ID
    assert vocab.id_to_token(2) == "</s>"


def test_build_orders_by_count_then_symbol():
    vocab = Vocabulary.build(["banana", "cab"])
    # a: 4, b: 2, n: 2, c: 1
    assert vocab.tokens == ["a", "b", "n", "c"]
    assert Vocabulary.build(["banana", "cab"], min_count=2).tokens == ["a", "b", "n"]
    assert Vocabulary.build(["banana", "cab"], max_size=2).tokens == ["a", "b"]
    words = Vocabulary.build(["the cat", "the dog", "a cat"], level="word")
    assert words.tokens == ["cat", "the", "a", "dog"]


def test_encode_exact_arrays():
    vocab = Vocabulary(["a", "b", "c"], level="char")
    ids = vocab.encode(["cab", "b", ""])
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, [[6, 4, 5, 2], [5, 2, 0, 0], [2, 0, 0, 0]])
    np.testing.assert_array_equal(vocab.encode(["cab", "b"], add_end=False), [[6, 4, 5], [5, 0, 0]])
    np.testing.assert_array_equal(
        vocab.encode(["cab", "b"], max_length=6), [[6, 4, 5, 2, 0, 0], [5, 2, 0, 0, 0, 0]]
    )
    # Cut to max_length: the end id is cut with the rest.
    np.testing.assert_array_equal(vocab.encode(["cab", "b"], max_length=2), [[6, 4], [5, 2]])
    np.testing.assert_array_equal(vocab.encode("ab"), [[4, 5, 2]])
    assert vocab.encode([]).shape == (0, 1)


def test_word_level_round_trip():
    vocab = Vocabulary.build(["HH AH L OW", "W ER L D"], level="word")
    texts = ["HH AH L OW", "L OW", "W ER L D"]
    ids = vocab.encode(texts)
    assert ids.shape == (3, 5)
    assert vocab.decode(ids) == texts
    assert vocab.tokenize("  a  b ") == ["a", "b"]


def test_decode_strips_special_ids():
    vocab = Vocabulary(["a", "b"], level="char")
    ids = [[START_ID, 4, PAD_ID, 5, END_ID, 4, 4], [4, 4, 4, 4, 4, 4, 4]]
    assert vocab.decode(ids) == ["ab", "aaaaaaa"]
    assert vocab.decode(np.array([4, 5, END_ID, 5])) == ["ab"]
    assert vocab.decode([[4, UNK_ID, END_ID]]) == ["a<unk>"]
    assert vocab.decode([[START_ID, 4, END_ID, PAD_ID]], strip=False) == ["<s>a</s><pad>"]


def test_round_trip_random_texts():
    rng = random.Random(0)
    texts = ["".join(rng.choice("xyz ") for _ in range(rng.randint(0, 12))) for _ in range(200)]
    vocab = Vocabulary.build(texts)
    assert vocab.decode(vocab.encode(texts)) == texts


def test_unknown_symbols_warn_once_sorted():
    vocab = Vocabulary(["a", "b"], level="char")
    with pytest.warns(UserWarning) as record:
        ids = vocab.encode(["azb", "yaz", "x"])
    assert len(record) == 1
    assert str(record[0].message) == (
        "Vocabulary.encode: 3 unknown symbol(s) mapped to <unk> (id 3): ['x', 'y', 'z']"
    )
    np.testing.assert_array_equal(ids, [[4, 3, 5, 2], [3, 4, 3, 2], [3, 2, 0, 0]])


def test_unknown_symbols_listing_is_capped():
    vocab = Vocabulary(["a"], level="word")
    unknown = [f"w{i:02d}" for i in range(25)]
    with pytest.warns(UserWarning) as record:
        vocab.encode([" ".join(unknown)])
    expected = str(unknown[:20])
    assert str(record[0].message).endswith(f"{expected} and 5 more")


def test_known_texts_do_not_warn():
    vocab = Vocabulary(["a"], level="word")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vocab.encode(["a a", "<unk> a"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"tokens": ["a"], "level": "byte"},
            "argument `level`. Expected one of ('char', 'word'). Received: level='byte'",
        ),
        ({"tokens": ["a", "a"]}, "Received: tokens[1]='a'"),
        ({"tokens": ["<s>"]}, "Received: tokens[0]='<s>'"),
        ({"tokens": ["ab"], "level": "char"}, 'a single character at level="char"'),
        ({"tokens": ["a b"], "level": "word"}, "without whitespace"),
    ],
)
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError) as info:
        Vocabulary(**kwargs)
    assert message in str(info.value)


def test_argument_errors():
    vocab = Vocabulary(["a"])
    with pytest.raises(ValueError, match=r"`max_length`.*Received: max_length=0"):
        vocab.encode(["a"], max_length=0)
    with pytest.raises(ValueError, match=r"`min_count`.*Received: min_count=0"):
        Vocabulary.build(["a"], min_count=0)
    with pytest.raises(ValueError, match=r"Expected ids in \[0, 5\). Received: id 9"):
        vocab.decode([[9]])
    with pytest.raises(TypeError, match=r"Received: texts\[1\]=3"):
        vocab.encode(["a", 3])


def test_config_round_trip_and_equality():
    vocab = Vocabulary.build(["hello world"], level="word")
    config = vocab.get_config()
    assert config == {"tokens": ["hello", "world"], "level": "word"}
    restored = Vocabulary.from_config(config)
    assert restored == vocab
    assert Vocabulary(["a"], level="char") != Vocabulary(["a"], level="word")
    assert Vocabulary(["a"]) != Vocabulary(["b"])


def test_keras_serialization_round_trip():
    import keras

    vocab = Vocabulary.build(["abc"])
    serialized = keras.saving.serialize_keras_object(vocab)
    assert serialized["registered_name"] == "seq2seq>Vocabulary"
    assert keras.saving.deserialize_keras_object(serialized) == vocab


def test_encode_is_fast_on_many_short_texts():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    texts = ["".join(letters[rng.integers(0, 26, size=n)]) for n in rng.integers(5, 20, 100_000)]
    vocab = Vocabulary.build(texts)
    start = time.perf_counter()
    ids = vocab.encode(texts)
    elapsed = time.perf_counter() - start
    assert ids.shape == (100_000, 20)
    assert elapsed < 3.0


def test_vocabulary_survives_keras_model_save_and_load(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="seq2seq_test")
    class Holder(keras.layers.Layer):
        def __init__(self, vocabulary, **kwargs):
            super().__init__(**kwargs)
            if isinstance(vocabulary, dict):
                vocabulary = keras.saving.deserialize_keras_object(vocabulary)
            self.vocabulary = vocabulary

        def call(self, inputs):
            return inputs

        def get_config(self):
            vocabulary = keras.saving.serialize_keras_object(self.vocabulary)
            return {**super().get_config(), "vocabulary": vocabulary}

    vocab = Vocabulary.build(["HH AH L OW"], level="word")
    inputs = keras.Input((3,))
    model = keras.Model(inputs, Holder(vocab)(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.layers[-1].vocabulary == vocab
