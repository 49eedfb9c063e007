"""A training checkpoint: everything a run needs to continue bit for bit.

A checkpoint is one `.npz` archive (read back with `allow_pickle=False`, so
loading it never runs code) holding the model's variables, the optimizer's,
the metrics' running sums (so a resumed epoch reports the same mean loss),
the early-stopping state with the best weights so far, NumPy's and Python's
global random states, and a JSON record of where the run is: the epoch, the
batch position inside it (the data order of an epoch follows from the run's
seed, see `epoch_order`), the optimizer step and the history so far.

Example:

>>> from seq2seq.training.checkpoint import Checkpoint
>>> checkpoint = Checkpoint.capture(model, epoch=2, position=100, state={})  # doctest: +SKIP
>>> checkpoint.save("runs/dates/checkpoints/step-000000726.npz")  # doctest: +SKIP
>>> Checkpoint.load("runs/dates/checkpoints/step-000000726.npz").restore(model)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seq2seq import __version__
from seq2seq.atomic import atomic_path

FORMAT = 1
GROUPS = ("model", "optimizer", "metrics", "best")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model, on one line."""


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch `epoch` of a run seeded `seed` visits `size` examples.

    It depends on nothing else, so a resumed run sees the same batches in the
    same order as a run that was never interrupted.
    """
    return np.random.default_rng((seed, epoch)).permutation(size)


def _numpy(variable: keras.Variable) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(variable.value))


def _variables(model: keras.Model) -> dict[str, list[keras.Variable]]:
    optimizer = model.optimizer.variables if model.optimizer is not None else []
    return {"model": list(model.variables), "optimizer": list(optimizer),
            "metrics": list(model.metrics_variables)}  # fmt: skip


def _describe(variables: list[keras.Variable]) -> list[list]:
    return [[variable.path, list(variable.shape)] for variable in variables]


class Checkpoint:
    """The state of a training run at one step, saved as one `.npz` file.

    Args:
        arrays: Group name (`"model"`, `"optimizer"`, `"metrics"`, `"best"`) to a
            list of arrays, in the order of the model's variable lists (`"best"`
            in the order of `model.get_weights()`).
        state: JSON-serialisable record: `epoch`, `position`, `global_step`,
            `history`, `early_stopping` and anything the caller adds.
        layout: Group name to `[path, shape]` of each variable, to check that a
            checkpoint fits the model it is restored into.
    """

    def __init__(self, arrays: dict[str, list[np.ndarray]], state: dict[str, Any], layout=None):
        self.arrays = arrays
        self.state = state
        self.layout = layout or {}

    @property
    def epoch(self) -> int:
        """The epoch to continue (0-based)."""
        return int(self.state["epoch"])

    @property
    def position(self) -> int:
        """Batches of `epoch` already trained."""
        return int(self.state["position"])

    @property
    def global_step(self) -> int:
        """Optimizer steps since the run started."""
        return int(self.state["global_step"])

    @classmethod
    def capture(
        cls,
        model: keras.Model,
        state: dict[str, Any],
        best_weights: list[np.ndarray] | None = None,
    ) -> Checkpoint:
        """The state of `model` (variables, optimizer, metrics) with the run's `state`."""
        variables = _variables(model)
        arrays = {group: [_numpy(v) for v in found] for group, found in variables.items()}
        arrays["best"] = [np.asarray(w) for w in best_weights] if best_weights is not None else []
        numpy_state = np.random.get_state()
        arrays["numpy_random"] = [np.asarray(numpy_state[1])]
        state = {
            **state,
            "format": FORMAT,
            "seq2seq_version": __version__,
            "numpy_random": [numpy_state[0], int(numpy_state[2]), int(numpy_state[3]),
                             float(numpy_state[4])],
            "python_random": _python_random_state(),
        }  # fmt: skip
        layout = {group: _describe(found) for group, found in variables.items()}
        return cls(arrays, state, layout)

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the checkpoint to `path` atomically (a temporary file, then a rename)."""
        payload = {"state.json": _json_bytes({"state": self.state, "layout": self.layout})}
        for group, arrays in self.arrays.items():
            for index, array in enumerate(arrays):
                payload[f"{group}.{index:05d}"] = array
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                np.savez(handle, **payload)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Checkpoint:
        """Reads a checkpoint written by `save`.

        Raises:
            CheckpointError: The file is missing, truncated, not a checkpoint, or
                of an unknown format.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                record = json.loads(bytes(archive["state.json"]).decode("utf-8"))
                arrays = {}
                for name in sorted(archive.files):
                    if name == "state.json":
                        continue
                    group = name.rsplit(".", 1)[0]
                    arrays.setdefault(group, []).append(archive[name])
        except FileNotFoundError:
            raise CheckpointError(f"{path}: file not found") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise CheckpointError(
                f"{path}: not a readable checkpoint ({type(error).__name__}: {error})"
            ) from None
        state = record.get("state") if isinstance(record, dict) else None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(
                f"{path}: not a checkpoint of this seq2seq version (expected format {FORMAT})"
            )
        for group in GROUPS:
            arrays.setdefault(group, [])
        return cls(arrays, state, record.get("layout", {}))

    def restore(self, model: keras.Model) -> None:
        """Assigns the saved model and optimizer variables and the global random states.

        The metrics' running sums are restored separately (`restore_metrics`),
        after Keras resets them at the start of the epoch.

        Raises:
            CheckpointError: The checkpoint was written for a different model.
        """
        variables = _variables(model)
        for group in ("model", "optimizer"):
            self._assign(group, variables[group])
        numpy_state = self.state.get("numpy_random")
        if numpy_state and self.arrays.get("numpy_random"):
            name, position, has_gauss, cached = numpy_state
            keys = self.arrays["numpy_random"][0]
            np.random.set_state((name, keys, position, has_gauss, cached))
        python_state = self.state.get("python_random")
        if python_state:
            version, internal, gauss = python_state
            random.setstate((version, tuple(internal), gauss))

    def restore_metrics(self, model: keras.Model) -> None:
        """Assigns the metrics' running sums (the loss of the epoch so far)."""
        self._assign("metrics", list(model.metrics_variables))

    def _assign(self, group: str, variables: list[keras.Variable]) -> None:
        arrays = self.arrays.get(group, [])
        expected = _describe(variables)
        saved = self.layout.get(group)
        shapes_differ = len(arrays) != len(variables) or any(
            tuple(a.shape) != tuple(v.shape) for a, v in zip(arrays, variables)
        )
        if shapes_differ or (
            saved is not None and [s for _, s in saved] != [s for _, s in expected]
        ):
            raise CheckpointError(
                f"the checkpoint's {group} variables do not fit this model: expected "
                f"{len(variables)} variables of shapes {[s for _, s in expected]}, "
                f"received {len(arrays)} of shapes {[list(a.shape) for a in arrays]}"
            )
        for variable, array in zip(variables, arrays):
            variable.assign(array)


def _python_random_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _json_bytes(record: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(record).encode("utf-8"), dtype=np.uint8)
