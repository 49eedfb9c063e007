"""The description of a built-in task and how to load its splits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from seq2seq.conventions import SPLIT_LEVELS

KINDS = ("text", "real")


class Task:
    """A built-in dataset: its name, its kind and a loader for its splits.

    Text tasks (`kind="text"`) load as
    `{"train": pairs, "validation": pairs, "test": pairs, "references": refs}`
    where `pairs` is a list of `(source, target)` strings and
    `refs[split][i]` lists every acceptable target for `pairs[i]` (one element
    for tasks with a single answer; several in `g2p`).

    Real tasks (`kind="real"`) load as `{"train": {"x", "y", "t"}, ...}` with
    float32 arrays `x` of shape `(n, input_length, 1)` and `y` of shape
    `(n, output_length, 1)`, the series position `t` of each window's first
    target step, and `"scaling": {"mean", "std"}` so that
    `y * std + mean` gives the original units.

    Args:
        name: The registry key.
        description: One line saying what the task is.
        kind: `"text"` or `"real"`.
        loader: A function `loader(num_examples, seed) -> dict` that builds the
            splits; `num_examples` is never `None` when it is called, unless
            `default_num_examples` is `None` (meaning "all the data").
        default_num_examples: The size used when `load` gets no size: the
            total over the three splits for text tasks, the number of windows
            for real ones (`None`: everything available).
        source_level: How sources are split into symbols, `"char"` or `"word"`
            (`None` for real tasks).
        target_level: How targets are split into symbols (`None` for real
            tasks).
        season_length: For real tasks with a seasonal cycle, the steps in one
            season (52 for weekly data with a yearly cycle); the seasonal
            baselines of `seq2seq.forecast_baselines` need it. `None` when
            there is no known season (text tasks always).

    Example:

    >>> from seq2seq.data.tasks import get_task
    >>> task = get_task("reverse")
    >>> splits = task.load(num_examples=100, seed=0)
    >>> source, target = splits["train"][0]
    >>> target == source[::-1]
    True
    """

    def __init__(
        self,
        name: str,
        description: str,
        kind: str,
        loader: Callable[[int | None, int], dict[str, Any]],
        default_num_examples: int | None = None,
        source_level: str | None = "char",
        target_level: str | None = "char",
        season_length: int | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(
                f"Invalid value for argument `kind`. Expected one of {KINDS}. Received: kind={kind!r}"
            )
        for argument, level in (("source_level", source_level), ("target_level", target_level)):
            allowed = SPLIT_LEVELS if kind == "text" else (None,)
            if level not in allowed:
                raise ValueError(
                    f"Invalid value for argument `{argument}`. Expected one of {allowed} for "
                    f"kind={kind!r}. Received: {argument}={level!r}"
                )
        if "\n" in description:
            raise ValueError(
                "Invalid value for argument `description`. Expected one line. "
                f"Received: description={description!r}"
            )
        if season_length is not None and (
            kind != "real"
            or isinstance(season_length, bool)
            or not isinstance(season_length, int)
            or season_length < 2
        ):
            raise ValueError(
                "Invalid value for argument `season_length`. Expected None, or an int >= 2 for "
                f"kind='real'. Received: season_length={season_length!r} for kind={kind!r}"
            )
        self.name = name
        self.description = description
        self.kind = kind
        self.loader = loader
        self.default_num_examples = default_num_examples
        self.source_level = source_level
        self.target_level = target_level
        self.season_length = season_length

    @property
    def level(self) -> str | None:
        """The level outputs are scored at (the target level)."""
        return self.target_level

    def load(self, num_examples: int | None = None, seed: int = 0) -> dict[str, Any]:
        """Builds the train, validation and test splits.

        Args:
            num_examples: How many examples in all (see `default_num_examples`).
                `None` uses the task's default.
            seed: The random seed; the same seed gives the same splits.

        Returns:
            A dict of splits, described in the class docstring.
        """
        if num_examples is not None and (
            isinstance(num_examples, bool) or not isinstance(num_examples, int) or num_examples < 3
        ):
            raise ValueError(
                "Invalid value for argument `num_examples`. Expected None or an int >= 3 "
                f"(one example per split at least). Received: num_examples={num_examples!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(
                "Invalid value for argument `seed`. Expected a non-negative int. "
                f"Received: seed={seed!r}"
            )
        if num_examples is None:
            num_examples = self.default_num_examples
        return self.loader(num_examples, seed)

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, kind={self.kind!r})"
