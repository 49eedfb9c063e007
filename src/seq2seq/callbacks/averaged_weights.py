"""Validates, selects and keeps the optimizer's moving average of the weights."""

from __future__ import annotations

import keras
import numpy as np


class AveragedWeights(keras.callbacks.Callback):
    """Puts the optimizer's moving average of the weights in the model to be judged.

    With `use_ema=True`, a Keras optimizer keeps an exponential moving average
    of the weights after each step (Polyak averaging); the average often
    decodes better than the last step's weights. This callback lets the
    average be validated and kept while the training continues from the
    trained weights:

    - the validation loss is computed with the average;
    - at the end of each epoch the average goes into the model, so the
      callbacks after this one (`ValidationExactMatch`, early stopping and its
      best weights, the progress line) see it;
    - when `fit` returns, the model holds the trained weights again and the
      optimizer the average, so the next epoch and a checkpoint written then
      carry on as without it.

    Keras' own `SwapEMAWeights` does the first two, but with `fit` called once
    per epoch its last-epoch step writes the average over the trained weights,
    and Keras' `fit` ends by writing the average into the model; this callback
    keeps a copy of the trained weights instead, so both leave them intact.

    Example:

    >>> from seq2seq.callbacks.averaged_weights import AveragedWeights
    >>> model.compile(optimizer=keras.optimizers.Adam(use_ema=True, ema_momentum=0.999))  # doctest: +SKIP
    >>> model.fit(x, y, validation_data=(x_val, y_val), callbacks=[AveragedWeights()])  # doctest: +SKIP
    """

    def __init__(self):
        super().__init__()
        self._trained: list[np.ndarray] | None = None

    def _pairs(self):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            raise ValueError(
                "AveragedWeights needs an optimizer with an average of the weights. Expected "
                f"use_ema=True. Received: use_ema={getattr(optimizer, 'use_ema', None)!r}"
            )
        return zip(optimizer._trainable_variables, optimizer._model_variables_moving_average)

    def _use_average(self) -> None:
        if self._trained is not None:
            return
        pairs = list(self._pairs())
        self._trained = [keras.ops.convert_to_numpy(variable) for variable, _ in pairs]
        for variable, average in pairs:
            # A copy: on JAX two variables must not share a buffer a step may donate.
            variable.assign(keras.ops.convert_to_numpy(average))

    def _use_trained(self) -> None:
        if self._trained is None:
            return
        for (variable, _), trained in zip(self._pairs(), self._trained):
            variable.assign(trained)
        self._trained = None

    def on_test_begin(self, logs=None):
        self._use_average()

    def on_test_end(self, logs=None):
        self._use_trained()

    def on_epoch_end(self, epoch, logs=None):
        self._use_average()

    def on_train_end(self, logs=None):
        self._use_trained()
