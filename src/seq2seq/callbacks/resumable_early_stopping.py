"""Early stopping whose state survives a restart of the process."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`keras.callbacks.EarlyStopping` that a run can save and restore, and that spans `fit` calls.

    Keras' callback starts afresh at each `fit` and restores the best weights at
    its end. A run that trains one `fit` call per epoch, and may continue in a
    new process from a checkpoint, needs the count of epochs without
    improvement, the best value and the best weights to carry on instead:
    `get_state`/`set_state` hand them to the checkpoint, and `restore_best`
    sets the best weights once the whole run is over.

    Args:
        **kwargs: As for `keras.callbacks.EarlyStopping`.

    Example:

    >>> from seq2seq.callbacks.resumable_early_stopping import ResumableEarlyStopping
    >>> stopping = ResumableEarlyStopping(monitor="val_loss", patience=3,
    ...                                   restore_best_weights=True)
    >>> stopping.get_state()["wait"]
    0
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        super().on_train_begin()

    def on_train_begin(self, logs=None):
        pass  # The state spans the run's `fit` calls.

    def on_train_end(self, logs=None):
        pass  # The run calls `restore_best` when it is over.

    @property
    def stopped(self) -> bool:
        """Whether the monitored value stopped improving for `patience` epochs."""
        return self.stopped_epoch > 0

    def get_state(self) -> dict[str, Any]:
        """The JSON-serialisable state (the best weights are `best_weights`)."""
        best = None if self.best is None else float(self.best)
        return {"wait": int(self.wait), "stopped_epoch": int(self.stopped_epoch),
                "best": best, "best_epoch": int(self.best_epoch)}  # fmt: skip

    def set_state(self, state: dict[str, Any], best_weights: list[np.ndarray] | None) -> None:
        """Restores what `get_state` returned and the best weights saved with it."""
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = state["best"]
        self.best_epoch = int(state["best_epoch"])
        self.best_weights = list(best_weights) if best_weights else None

    def restore_best(self) -> None:
        """Sets the model's weights to the best epoch's and says so (when `verbose`)."""
        if self.stopped and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.",
                    flush=True,
                )
            self.model.set_weights(self.best_weights)
