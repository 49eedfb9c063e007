"""A cosine decay whose length can change during training without tracing the step again."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="seq2seq")
class ResizableCosineDecay(keras.optimizers.schedules.CosineDecay):
    """Keras' `CosineDecay` (with its warm-up) whose `decay_steps` can be resized mid-run.

    A compiled training step holds a schedule's numbers as constants, so a plain
    `CosineDecay` of another length means tracing and compiling the step again (on
    JAX, minutes for a model with many batch shapes). Attached to its optimizer,
    this schedule keeps `decay_steps` in an optimizer variable instead: the step
    reads it like the optimizer's other state, `resize_to_total` assigns it, and the next
    step follows the new curve with nothing traced again. While attached the
    variable is part of the optimizer's state (and of a run's checkpoints);
    `detach` turns it back into a number before the model is saved, so a saved
    model holds a plain schedule of the length reached.

    Args:
        As `keras.optimizers.schedules.CosineDecay`.

    Example:

    >>> import keras
    >>> from seq2seq.training.resizable_cosine_decay import ResizableCosineDecay
    >>> schedule = ResizableCosineDecay(0.0, 900, warmup_target=0.002, warmup_steps=100)
    >>> optimizer = keras.optimizers.Adam(schedule)
    >>> schedule.attach(optimizer)
    >>> schedule.resize_to_total(600)  # the run now ends after 600 steps
    >>> float(schedule(600))
    0.0
    >>> schedule.detach(optimizer)
    >>> schedule.get_config()["decay_steps"]
    500
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._variable: keras.Variable | None = None
        super().__init__(*args, **kwargs)

    @property
    def decay_steps(self) -> Any:
        """The steps of the decay: a number, or the optimizer variable while attached."""
        return self._variable if self._variable is not None else self._decay_steps

    @decay_steps.setter
    def decay_steps(self, value: Any) -> None:
        if self._variable is not None:
            self._variable.assign(float(value))
        self._decay_steps = int(value)

    @property
    def attached(self) -> bool:
        """Whether `decay_steps` lives in an optimizer variable."""
        return self._variable is not None

    def attach(self, optimizer: keras.optimizers.Optimizer) -> None:
        """Moves `decay_steps` into a new variable of `optimizer` (before it is built, so
        that the variable's place in its list is the same in every process of a run)."""
        if self._variable is not None:
            raise ValueError(
                "Invalid call to `attach`: the schedule is already attached to an optimizer. "
                "Expected a detached schedule. Received: an attached one"
            )
        self._variable = optimizer.add_variable(
            (),
            initializer=keras.initializers.Constant(float(self._decay_steps)),
            dtype="float32",
            name="decay_steps",
        )

    def detach(self, optimizer: keras.optimizers.Optimizer) -> None:
        """Takes the variable out of `optimizer`; `decay_steps` is a number again."""
        if self._variable is None:
            return
        steps = self._variable_steps()
        optimizer._untrack_variable(self._variable)  # Keras' own way to drop a rate variable
        self._variable = None
        self._decay_steps = steps

    def _variable_steps(self) -> int:
        """The length the variable holds (assigned by a resize or a checkpoint's restore)."""
        return round(float(keras.ops.convert_to_numpy(self._variable.value)))

    def resize_to_total(self, total_steps: int) -> None:
        """Decays over a run of `total_steps` steps: the warm-up, then the cosine."""
        self.decay_steps = max(1, int(total_steps) - int(self.warmup_steps))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self._variable is not None:
            config["decay_steps"] = self._variable_steps()
        return config
