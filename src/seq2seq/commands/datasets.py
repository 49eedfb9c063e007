"""The data of a command, from a data file or a built-in task, cut into splits.

A text split is a dict `{"sources": [...], "targets": [...], "references": [[...], ...]}`
(`references[i]` lists every acceptable target of example `i`); a real-valued
split is `{"x": (n, in_len, in_dim), "y": (n, out_len, out_dim)}` float32
arrays. Nothing here imports Keras, so a bad file is reported at once.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq.commands.errors import CommandError
from seq2seq.data.errors import DataFileError
from seq2seq.data.readers import read_arrays, read_pairs
from seq2seq.data.tasks import get_task
from seq2seq.data.tasks.splits import SPLITS

ARRAY_SUFFIXES = (".npz",)


@dataclasses.dataclass
class Dataset:
    """Splits of text pairs or real-valued arrays, and how they were made.

    Args:
        name: The task name or the data file's stem (names the default run folder).
        description: Where the data came from, e.g. `"task dates"` or a path.
        kind: `"text"` or `"real"`.
        splits: Split name (`"train"`, `"validation"`, `"test"`) to split dict.
        source_level: How sources split into symbols (`None` for real data).
        target_level: How targets split into symbols (`None` for real data).
        task: The built-in task's name, or `None` for a data file.
        scaling: `{"mean", "std"}` of standardised real data, if any.

    Example:

    >>> from seq2seq.commands.datasets import load_dataset
    >>> data = load_dataset(task="reverse", max_examples=20, seed=0)
    >>> data.kind, len(data.splits["train"]["sources"])
    ('text', 16)
    """

    name: str
    description: str
    kind: str
    splits: dict[str, dict[str, Any]]
    source_level: str | None = None
    target_level: str | None = None
    task: str | None = None
    scaling: dict[str, float] | None = None

    def size(self, split: str) -> int:
        """The number of examples in `split`."""
        part = self.splits[split]
        return len(part["sources"]) if self.kind == "text" else len(part["x"])


def _split_counts(
    path: Path, total: int, validation_split: float, test_split: float
) -> tuple[int, int, int]:
    validation = max(1, round(total * validation_split)) if validation_split > 0 else 0
    test = max(1, round(total * test_split)) if test_split > 0 else 0
    train = total - validation - test
    if train < 1:
        raise DataFileError(
            path,
            f"only {total} examples: too few to hold out {validation} for validation and "
            f"{test} for test and still train",
        )
    return train, validation, test


def _cut(order: np.ndarray, counts: tuple[int, int, int]) -> dict[str, np.ndarray]:
    bounds = np.cumsum((0, *counts))
    return {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(SPLITS)}


def _text_split(sources: list[str], targets: list[str], index: np.ndarray) -> dict[str, Any]:
    picked_sources = [sources[i] for i in index.tolist()]
    picked_targets = [targets[i] for i in index.tolist()]
    return {
        "sources": picked_sources,
        "targets": picked_targets,
        "references": [[target] for target in picked_targets],
    }


def _from_file(
    path: Path,
    level: str,
    skip_header: bool,
    max_examples: int | None,
    seed: int,
    fractions: tuple[float, float] | None,
) -> Dataset:
    is_arrays = path.suffix.lower() in ARRAY_SUFFIXES
    if is_arrays:
        x, y = read_arrays(path)
        total = len(x)
    else:
        sources, targets = read_pairs(path, skip_header=skip_header)
        total = len(sources)
    if fractions is None:
        order = np.arange(total)[:max_examples]
        indices = {"test": order}
    else:
        order = np.random.default_rng(seed).permutation(total)[:max_examples]
        indices = _cut(order, _split_counts(path, len(order), *fractions))
    if is_arrays:
        splits = {name: {"x": x[index], "y": y[index]} for name, index in indices.items()}
        return Dataset(path.stem, os.fspath(path), "real", splits)
    splits = {name: _text_split(sources, targets, index) for name, index in indices.items()}
    return Dataset(path.stem, os.fspath(path), "text", splits, level, level)


def _from_task(name: str, max_examples: int | None, seed: int) -> Dataset:
    task = get_task(name)
    try:
        loaded = task.load(num_examples=max_examples, seed=seed)
    except ValueError as error:  # e.g. more examples than the task has
        raise CommandError(f"task {name}: {error}") from None
    splits = {}
    for split in SPLITS:
        part = loaded[split]
        if task.kind == "real":
            splits[split] = {"x": part["x"], "y": part["y"]}
        else:
            splits[split] = {
                "sources": [source for source, _ in part],
                "targets": [target for _, target in part],
                "references": loaded["references"][split],
            }
    return Dataset(
        name,
        f"task {name}",
        task.kind,
        splits,
        task.source_level,
        task.target_level,
        task=name,
        scaling=loaded.get("scaling"),
    )


def load_dataset(
    data: str | os.PathLike | None = None,
    task: str | None = None,
    level: str = "char",
    skip_header: bool = False,
    max_examples: int | None = None,
    seed: int = 0,
    validation_split: float = 0.1,
    test_split: float = 0.1,
    whole_file_as_test: bool = False,
) -> Dataset:
    """Loads a data file or a built-in task, cut into train, validation and test splits.

    A data file is shuffled with `seed`, cut to `max_examples`, and split by
    the two fractions (at least one example each when a fraction is positive).
    A task keeps its own splits; `max_examples` is its total size (default: the
    task's own).

    Args:
        data: A `.tsv`/`.csv` of source/target pairs or an `.npz` with arrays
            `x` and `y`. Exactly one of `data` and `task` is given.
        task: A built-in task's name.
        level: `"char"` or `"word"`: how a data file's texts split into symbols.
        skip_header: Skip the first line of a delimited file.
        max_examples: The most examples to use.
        seed: Chooses the shuffle of a file and the examples of a task.
        validation_split: The fraction of a file held out for validation.
        test_split: The fraction of a file held out for testing.
        whole_file_as_test: Use every example of a data file, unshuffled, as
            the `"test"` split (for evaluation).

    Returns:
        A `Dataset`.

    Raises:
        DataFileError: The file cannot be read or is too small to split.
    """
    if (data is None) == (task is None):
        raise ValueError(
            "Invalid value for arguments `data` and `task`. Expected exactly one. "
            f"Received: data={data!r}, task={task!r}"
        )
    if task is not None:
        return _from_task(task, max_examples, seed)
    fractions = None if whole_file_as_test else (validation_split, test_split)
    return _from_file(Path(data), level, skip_header, max_examples, seed, fractions)
