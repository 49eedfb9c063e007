"""The share of validation sequences that greedy decoding gets exactly right, after each epoch."""

from __future__ import annotations

import keras
import numpy as np

from seq2seq.config import PREDICT_BATCH_SIZE


def exact_match(
    ids: np.ndarray, targets: np.ndarray, alternatives: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """The fraction of rows of `ids` equal to their row of `targets` (all padded with 0
    after the end id) or, with `alternatives = (rows, more_targets)`, to any
    `more_targets[k]` whose `rows[k]` is that row: the other acceptable outputs of a
    source that has several (the other pronunciations of a word)."""
    if not len(ids):
        return 0.0
    extra = [] if alternatives is None else [alternatives[1]]
    width = max(array.shape[1] for array in (ids, targets, *extra))

    def padded(array):
        return np.pad(array, ((0, 0), (0, width - array.shape[1])))

    ids = padded(ids)
    right = np.all(ids == padded(targets), axis=1)
    if alternatives is not None and len(alternatives[0]):
        rows = np.asarray(alternatives[0])
        right[rows[np.all(ids[rows] == padded(alternatives[1]), axis=1)]] = True
    return float(np.mean(right))


class ValidationExactMatch(keras.callbacks.Callback):
    """Adds `val_exact_match` to each epoch's logs: greedy decoding of the validation inputs.

    The free-running validation loss of a token model rises and falls while the
    decoded outputs improve (it punishes confident mistakes, not wrong
    sequences), so a run that keeps the epoch with the lowest loss can keep the
    wrong one. This callback scores what the model is for: the whole output
    sequence right, decoded as `generate` does. Callbacks after it in the list
    (early stopping with `monitor="val_exact_match", mode="max"`, the progress
    line, the history) see the value.

    Args:
        x: Validation inputs (token ids).
        y: Validation targets (token ids, end id then padding).
        batch_size: Inputs decoded together.
        alternatives: Optional `(rows, targets)`: more acceptable targets, `targets[k]`
            for input `rows[k]` (see `exact_match`), so that a source with several
            references is scored as the test split scores it.

    Example:

    >>> from seq2seq.callbacks.validation_exact_match import ValidationExactMatch
    >>> callback = ValidationExactMatch(x_val, y_val)  # doctest: +SKIP
    >>> model.fit(x, y, validation_data=(x_val, y_val), callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(self, x, y, batch_size=PREDICT_BATCH_SIZE, alternatives=None):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.alternatives = alternatives

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        ids = np.asarray(
            self.model.generate(self.x, strategy="greedy", batch_size=self.batch_size)["ids"]
        )
        logs["val_exact_match"] = exact_match(ids, self.y, self.alternatives)
