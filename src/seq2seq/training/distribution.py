"""`seq2seq train --distribute`: data-parallel training over every device, on one host or several.

On the JAX backend, `start` sets `keras.distribution.DataParallel` over all devices. With
Keras' environment variables set (`ENVIRONMENT`), it first joins the other processes
(`keras.distribution.initialize`, which calls `jax.distributed.initialize`): process 0
coordinates, every process reads the same data, and each feeds its own rows of every
global batch (`ShardedRun`). Only process 0 writes the run folder (`Bystander`).

Example:

>>> from seq2seq.training.distribution import start
>>> processes = start(batch_size=64)  # doctest: +SKIP
>>> processes.process_id, processes.num_processes, processes.num_devices  # doctest: +SKIP
(0, 2, 2)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seq2seq.training.checkpoint import Checkpoint
from seq2seq.training.run_folder import RunFolder
from seq2seq.training.training_run import Arrays, TrainingRun

# Read by `keras.distribution.initialize`: the coordinator's host:port (process 0's; a
# comma-separated list of every process's address also works, the first coordinates),
# the number of processes, and this process's id, 0 to num_processes - 1.
ENVIRONMENT = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


class DistributionError(ValueError):
    """Settings or an environment that `--distribute` cannot use, reported on one line."""


@dataclasses.dataclass(frozen=True)
class Processes:
    """The processes training together and the devices they hold.

    Args:
        process_id: This process, from 0.
        num_processes: Processes in the run (one per host, usually).
        num_devices: Devices of all processes together; every batch splits over them.
    """

    process_id: int
    num_processes: int
    num_devices: int

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder (process 0 alone does)."""
        return self.process_id == 0

    def check_batch(self, batch_size: int) -> None:
        """Raises `DistributionError` unless a batch of `batch_size` splits over the devices."""
        if batch_size % self.num_devices:
            raise DistributionError(
                f"--batch-size {batch_size}: --distribute splits every batch over "
                f"{self.num_devices} devices; expected a multiple of {self.num_devices}"
            )

    def validation_share(
        self, validation: Arrays, alternatives: Arrays | None = None
    ) -> tuple[Arrays, Arrays | None]:
        """This process's block of the validation rows, and the alternatives
        (`ValidationExactMatch`) of those rows, renumbered from the block's first."""
        block = len(validation[0]) // self.num_processes
        start = self.process_id * block
        validation = tuple(part[start : start + block] for part in validation)
        if alternatives is not None:
            alternatives = _alternatives_of_rows(alternatives, start, start + block)
        return validation, alternatives

    def divisible(
        self, arrays: dict[str, Arrays], batch_size: int
    ) -> tuple[dict[str, Arrays], str]:
        """Drops the examples that would leave a batch indivisible; returns what it did.

        Every training batch is full (the last `len % batch_size` training examples
        go), and the validation split keeps a multiple of the device count, so each
        process feeds equal shares of every batch and each device an equal part.

        Raises:
            DistributionError: The batch does not split over the devices, or the
                training split is smaller than one batch.
        """
        self.check_batch(batch_size)
        kept, dropped = {}, []
        for name, multiple in (("train", batch_size), ("validation", self.num_devices)):
            x, y = arrays[name]
            size = len(x) - len(x) % multiple
            if size == 0:
                raise DistributionError(
                    f"--distribute: the {name} split has {len(x)} examples, fewer than "
                    f"{'--batch-size ' if name == 'train' else 'the devices, '}{multiple}"
                )
            kept[name] = (x[:size], y[:size])
            if size < len(x):
                dropped.append(f"the last {len(x) - size} of {len(x)} {name} examples")
        if arrays.get("alternatives") is not None:  # those of the validation rows kept
            size = len(kept["validation"][0])
            kept["alternatives"] = _alternatives_of_rows(arrays["alternatives"], 0, size)
        where = f"{self.num_devices} devices in {self.num_processes} process(es)"
        note = f"--distribute: batches of {batch_size} over {where}"
        if dropped:
            note += f"; dropped {' and '.join(dropped)} so that every batch divides"
        return kept, note

    def share(self, array: np.ndarray, batch_size: int) -> np.ndarray:
        """This process's rows of every global batch of `batch_size` in `array`."""
        rows = batch_size // self.num_processes
        parts = array.reshape(-1, self.num_processes, rows, *array.shape[1:])
        return parts[:, self.process_id].reshape(-1, *array.shape[1:])

    def local_model(
        self, model: keras.Model, build: Callable[[], keras.Model]
    ) -> keras.Model | None:
        """A copy of the trained `model` (weights and optimizer) on this process's device.

        Decoding and scoring then run on process 0 alone, with any batch size; the
        other processes leave the group here and return `None`.
        """
        trained = Checkpoint.capture(model, {})
        keras.distribution.set_distribution(None)
        if self.num_processes > 1:
            import jax

            jax.distributed.shutdown()
        if not self.writes:
            return None
        local = build()
        if not local.built:
            local.build()
        local.optimizer.build(local.trainable_variables)
        trained.restore(local)
        return local


def start(batch_size: int, environ: Mapping[str, str] = os.environ) -> Processes:
    """Joins the other processes (if `ENVIRONMENT` names them) and sets `DataParallel`.

    Call it before creating any model or array.

    Raises:
        DistributionError: The backend is not JAX, or the environment is incomplete.
    """
    if keras.backend.backend() != "jax":
        raise DistributionError(
            f"--distribute: expected the jax backend (KERAS_BACKEND=jax), received "
            f"{keras.backend.backend()}"
        )
    import jax

    given = [name for name in ENVIRONMENT if environ.get(name)]
    if given:
        missing = [name for name in ENVIRONMENT if name not in given]
        if missing:
            raise DistributionError(
                f"--distribute on several hosts: {', '.join(given)} set, expected "
                f"{', '.join(missing)} too"
            )
        for name in ENVIRONMENT[1:]:
            if not environ[name].isdigit():
                raise DistributionError(
                    f"--distribute: invalid {name}: expected an integer >= 0, "
                    f"received {environ[name]!r}"
                )
        keras.distribution.initialize(
            environ[ENVIRONMENT[0]], int(environ[ENVIRONMENT[1]]), int(environ[ENVIRONMENT[2]])
        )
    distribution = keras.distribution.DataParallel()
    # Each process feeds its own rows of every batch (`ShardedRun`), as NumPy arrays.
    distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)
    processes = Processes(jax.process_index(), jax.process_count(), jax.device_count())
    processes.check_batch(batch_size)
    return processes


def _alternatives_of_rows(alternatives: Arrays, start: int, stop: int) -> Arrays:
    """The alternatives (`ValidationExactMatch`) of validation rows `start` to `stop`,
    their rows numbered from `start`."""
    rows, targets = alternatives
    mine = (rows >= start) & (rows < stop)
    return rows[mine] - start, targets[mine]


class ShardedRun(TrainingRun):
    """A `TrainingRun` whose process fits its own rows of every global batch.

    Every process computes the same epoch order; process `p` of `P` takes rows
    `p * b` to `(p + 1) * b` of each batch of `batch_size` (`b = batch_size / P`), and
    Keras assembles the global batch from the shares (`jax.make_array_from_process_local_data`).
    The validation split is cut in `P` equal blocks. The data must divide
    (`Processes.divisible`).

    Args:
        processes: The `Processes` from `start`.
        *args: As `TrainingRun`.
    """

    def __init__(self, processes: Processes, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.processes = processes

    def fit(
        self,
        train: Arrays,
        validation: Arrays,
        resume_from: Checkpoint | None = None,
        alternatives: Arrays | None = None,
    ):
        validation, alternatives = self.processes.validation_share(validation, alternatives)
        return super().fit(train, validation, resume_from, alternatives)

    def _epoch_data(self, x, y, epoch: int, position: int) -> dict[str, Any]:
        data = super()._epoch_data(x, y, epoch, position)
        batch = data["batch_size"]
        return {
            "x": self.processes.share(data["x"], batch),
            "y": self.processes.share(data["y"], batch),
            "batch_size": batch // self.processes.num_processes,
        }


class Bystander(RunFolder):
    """The run folder as a process other than 0 sees it: it writes nothing there."""

    def save_checkpoint(self, checkpoint: Checkpoint, keep: int) -> Path:
        return self.checkpoint_path(checkpoint.global_step)

    def write_history(self, history: Mapping[str, Any]) -> Path:
        return self.path / "history.csv"
