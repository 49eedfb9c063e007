"""`TextPredictor` without a server: word-level models, fixed input lengths, padding."""

import numpy as np
import pytest
from serving_helpers import tiny_model

from seq2seq.data import SubwordVocabulary, Vocabulary
from seq2seq.models import Seq2Seq
from seq2seq.serving.errors import RequestError
from seq2seq.serving.limits import ServingLimits
from seq2seq.serving.predictor import TextPredictor, bucket

WORDS = Vocabulary(["the", "cat", "sat", "on", "mat", "a"], level="word")


def test_buckets_are_powers_of_two_within_bounds():
    assert [bucket(n, 8, 201) for n in (1, 8, 9, 100, 200, 201)] == [8, 8, 16, 128, 201, 201]
    assert [bucket(n, 1, 64) for n in (1, 3, 64)] == [1, 4, 64]


def test_word_level_inputs_are_checked_and_decoded_in_words():
    model = tiny_model(Seq2Seq, vocabulary=WORDS)
    predictor = TextPredictor(model, ServingLimits(max_batch=4, max_input_length=3))
    with pytest.raises(RequestError, match="inputs.1. is too long. Expected at most 3 words"):
        predictor.check(["the cat", "the cat sat on"], beam=1, attention=False)
    with pytest.raises(RequestError, match='words the model does not know: "<unk>", "dog"'):
        predictor.check(["the dog <unk>"], beam=1, attention=False)
    with pytest.raises(RequestError, match="inputs.0. is empty. Expected at least one word"):
        predictor.check(["   "], beam=1, attention=False)
    texts = ["the cat sat", "a mat", "on"]
    predictor.check(texts, beam=2, attention=False)
    expected = [
        model.generate(WORDS.encode([t]), strategy="beam", beam_width=2, return_text=True)["text"][
            0
        ]
        for t in texts
    ]
    assert [answer["output"] for answer in predictor.predict(texts, beam=2)] == expected


@pytest.mark.parametrize("pad_rows", [True, False])
def test_padding_rows_and_width_changes_no_output(model, pad_rows):
    predictor = TextPredictor(model, ServingLimits(max_batch=8), pad_rows=pad_rows)
    texts = ["abc", "fedcbaab", "e"]
    x = predictor.encode(texts)
    assert x.shape == ((8 if pad_rows else 4), 16)
    np.testing.assert_array_equal(x[3:], np.repeat(x[:1], len(x) - 3, axis=0))
    alone = [model.generate(model.source_vocabulary.encode([t]), return_text=True) for t in texts]
    answers = predictor.predict(texts, beam=1, attention=True)
    assert [a["output"] for a in answers] == [r["text"][0] for r in alone]


def test_a_fixed_input_length_sets_the_width_and_the_limit():
    model = tiny_model(input_length=6)
    predictor = TextPredictor(model, ServingLimits(max_input_length=100))
    assert predictor.max_input_length == 5
    assert predictor.encode(["ab"]).shape[1] == 6
    with pytest.raises(RequestError, match="Expected at most 5 characters. Received: 6"):
        predictor.check(["abcdef"], beam=1, attention=False)
    assert predictor.describe()["max_input_length"] == 5


def test_the_model_and_the_default_beam_are_checked(model):
    with pytest.raises(ValueError, match="Expected 1 to 16. Received: default_beam=17"):
        TextPredictor(model, default_beam=17)
    with pytest.raises(ValueError, match="max_inputs"):
        ServingLimits(max_batch=4, max_inputs=5)


def test_subword_inputs_are_counted_and_named_in_pieces():
    texts = ["the cat sat on the mat", "a cat on a mat", "the mat sat"] * 20
    pieces = SubwordVocabulary.build(texts, vocab_size=30)
    model = tiny_model(Seq2Seq, vocabulary=pieces)
    predictor = TextPredictor(model, ServingLimits(max_batch=4, max_input_length=3))
    long_text = "the cat sat on the mat"
    count = len(pieces.tokenize(long_text))
    assert count > 3
    with pytest.raises(
        RequestError, match=f"Expected at most 3 subword pieces. Received: {count} subword pieces"
    ):
        predictor.check(["cat", long_text], beam=1, attention=False)
    with pytest.raises(RequestError, match="Expected at least one subword piece"):
        predictor.check([""], beam=1, attention=False)
