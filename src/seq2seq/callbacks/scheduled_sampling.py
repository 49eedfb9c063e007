"""Scheduled sampling (Bengio et al. 2015): feed the model's own predictions more and more often."""

from __future__ import annotations

import math
from typing import Any

import keras

SCHEDULES = ("linear", "exponential", "inverse_sigmoid")
UPDATES = ("batch", "epoch")
DEFAULT_K = {"linear": 1.0, "exponential": 0.99, "inverse_sigmoid": 10.0}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class ScheduledSampling(keras.callbacks.Callback):
    """Raises `model.sampling_probability` during `fit` following a Bengio et al. schedule.

    A model built with `scheduled_sampling=True` trains on `[x, y]`; at every
    decoder step and for every sequence it feeds its own previous prediction
    with probability `model.sampling_probability`, else the true previous target
    (teacher forcing). Bengio et al. (2015) start from teacher forcing and decay
    the probability `eps_i` of feeding the truth with the training step `i`:

    - `"linear"`: `eps_i = max(epsilon, k - c * i)`;
    - `"exponential"`: `eps_i = max(epsilon, k ** i)`, with `k < 1`;
    - `"inverse_sigmoid"`: `eps_i = max(epsilon, k / (k + exp(i / k)))`, with `k >= 1`.

    The callback sets `model.sampling_probability = 1 - eps_i`, which rises from
    about 0 and never exceeds `1 - epsilon`. It works for token and real-valued
    `Seq2Seq` and `AttentionSeq2Seq` models; `SimpleSeq2Seq` feeds nothing back.

    Args:
        schedule: `"linear"`, `"exponential"` or `"inverse_sigmoid"`.
        k: Schedule parameter (default 1.0, 0.99 and 10.0 respectively): the
            starting truth probability for `"linear"` (in [0, 1]), the decay base
            for `"exponential"` (in (0, 1]), the delay for `"inverse_sigmoid"`
            (>= 1).
        c: Slope of `"linear"` (>= 0), per step.
        epsilon: Floor of `eps_i` in [0, 1]: the sampling probability's ceiling
            is `1 - epsilon`.
        update: `"batch"`: `i` counts the training batches seen by this callback
            (over every `fit` call); `"epoch"`: `i` is the epoch index.

    Example:
    >>> import numpy as np
    >>> from seq2seq.callbacks.scheduled_sampling import ScheduledSampling
    >>> from seq2seq.models import Seq2Seq
    >>> model = Seq2Seq(input_dim=2, input_length=5, hidden_dim=4, output_length=3,
    ...                 output_dim=2, teacher_force=True, scheduled_sampling=True)
    >>> model.compile(loss="mse")
    >>> x, y = np.zeros((8, 5, 2), "float32"), np.zeros((8, 3, 2), "float32")
    >>> callback = ScheduledSampling("linear", k=1.0, c=0.25, update="batch")
    >>> _ = model.fit(x, y, batch_size=4, epochs=1, callbacks=[callback], verbose=0)
    >>> round(float(model.sampling_probability.numpy()), 2)
    0.25
    """

    def __init__(
        self,
        schedule: str = "inverse_sigmoid",
        k: float | None = None,
        c: float = 0.01,
        epsilon: float = 0.0,
        update: str = "batch",
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(
                f"Invalid value for argument `schedule`. Expected one of {SCHEDULES}. Received: schedule={schedule!r}"
            )
        if update not in UPDATES:
            raise ValueError(
                f"Invalid value for argument `update`. Expected one of {UPDATES}. Received: update={update!r}"
            )
        k = DEFAULT_K[schedule] if k is None else k
        valid_k = {
            "linear": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
            "exponential": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
            "inverse_sigmoid": (lambda v: v >= 1, "a number >= 1"),
        }[schedule]
        if not _is_number(k) or not valid_k[0](k):
            raise ValueError(
                f"Invalid value for argument `k`. Expected {valid_k[1]} for schedule={schedule!r}. Received: k={k!r}"
            )
        if not _is_number(c) or c < 0:
            raise ValueError(
                f"Invalid value for argument `c`. Expected a number >= 0. Received: c={c!r}"
            )
        if not _is_number(epsilon) or not 0 <= epsilon <= 1:
            raise ValueError(
                f"Invalid value for argument `epsilon`. Expected a number in [0, 1]. Received: epsilon={epsilon!r}"
            )
        self.schedule = schedule
        self.k = float(k)
        self.c = float(c)
        self.epsilon = float(epsilon)
        self.update = update
        self.step = 0
        self._assigned = None

    def truth_probability(self, step: int) -> float:
        """`eps_i`: the probability of feeding the true previous target at step `step`."""
        if self.schedule == "linear":
            eps = self.k - self.c * step
        elif self.schedule == "exponential":
            eps = self.k**step
        else:
            # exp overflows for very late steps; the limit is 0.
            eps = self.k / (self.k + math.exp(step / self.k)) if step / self.k < 700 else 0.0
        return max(self.epsilon, eps)

    def probability(self, step: int) -> float:
        """The sampling probability `1 - eps_i` set at step `step`."""
        return 1.0 - self.truth_probability(step)

    def on_train_begin(self, logs=None):
        self._assigned = None
        model = self.model
        if not getattr(model, "scheduled_sampling", False) or not getattr(
            model, "uses_feedback", False
        ):
            raise ValueError(
                "Invalid model for `ScheduledSampling`. Expected a `Seq2Seq` or `AttentionSeq2Seq` built with "
                f"scheduled_sampling=True. Received: {type(model).__name__} with "
                f"scheduled_sampling={getattr(model, 'scheduled_sampling', None)!r}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        if self.update == "epoch":
            self._set(self.probability(epoch))

    def on_train_batch_begin(self, batch, logs=None):
        if self.update == "batch":
            self._set(self.probability(self.step))

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._assigned is not None:
            logs["sampling_probability"] = self._assigned

    def _set(self, value: float) -> None:
        if value == self._assigned:
            return
        # On JAX, reading `self.model` syncs the trainer's state into the variables,
        # so the next train step reads the new value.
        self.model.sampling_probability.assign(value)
        self._assigned = value
