"""How many epochs fit in a run's time budget, planned from the pace of those trained."""

from __future__ import annotations

import math
import statistics
from typing import Any

# Epochs of one run vary by a few percent (g2p on 2 cores: 308-318 s, 359-389 s, 188-202 s):
# the plan takes each epoch as the median pace plus this much, so that a slower epoch later
# rarely shrinks the plan again.
PACE_MARGIN = 1.05


class TimeBudget:
    """Plans the epochs of a run that must train within `seconds`.

    After each epoch, `epoch_ended` takes its duration. An epoch that compiled (a
    process's first) is no pace: its time counts as spent. From the first epoch that
    did not compile, the plan is the epochs trained plus those that fit in the time
    left at the median pace so far (times `PACE_MARGIN`). It only shrinks, never below
    the epochs trained (the caller resizes the learning-rate schedule, which the
    compiled step reads as state: nothing is compiled again).
    Before any pace is known the plan holds unless the time is spent.

    Args:
        seconds: The time the epochs may take, validation included.
        epochs: The most epochs (the plan to start from).
        spent: Seconds already trained (by a resumed run's earlier processes).
        planned: The plan when it was saved (a resumed run's), else `epochs`.

    Example:

    >>> from seq2seq.training.time_budget import TimeBudget
    >>> budget = TimeBudget(seconds=1000, epochs=20)
    >>> budget.epoch_ended(130.0, compiled=True, done=1)  # compiled: no pace yet
    False
    >>> budget.epoch_ended(100.0, compiled=False, done=2)  # 770 s left: 7 epochs fit
    True
    >>> budget.planned
    9
    """

    def __init__(self, seconds: float, epochs: int, spent: float = 0.0, planned: int | None = None):
        if not seconds > 0:
            raise ValueError(
                f"Invalid time budget: expected seconds > 0. Received: seconds={seconds!r}"
            )
        self.seconds = float(seconds)
        self.spent = float(spent)
        self.planned = epochs if planned is None else min(planned, epochs)
        self._paces: list[float] = []

    @property
    def pace(self) -> float | None:
        """Seconds an epoch that did not compile takes (the median), None before one."""
        return statistics.median(self._paces) if self._paces else None

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps so a resumed run follows the same plan."""
        return {"planned_epochs": self.planned, "trained_seconds": self.spent}

    def epoch_ended(self, seconds: float, compiled: bool, done: int) -> bool:
        """Records an epoch of `seconds` after which `done` epochs are trained.

        Returns:
            Whether the plan shrank (`planned` holds the new one).
        """
        self.spent += seconds
        if not compiled:
            self._paces.append(seconds)
        left = self.seconds - self.spent
        pace = self.pace
        if pace is None:
            fits = done if left <= 0 else self.planned
        else:
            fits = done + math.floor(max(left, 0.0) / (pace * PACE_MARGIN))
        if fits >= self.planned:
            return False
        self.planned = max(done, fits)
        return True
