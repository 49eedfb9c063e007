"""Keras' progress lines for a run that trains one `fit` call per epoch."""

from __future__ import annotations

import keras


class RunProgress(keras.callbacks.ProgbarLogger):
    """`keras.callbacks.ProgbarLogger` that numbers epochs out of the whole run.

    A run trains each epoch with its own `fit(initial_epoch=e, epochs=e + 1)` call,
    so Keras' own logger would print "Epoch 3/3"; this one prints "Epoch 3/20".
    Pass it in `callbacks` with `verbose=0` in `fit`.

    Args:
        epochs: The run's number of epochs.
        verbose: 1 for a progress bar, 2 for one line per epoch.

    Example:

    >>> from seq2seq.callbacks.run_progress import RunProgress
    >>> progress = RunProgress(epochs=20, verbose=2)
    >>> progress.epochs
    20
    """

    def __init__(self, epochs: int, verbose: int = 1):
        super().__init__()
        self.run_epochs = epochs
        self.run_verbose = verbose
        self.epochs = epochs
        self.verbose = verbose

    def set_params(self, params):
        super().set_params(params)
        self.epochs = self.run_epochs
        self.verbose = self.run_verbose
