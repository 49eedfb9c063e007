import numpy as np
import pytest
import sacrebleu

from seq2seq.metrics import (
    bleu,
    character_error_rate,
    chrf,
    edit_distance,
    exact_match,
    phoneme_error_rate,
    regression_metrics,
    text_metrics,
    token_error_rate,
    word_error_rate,
)


@pytest.mark.parametrize(
    "a, b, distance",
    [
        ("kitten", "sitting", 3),
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("flaw", "lawn", 2),
        ("intention", "execution", 5),
        ("abc", "abc", 0),
        ("ab", "ba", 2),
        (["HH", "AH", "L", "OW"], ["HH", "EH", "L", "OW"], 1),
        (("a", "b"), ["a", "b", "c"], 1),
    ],
)
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_edit_distance_matches_full_table_on_random_strings():
    rng = np.random.default_rng(0)

    def reference(a, b):
        table = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
        table[:, 0] = np.arange(len(a) + 1)
        table[0, :] = np.arange(len(b) + 1)
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i, j] = min(
                    table[i - 1, j] + 1,
                    table[i, j - 1] + 1,
                    table[i - 1, j - 1] + (a[i - 1] != b[j - 1]),
                )
        return table[-1, -1]

    for _ in range(200):
        a = "".join(rng.choice(list("abc"), size=rng.integers(0, 8)))
        b = "".join(rng.choice(list("abc"), size=rng.integers(0, 8)))
        assert edit_distance(a, b) == reference(a, b), (a, b)


def test_exact_match_with_several_references():
    predictions = ["a", "b", "c", "d"]
    references = ["a", ["x", "b"], "z", ["d"]]
    assert exact_match(predictions, references) == 0.75


def test_token_error_rate_hand_case():
    predictions = ["abc", "hello"]
    references = ["abd", ["help", "hallo"]]
    # 1 edit over 3 chars, then "hallo" (1 edit, 5 chars) beats "help" (2 edits).
    assert token_error_rate(predictions, references, level="char") == pytest.approx(2 / 8)
    assert character_error_rate(predictions, references) == pytest.approx(2 / 8)


def test_word_and_phoneme_error_rates():
    assert word_error_rate(["the cat sat"], ["the cat sat down"]) == pytest.approx(1 / 4)
    predictions = ["HH AH L OW", "W ER L D"]
    references = [["HH EH L OW", "HH AH L OW"], "W ER L"]
    assert phoneme_error_rate(predictions, references) == pytest.approx(1 / 7)
    assert token_error_rate(predictions, references, level="word") == pytest.approx(1 / 7)


def test_bleu_and_chrf_equal_sacrebleu():
    predictions = ["the cat sat on the mat", "a dog barked loudly today"]
    references = ["the cat sat on a mat", "the dog barked loudly"]
    expected = sacrebleu.corpus_bleu(predictions, [references]).score
    assert bleu(predictions, references) == pytest.approx(expected)
    assert 0 < bleu(predictions, references) < 100
    assert chrf(predictions, references) == pytest.approx(
        sacrebleu.corpus_chrf(predictions, [references]).score
    )
    several = [["the cat sat on a mat", "the cat sat on the mat"], "the dog barked loudly"]
    streams = [
        ["the cat sat on a mat", "the dog barked loudly"],
        ["the cat sat on the mat", None],
    ]
    assert bleu(predictions, several) == pytest.approx(
        sacrebleu.corpus_bleu(predictions, streams).score
    )


def test_text_metrics():
    result = text_metrics(["2026-11-25", "2026-11-24"], ["2026-11-25", "2026-11-25"], level="char")
    assert set(result) == {"exact_match", "token_error_rate", "bleu", "chrf"}
    assert result["exact_match"] == 0.5
    assert result["token_error_rate"] == pytest.approx(1 / 20)
    assert result["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(
            ["2026-11-25", "2026-11-24"], [["2026-11-25", "2026-11-25"]], tokenize="char"
        ).score
    )


def test_text_metric_errors():
    with pytest.raises(ValueError, match=r"len\(predictions\)=1, len\(references\)=2"):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"Received: references\[0\]=\[\]"):
        exact_match(["a"], [[]])
    with pytest.raises(ValueError, match="Received: level='byte'"):
        token_error_rate(["a"], ["a"], level="byte")
    with pytest.raises(ValueError, match="at least one example"):
        bleu([], [])


def test_regression_metrics():
    y_true = np.array([[1.0, 2.0], [3.0, 4.0]])
    y_pred = np.array([[1.0, 3.0], [3.0, 2.0]])
    x = np.array([[0.0, 2.0], [5.0, 3.0]])
    result = regression_metrics(y_true, y_pred, x=x)
    assert result["mse"] == pytest.approx((0 + 1 + 0 + 4) / 4)
    assert result["mae"] == pytest.approx((0 + 1 + 0 + 2) / 4)
    # The naive forecast repeats 2.0 then 3.0: errors 1, 0, 0, 1.
    assert result["naive_mse"] == pytest.approx(0.5)
    assert result["naive_mae"] == pytest.approx(0.5)
    three_d = regression_metrics(y_true[..., None], y_pred[..., None])
    assert three_d == {"mse": result["mse"], "mae": result["mae"]}
    with pytest.raises(ValueError, match=r"Received: y_pred with shape \(2, 3, 1\)"):
        regression_metrics(y_true, np.zeros((2, 3)))
