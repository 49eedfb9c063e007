"""A callback that watches every training step: a finite loss, an interrupt, a checkpoint due."""

from __future__ import annotations

import math
from collections.abc import Callable

import keras

from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.interrupts import InterruptWatch


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite; training stopped at once.

    Args:
        epoch: The epoch (0-based).
        step: The step within the epoch (1-based), or `None` for the validation loss.
        value: The loss.
    """

    def __init__(self, epoch: int, step: int | None, value: float):
        self.epoch, self.step, self.value = epoch, step, value
        where = "validation loss" if step is None else f"loss at step {step}"
        super().__init__(f"the {where} of epoch {epoch + 1} is {value}")


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; a checkpoint was written at `epoch`, `position`."""

    def __init__(self, signal: int, epoch: int, position: int):
        self.signal, self.epoch, self.position = signal, epoch, position
        super().__init__(f"interrupted at epoch {epoch + 1}, step {position}")


class StepWatch(keras.callbacks.Callback):
    """Checks each training step's loss and the interrupt flag, and checkpoints every N steps.

    The loss Keras reports after a step is the mean of the epoch so far, so it
    turns non-finite at the first step whose loss is. A checkpoint is written
    every `every` optimizer steps and when an interrupt arrives, never after an
    epoch's last batch (the run writes that one once validation is done).

    Args:
        save: Called as `save(epoch, position)` to write a checkpoint after
            `position` batches of `epoch`.
        every: Steps between checkpoints (0: only at the end of epochs).
        watch: The run's `InterruptWatch`.
        global_step: Optimizer steps before this callback's first one.
    """

    def __init__(
        self,
        save: Callable[[int, int], None],
        every: int,
        watch: InterruptWatch,
        global_step: int = 0,
    ):
        super().__init__()
        self.save = save
        self.every = every
        self.watch = watch
        self.global_step = global_step
        self.epoch = 0
        self.start = 0
        self.num_batches = 0
        self._metrics_from: Checkpoint | None = None

    def begin_epoch(
        self, epoch: int, start: int, num_batches: int, resume_from: Checkpoint | None = None
    ) -> None:
        """Sets the epoch the next `fit` call trains, from batch `start` of `num_batches`.

        `resume_from` gives the checkpoint whose metric sums (the epoch's loss so
        far) continue into this epoch.
        """
        self.epoch, self.start, self.num_batches = epoch, start, num_batches
        self._metrics_from = resume_from

    def on_epoch_begin(self, epoch, logs=None):
        if self._metrics_from is not None:
            self._metrics_from.restore_metrics(self.model)  # after Keras reset them
            self._metrics_from = None

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        position = self.start + batch + 1
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteLoss(self.epoch, position, loss)
        if position >= self.num_batches:
            return
        if self.watch.signal is not None:
            self.save(self.epoch, position)
            raise Interrupted(self.watch.signal, self.epoch, position)
        if self.every and self.global_step % self.every == 0:
            self.save(self.epoch, position)
