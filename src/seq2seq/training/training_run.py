"""One training run: an epoch loop over `fit` with checkpoints, early stopping and resuming."""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import keras
import numpy as np

from seq2seq.callbacks.averaged_weights import AveragedWeights
from seq2seq.callbacks.resumable_early_stopping import ResumableEarlyStopping
from seq2seq.callbacks.run_progress import RunProgress
from seq2seq.callbacks.validation_exact_match import ValidationExactMatch
from seq2seq.config import PREDICT_BATCH_SIZE
from seq2seq.training.checkpoint import Checkpoint, CheckpointError, epoch_order
from seq2seq.training.dynamic_batches import fit_batches
from seq2seq.training.interrupts import InterruptWatch
from seq2seq.training.length_buckets import LengthBuckets
from seq2seq.training.resizable_cosine_decay import ResizableCosineDecay
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.step_watch import Interrupted, NonFiniteLoss, StepWatch
from seq2seq.training.streamed_batches import StreamedBatches
from seq2seq.training.time_budget import TimeBudget

Arrays = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass
class RunSettings:
    """How a run trains.

    Args:
        epochs: The most epochs.
        batch_size: Examples per step.
        seed: Seeds the data order (`epoch_order`).
        patience: Epochs without a lower validation loss before stopping.
        checkpoint_every: Steps between checkpoints inside an epoch (0: none);
            one is always written at the end of each epoch.
        keep_checkpoints: How many of the newest checkpoints to keep.
        verbose: Keras' progress output: 1 a bar, 2 a line per epoch, 0 none.
        bucket: Token data: batch examples of similar length (`LengthBuckets`).
        select_on: What early stopping watches and the kept epoch is best at:
            `"loss"` (validation loss) or `"exact_match"` (greedy decoding of the
            validation split, token models).
        time_budget: Seconds the epochs may take (`TimeBudget` plans how many fit),
            0 for no limit.
    """

    epochs: int
    batch_size: int
    seed: int
    patience: int
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    verbose: int = 2
    bucket: bool = False
    select_on: str = "loss"
    time_budget: float = 0.0

    @property
    def monitor(self) -> str:
        """The logged value early stopping watches."""
        return "val_loss" if self.select_on == "loss" else f"val_{self.select_on}"


class TrainingRun:
    """Trains a compiled model for a run folder, one `fit` call per epoch, and can resume.

    Each epoch visits the training examples in `epoch_order(n, seed, epoch)`,
    so a run resumed from a checkpoint after `position` batches of an epoch
    trains the remaining batches of the same order and ends with the same
    weights, history and early-stopping decisions as a run never interrupted.

    Args:
        model: A compiled seq2seq model.
        folder: The run folder (checkpoints and `history.csv` go there).
        settings: A `RunSettings`.
        watch: The `InterruptWatch` the caller entered, or `None` for none.
        schedule: The optimizer's learning rate where it depends on the run's length
            (a `ResizableCosineDecay` over every step of `epochs`), `None` where it
            does not. With a time budget it is attached to the optimizer for the
            run (`fit` detaches it at the end): when fewer epochs fit, it is
            resized to end with the last of them, and the compiled step follows
            without being traced again.

    Example:

    >>> from seq2seq.training.training_run import RunSettings, TrainingRun
    >>> run = TrainingRun(model, RunFolder("runs/x"), RunSettings(4, 64, 0, 3))  # doctest: +SKIP
    >>> history = run.fit((x, y), (x_val, y_val))  # doctest: +SKIP
    """

    def __init__(
        self,
        model: keras.Model,
        folder: RunFolder,
        settings: RunSettings,
        watch: InterruptWatch | None = None,
        schedule: ResizableCosineDecay | None = None,
    ):
        self.model = model
        self.folder = folder
        self.settings = settings
        self.watch = watch or InterruptWatch()
        self.history: dict[str, list[float]] = {}
        self.stopping = ResumableEarlyStopping(
            monitor=settings.monitor,
            mode="min" if settings.select_on == "loss" else "max",
            patience=settings.patience,
            restore_best_weights=True,
            verbose=1 if settings.verbose else 0,
        )
        self.stopping.set_model(model)
        self.steps = StepWatch(self._save, settings.checkpoint_every, self.watch)
        self.steps.set_model(model)
        self._train_size = 0
        self.last_checkpoint: Checkpoint | None = None
        self.schedule = schedule
        self.budget: TimeBudget | None = None
        self._epoch_started: float | None = None

    def num_batches(self, size: int) -> int:
        """Steps per epoch for `size` training examples."""
        return math.ceil(size / self.settings.batch_size)

    def _state(self, epoch: int, position: int) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "position": position,
            "global_step": self.steps.global_step,
            "train_size": self._train_size,
            "batch_size": self.settings.batch_size,
            "seed": self.settings.seed,
            "history": self.history,
            "early_stopping": self.stopping.get_state(),
            **(self._budget_state() if self.budget else {}),
        }

    def _budget_state(self) -> dict[str, Any]:
        state = self.budget.state()
        if self._epoch_started is not None:  # a checkpoint inside an epoch
            state["trained_seconds"] += time.perf_counter() - self._epoch_started
        return state

    @property
    def planned_epochs(self) -> int:
        """The epochs the run trains at most: `epochs`, or fewer to fit its time budget."""
        return self.budget.planned if self.budget else self.settings.epochs

    def _plan_line(self) -> str:
        budget = self.budget
        resized = " (learning-rate schedule resized)" if self.schedule is not None else ""
        pace = f"{budget.pace:.0f} s an epoch" if budget.pace else "no epoch without compiling"
        return (
            f"Time budget: {budget.spent / 60:.1f} of {budget.seconds / 60:g} minutes spent, "
            f"{pace}: training {budget.planned} of {self.settings.epochs} epochs{resized}"
        )

    def _plan(self, epochs: int) -> None:
        """Trains `epochs` epochs in all: the schedule resized (the step reads its length)."""
        if self.schedule is not None:
            self.schedule.resize_to_total(epochs * self.num_batches(self._train_size))

    def _save(self, epoch: int, position: int) -> None:
        # A callback's `model` holds the current values (on JAX it syncs them mid-epoch).
        checkpoint = Checkpoint.capture(
            self.steps.model, self._state(epoch, position), self.stopping.best_weights
        )
        self.folder.save_checkpoint(checkpoint, self.settings.keep_checkpoints)
        self.last_checkpoint = checkpoint

    def resume(self, checkpoint: Checkpoint, train_size: int) -> None:
        """Loads a checkpoint's weights, optimizer, history and early-stopping state.

        Raises:
            CheckpointError: The checkpoint belongs to other data or another model.
        """
        state = checkpoint.state
        check_resumable(checkpoint, train_size, self.settings)
        _build_for_restore(self.model)
        checkpoint.restore(self.model)
        self.history = {key: list(values) for key, values in state["history"].items()}
        self.stopping.set_state(state["early_stopping"], checkpoint.arrays.get("best"))
        self.steps.global_step = checkpoint.global_step
        self.last_checkpoint = checkpoint

    def fit(
        self,
        train: Arrays | StreamedBatches,
        validation: Arrays,
        resume_from: Checkpoint | None = None,
        alternatives: Arrays | None = None,
    ):
        """Trains until the last epoch or early stopping; returns the history.

        Args:
            train: `(x, y)` training arrays, or the `StreamedBatches` of a
                streamed file (its seed and skip are set for each epoch).
            validation: `(x, y)` validation arrays.
            resume_from: A checkpoint to continue from, if any.
            alternatives: The validation sources' other acceptable targets, for
                selection on exact match (`ValidationExactMatch`).

        Returns:
            Metric name to one value per epoch (the whole run's, resumed or not).

        Raises:
            NonFiniteLoss: A loss became NaN or infinite (nothing more is saved).
            Interrupted: SIGINT or SIGTERM arrived; a checkpoint was written first.
        """
        streamed = isinstance(train, StreamedBatches)
        x, y = train.first_row() if streamed else train
        self._train_size = train.size if streamed else len(x)
        if self.settings.time_budget:  # a resumed run keeps its time trained and its plan
            saved = resume_from.state if resume_from is not None else {}
            self.budget = TimeBudget(
                self.settings.time_budget,
                self.settings.epochs,
                saved.get("trained_seconds", 0.0),
                saved.get("planned_epochs"),
            )
        resizes = self.budget is not None and self.schedule is not None
        if resizes:  # before the optimizer is built, as in every process of the run
            self.schedule.attach(self.model.optimizer)
        try:
            return self._fit(train, (x, y), validation, resume_from, alternatives)
        finally:
            if resizes:  # a saved model holds a plain schedule of the length reached
                self.schedule.detach(self.model.optimizer)

    def _fit(self, train, first, validation, resume_from, alternatives) -> dict[str, list[float]]:
        """`fit`'s epochs; `first` holds the training arrays (a streamed file's first row)."""
        streamed = isinstance(train, StreamedBatches)
        x, y = first
        num_batches = self.num_batches(self._train_size)
        epoch, position = 0, 0
        if self.settings.bucket or streamed:
            # Keras builds the loss on the first batch, free-running at full length; a
            # batch padded to its own length would not fit that, so one full row comes first.
            self.model.evaluate(x[:1], y[:1], verbose=0)
        if resume_from is not None:
            self.resume(resume_from, self._train_size)
            epoch, position = resume_from.epoch, resume_from.position
            # An attached schedule's length came back with the optimizer's variables.
        progress = RunProgress(self.planned_epochs, self.settings.verbose)
        callbacks = [progress, self.steps, self.stopping]
        if self.settings.select_on == "exact_match":  # first, so the others see its value
            callbacks.insert(0, ValidationExactMatch(*validation, alternatives=alternatives))
        if getattr(self.model.optimizer, "use_ema", False):  # before all: they judge the average
            callbacks.insert(0, AveragedWeights())
        validation_data = self._validation_data(validation)
        compiles = True  # this process's first epoch traces the step
        while epoch < self.planned_epochs and not self.stopping.stopped:
            self.steps.begin_epoch(epoch, position, num_batches, resume_from if position else None)
            self._epoch_started = time.perf_counter()
            result = self.model.fit(
                **self._epoch_data(train if streamed else x, y, epoch, position),
                shuffle=False,
                initial_epoch=epoch,
                epochs=epoch + 1,
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=0,
            )
            for key, values in result.history.items():
                self.history.setdefault(key, []).append(float(values[-1]))
            val_loss = self.history.get("val_loss", [0.0])[-1]
            if not math.isfinite(val_loss):
                raise NonFiniteLoss(epoch, None, val_loss)
            epoch, position = epoch + 1, 0
            if self.budget is not None:
                seconds = time.perf_counter() - self._epoch_started
                shrank = self.budget.epoch_ended(seconds, compiles, epoch)
                compiles = False
                if shrank:
                    progress.run_epochs = self.planned_epochs
                    if self.planned_epochs > epoch:
                        self._plan(self.planned_epochs)
                    if self.settings.verbose:
                        print(self._plan_line(), flush=True)
            self._epoch_started = None
            self._save(epoch, 0)
            self.folder.write_history(self.history)
            if self.watch.signal is not None and (
                epoch < self.planned_epochs and not self.stopping.stopped
            ):
                raise Interrupted(self.watch.signal, epoch, 0)
        self.stopping.restore_best()
        return self.history

    def _epoch_data(self, x, y, epoch: int, position: int) -> dict[str, Any]:
        """`fit`'s data arguments for an epoch, without its first `position` batches.

        `x` is the training `StreamedBatches` of a streamed file (`y` unused).
        """
        if isinstance(x, StreamedBatches):
            batches = x.for_epoch((self.settings.seed, epoch), position, self._trim_targets())
            return {"x": fit_batches(batches)}
        batch = self.settings.batch_size
        order = epoch_order(len(x), self.settings.seed, epoch)
        if not self.settings.bucket:
            order = order[position * batch :]
            return {"x": x[order], "y": y[order], "batch_size": batch}
        batches = LengthBuckets(
            x, y, order, batch, seed=(self.settings.seed, epoch), skip=position,
            trim_targets=self._trim_targets(),
        )  # fmt: skip
        return {"x": fit_batches(batches)}

    def _validation_data(self, validation: Arrays) -> Arrays | LengthBuckets:
        """`fit`'s `validation_data`: with `bucket`, the validation pairs sorted by length
        and cut into batches of `PREDICT_BATCH_SIZE`, each padded to its own longest pair,
        so the free-running decoder runs as many steps as the batch's targets (the
        model's `_free_running_like`), not `output_length` for every batch.

        The validation loss is then the mean of these batches' losses weighted by their
        rows (Keras' aggregation), not of batches of 32 in the data's order: the same
        per-pair losses, grouped differently.
        """
        if not self.settings.bucket:
            return validation
        x, y = validation
        return LengthBuckets(
            x, y, np.arange(len(x)), PREDICT_BATCH_SIZE, seed=0,
            trim_targets=self.model.uses_feedback, pool_batches=None,
        )  # fmt: skip

    def _trim_targets(self) -> bool:
        """Whether batches pad targets to their own length (the decoder runs as many steps)."""
        model = self.model
        return model.uses_feedback and (model.teacher_force or model.scheduled_sampling)


def check_resumable(checkpoint: Checkpoint, train_size: int, settings: RunSettings) -> None:
    """Checks that `checkpoint` was written for this data size, batch size and seed.

    Raises:
        CheckpointError: One of them changed: the same batches cannot be replayed.
    """
    expected = {"train_size": train_size, "batch_size": settings.batch_size, "seed": settings.seed}
    for key, value in expected.items():
        if checkpoint.state.get(key) != value:
            raise CheckpointError(
                f"the checkpoint was written for {key} {checkpoint.state.get(key)}, but the run "
                f"now has {key} {value}: the data or the settings changed since"
            )


def _build_for_restore(model: keras.Model) -> None:
    """Creates the model's and the optimizer's variables so a checkpoint can fill them."""
    if not model.built:
        model.build()
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
