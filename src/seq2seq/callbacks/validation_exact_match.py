"""The share of validation sequences that greedy decoding gets exactly right, after each epoch."""

from __future__ import annotations

import keras
import numpy as np

from seq2seq.config import PREDICT_BATCH_SIZE


def exact_match(ids: np.ndarray, targets: np.ndarray) -> float:
    """The fraction of rows of `ids` equal to `targets` (both padded with 0 after the end id)."""
    width = max(ids.shape[1], targets.shape[1])
    ids = np.pad(ids, ((0, 0), (0, width - ids.shape[1])))
    targets = np.pad(targets, ((0, 0), (0, width - targets.shape[1])))
    return float(np.mean(np.all(ids == targets, axis=1))) if len(ids) else 0.0


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

    Example:

    >>> from seq2seq.callbacks.validation_exact_match import ValidationExactMatch
    >>> callback = ValidationExactMatch(x_val, y_val)  # doctest: +SKIP
    >>> model.fit(x, y, validation_data=(x_val, y_val), callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(self, x, y, batch_size=PREDICT_BATCH_SIZE):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        ids = self.model.generate(self.x, strategy="greedy", batch_size=self.batch_size)["ids"]
        logs["val_exact_match"] = exact_match(np.asarray(ids), self.y)
