"""Scores for predicted sequences: exact match, error rates, BLEU, chrF and regression errors.

Text references may be a string or a list of acceptable strings per example;
with several, an example counts as matched when it equals any of them, and error
rates use the closest one.

Example:

>>> from seq2seq.metrics import edit_distance, exact_match, token_error_rate
>>> edit_distance("kitten", "sitting")
3
>>> exact_match(["ab", "cd"], ["ab", ["xx", "cd"]])
1.0
>>> token_error_rate(["abc"], ["abd"], level="char")
0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sacrebleu

from seq2seq.conventions import SPLIT_LEVELS
from seq2seq.forecast_baselines import last_value

References = Sequence[str | Sequence[str]]


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions from `a` to `b`.

    Args:
        a: A string or a sequence of comparable items (tokens).
        b: Another one.

    Returns:
        The distance, an int between `abs(len(a) - len(b))` and `max(len(a), len(b))`.

    Example:

    >>> from seq2seq.metrics import edit_distance
    >>> edit_distance(["HH", "AH", "L", "OW"], ["HH", "EH", "L", "OW"])
    1
    """
    a, b = list(a), list(b)
    # A shared prefix or suffix never costs anything; dropping it shortens the table.
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, start=1):
        current = [i]
        for j, item_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b))
            )
        previous = current
    return previous[-1]


def _check_level(level: Any) -> str:
    if level not in SPLIT_LEVELS:
        raise ValueError(
            f"Invalid value for argument `level`. Expected one of {SPLIT_LEVELS}. Received: level={level!r}"
        )
    return level


def _tokens(text: str, level: str) -> list[str]:
    return list(text) if level == "char" else text.split()


def _options(reference: str | Sequence[str], index: int) -> list[str]:
    options = [reference] if isinstance(reference, str) else list(reference)
    if not options or not all(isinstance(option, str) for option in options):
        raise ValueError(
            "Invalid value for argument `references`. Expected a string or a non-empty list "
            f"of strings per example. Received: references[{index}]={reference!r}"
        )
    return options


def _check_pairs(predictions: Sequence[str], references: References) -> list[list[str]]:
    if isinstance(predictions, str) or isinstance(references, str):
        raise TypeError(
            "Invalid value for arguments `predictions` and `references`. Expected lists "
            f"(one item per example). Received: predictions={predictions!r}, "
            f"references={references!r}"
        )
    if len(predictions) != len(references):
        raise ValueError(
            "Invalid value for arguments `predictions` and `references`. Expected the same "
            f"length. Received: len(predictions)={len(predictions)}, "
            f"len(references)={len(references)}"
        )
    if not len(predictions):
        raise ValueError(
            "Invalid value for argument `predictions`. Expected at least one example. "
            "Received: an empty list"
        )
    for index, prediction in enumerate(predictions):
        if not isinstance(prediction, str):
            raise TypeError(
                "Invalid value for argument `predictions`. Expected strings. "
                f"Received: predictions[{index}]={prediction!r}"
            )
    return [_options(reference, index) for index, reference in enumerate(references)]


def exact_match(predictions: Sequence[str], references: References) -> float:
    """The fraction of predictions equal to (one of) their references.

    Args:
        predictions: One string per example.
        references: Per example, a string or a list of acceptable strings.

    Returns:
        A float in [0, 1].
    """
    options = _check_pairs(predictions, references)
    matches = sum(prediction in refs for prediction, refs in zip(predictions, options, strict=True))
    return matches / len(predictions)


def token_error_rate(
    predictions: Sequence[str], references: References, level: str = "char"
) -> float:
    """Total edit distance over the total number of reference tokens.

    With several references, each example uses the one closest to its
    prediction (the first among equally close ones). This is the character
    error rate at `level="char"` and the word (or phoneme) error rate at
    `level="word"`.

    Args:
        predictions: One string per example.
        references: Per example, a string or a list of acceptable strings.
        level: `"char"` compares characters, `"word"` whitespace-separated words.

    Returns:
        A non-negative float (it can exceed 1 when predictions are too long).
        When every chosen reference is empty, the number of edits itself.
    """
    _check_level(level)
    options = _check_pairs(predictions, references)
    edits = 0
    length = 0
    for prediction, refs in zip(predictions, options, strict=True):
        predicted = _tokens(prediction, level)
        best = None
        for ref in refs:
            expected = _tokens(ref, level)
            distance = edit_distance(predicted, expected)
            if best is None or distance < best[0]:
                best = (distance, len(expected))
        edits += best[0]
        length += best[1]
    return edits / max(length, 1)


def character_error_rate(predictions: Sequence[str], references: References) -> float:
    """`token_error_rate` at `level="char"`."""
    return token_error_rate(predictions, references, level="char")


def word_error_rate(predictions: Sequence[str], references: References) -> float:
    """`token_error_rate` at `level="word"`."""
    return token_error_rate(predictions, references, level="word")


def phoneme_error_rate(predictions: Sequence[str], references: References) -> float:
    """`token_error_rate` over space-separated phonemes (the same as `word_error_rate`)."""
    return token_error_rate(predictions, references, level="word")


def _reference_streams(options: list[list[str]]) -> list[list[str | None]]:
    # sacrebleu takes one stream per reference position; None marks a missing one.
    count = max(len(refs) for refs in options)
    return [[refs[k] if k < len(refs) else None for refs in options] for k in range(count)]


def bleu(predictions: Sequence[str], references: References, tokenize: str = "13a") -> float:
    """Corpus BLEU (0-100) computed by `sacrebleu.corpus_bleu`.

    Args:
        predictions: One string per example.
        references: Per example, a string or a list of acceptable strings.
        tokenize: sacrebleu's tokenizer, e.g. `"13a"` for text or `"char"`
            for character-level outputs.

    Returns:
        The BLEU score.
    """
    options = _check_pairs(predictions, references)
    return float(
        sacrebleu.corpus_bleu(
            list(predictions), _reference_streams(options), tokenize=tokenize
        ).score
    )


def chrf(predictions: Sequence[str], references: References, word_order: int = 0) -> float:
    """Corpus chrF (0-100) computed by `sacrebleu.corpus_chrf`; `word_order=2` gives chrF++."""
    options = _check_pairs(predictions, references)
    return float(
        sacrebleu.corpus_chrf(
            list(predictions), _reference_streams(options), word_order=word_order
        ).score
    )


def text_metrics(
    predictions: Sequence[str], references: References, level: str = "char"
) -> dict[str, float]:
    """Exact match, token error rate, BLEU and chrF in one dict.

    Args:
        predictions: One string per example.
        references: Per example, a string or a list of acceptable strings.
        level: The target level; at `"char"` BLEU uses sacrebleu's character
            tokenizer.

    Returns:
        `{"exact_match", "token_error_rate", "bleu", "chrf"}`.
    """
    _check_level(level)
    return {
        "exact_match": exact_match(predictions, references),
        "token_error_rate": token_error_rate(predictions, references, level=level),
        "bleu": bleu(predictions, references, tokenize="char" if level == "char" else "13a"),
        "chrf": chrf(predictions, references),
    }


def _as_float_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an array of shape (n, length) or "
            f"(n, length, features). Received: {name} with shape {array.shape}"
        )
    return array if array.ndim == 3 else array[..., None]


def regression_metrics(y_true: Any, y_pred: Any, x: Any = None) -> dict[str, float]:
    """Mean squared and absolute errors, and those of the naive last-value forecast.

    Args:
        y_true: Targets of shape `(n, out_len)` or `(n, out_len, features)`.
        y_pred: Predictions of the same shape.
        x: Optional inputs of shape `(n, in_len[, features])`; when given,
            the naive forecast repeats each input's last value.

    Returns:
        `{"mse", "mae"}`, plus `{"naive_mse", "naive_mae"}` when `x` is given.
        The seasonal baselines are in `seq2seq.forecast_baselines.score_baselines`.
    """
    y_true = _as_float_array(y_true, "y_true")
    y_pred = _as_float_array(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Invalid value for argument `y_pred`. Expected the shape of `y_true`, "
            f"{y_true.shape}. Received: y_pred with shape {y_pred.shape}"
        )
    result = {
        "mse": float(np.mean((y_pred - y_true) ** 2)),
        "mae": float(np.mean(np.abs(y_pred - y_true))),
    }
    if x is not None:
        x = _as_float_array(x, "x")
        if x.shape[0] != y_true.shape[0] or x.shape[2] != y_true.shape[2]:
            raise ValueError(
                "Invalid value for argument `x`. Expected shape (n, in_len, features) with "
                f"n={y_true.shape[0]} and features={y_true.shape[2]}. "
                f"Received: x with shape {x.shape}"
            )
        naive = last_value(x, y_true.shape[1])
        result["naive_mse"] = float(np.mean((naive - y_true) ** 2))
        result["naive_mae"] = float(np.mean(np.abs(naive - y_true)))
    return result
