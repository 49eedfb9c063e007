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
from seq2seq.data.streamed_pairs import StreamedPairs
from seq2seq.data.tasks import get_task
from seq2seq.data.tasks.splits import SPLITS

ARRAY_SUFFIXES = (".npz",)
# A text data file larger than this is streamed from disk unless `--no-stream` is given.
STREAM_THRESHOLD_BYTES = 256 * 2**20


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
        stream: For a streamed data file, its `StreamedPairs`: the training
            split is then read from disk (its lists here are empty) and the
            held-out splits are those the stream kept in memory.

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
    stream: StreamedPairs | None = None

    def size(self, split: str) -> int:
        """The number of examples in `split`."""
        if split == "train" and self.stream is not None:
            return self.stream.train_size
        part = self.splits[split]
        return len(part["sources"]) if self.kind == "text" else len(part["x"])


def _split_counts(
    path: Path, total: int, validation_split: float, test_split: float, noun: str = "examples"
) -> tuple[int, int, int]:
    validation = max(1, round(total * validation_split)) if validation_split > 0 else 0
    test = max(1, round(total * test_split)) if test_split > 0 else 0
    train = total - validation - test
    if train < 1:
        raise DataFileError(
            path,
            f"only {total} {noun}: too few to hold out {validation} for validation and "
            f"{test} for test and still train",
        )
    return train, validation, test


def _cut(
    order: np.ndarray, counts: tuple[int, ...], names: tuple[str, ...] = SPLITS
) -> dict[str, np.ndarray]:
    bounds = np.cumsum((0, *counts))
    return {name: order[bounds[i] : bounds[i + 1]] for i, name in enumerate(names)}


def _first_lines(sources: list[str], order: np.ndarray) -> list[int]:
    """The first line, in `order`, of each distinct source, in order of first appearance."""
    first: dict[str, int] = {}
    for line in order.tolist():
        first.setdefault(sources[line], line)
    return list(first.values())


def _all_targets(sources: list[str], targets: list[str]) -> dict[str, list[str]]:
    """Every distinct target the file lists for each source, in file order."""
    listed: dict[str, dict[str, None]] = {}
    for source, target in zip(sources, targets, strict=True):
        listed.setdefault(source, {})[target] = None
    return {source: list(options) for source, options in listed.items()}


def _text_splits(
    sources: list[str], targets: list[str], order: np.ndarray, counts: tuple[int, ...]
) -> dict[str, dict[str, Any]]:
    """Cuts the distinct sources met in `order` by `counts`: train, validation, test (or test).

    A training split keeps every line of its sources, in `order`, one example
    each; a held-out split holds each source once, with the first target the
    file lists for it, so that it is scored once. Each example's `references`
    hold every target the file lists for its source. Without repeated sources
    this is a plain cut of `order`.
    """
    listed = _all_targets(sources, targets)
    names = SPLITS if len(counts) == len(SPLITS) else ("test",)
    firsts = np.asarray(_first_lines(sources, order), dtype=np.int64)
    splits = {}
    for name, lines in _cut(firsts, counts, names).items():
        if name == "train":
            kept = {sources[line] for line in lines.tolist()}
            lines = np.asarray([line for line in order.tolist() if sources[line] in kept], int)
        picked = [sources[line] for line in lines.tolist()]
        references = [list(listed[source]) for source in picked]
        splits[name] = {
            "sources": picked,
            "targets": [
                targets[line] if name == "train" else options[0]
                for line, options in zip(lines.tolist(), references, strict=True)
            ],
            "references": references,
        }
    return splits


def _from_file(
    path: Path,
    levels: tuple[str, str],
    skip_header: bool,
    max_examples: int | None,
    seed: int,
    fractions: tuple[float, float] | None,
) -> Dataset:
    if path.suffix.lower() in ARRAY_SUFFIXES:
        x, y = read_arrays(path)
        if fractions is None:
            indices = {"test": np.arange(len(x))[:max_examples]}
        else:
            order = np.random.default_rng(seed).permutation(len(x))[:max_examples]
            indices = _cut(order, _split_counts(path, len(order), *fractions))
        splits = {name: {"x": x[index], "y": y[index]} for name, index in indices.items()}
        return Dataset(path.stem, os.fspath(path), "real", splits)
    sources, targets = read_pairs(path, skip_header=skip_header)
    if fractions is None:
        order = np.arange(len(sources))[:max_examples]
        counts: tuple[int, ...] = (len(set(sources[: len(order)])),)
    else:
        order = np.random.default_rng(seed).permutation(len(sources))[:max_examples]
        # A source's lines stay in one split, so the fractions count distinct sources.
        distinct = len({sources[line] for line in order.tolist()})
        noun = "examples" if distinct == len(order) else "distinct sources"
        counts = _split_counts(path, distinct, *fractions, noun=noun)
    splits = _text_splits(sources, targets, order, counts)
    return Dataset(path.stem, os.fspath(path), "text", splits, *levels)


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


def should_stream(data: str | os.PathLike | None, stream: bool | None) -> bool:
    """Whether a command streams its data file: `stream` when given, else by its size.

    A text data file over `STREAM_THRESHOLD_BYTES` is streamed, which one line
    says; an `.npz` file or a task never is.

    Raises:
        CommandError: `stream` is `True` for an `.npz` file or a task.
    """
    text_file = data is not None and Path(data).suffix.lower() not in ARRAY_SUFFIXES
    if stream is not None:
        if stream and not text_file:
            raise CommandError(
                "--stream applies to a text data file (.tsv, .csv), not to an .npz file or a task"
            )
        return stream
    try:
        size = Path(data).stat().st_size if text_file else 0
    except OSError:  # reported when the file is read
        return False
    if size <= STREAM_THRESHOLD_BYTES:
        return False
    print(
        f"{data}: {size / 2**20:,.0f} MiB, over {STREAM_THRESHOLD_BYTES / 2**20:,.0f} MiB: "
        "streaming it from disk (--no-stream reads it into memory)",
        flush=True,
    )
    return True


def _from_stream(
    path: Path,
    levels: tuple[str, str],
    skip_header: bool,
    max_examples: int | None,
    fractions: tuple[float, float],
) -> Dataset:
    stream = StreamedPairs.scan(path, levels, skip_header, *fractions, max_examples=max_examples)
    splits = {"train": {"sources": [], "targets": [], "references": []}, **stream.held_out}
    return Dataset(path.stem, os.fspath(path), "text", splits, *levels, stream=stream)


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
    source_level: str | None = None,
    target_level: str | None = None,
    stream: bool = False,
) -> Dataset:
    """Loads a data file or a built-in task, cut into train, validation and test splits.

    A data file is shuffled with `seed`, cut to `max_examples` lines, and split
    by the two fractions (at least one example each when a fraction is
    positive). The lines of a source listed more than once stay in one split
    (the fractions then count distinct sources): training uses each line, a
    held-out split each source once, and `references` hold every target the
    file lists for a source.
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
        source_level: How a data file's sources split into symbols; `None`
            takes `level`.
        target_level: How a data file's targets split into symbols; `None`
            takes `level`.
        stream: Stream a text data file from disk (`StreamedPairs`): its
            sources are split by a hash of each source rather than a shuffle,
            `max_examples` takes the first lines, and the held-out splits are
            capped at `HELD_OUT_LIMIT` sources each.

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
    levels = (source_level or level, target_level or level)
    if stream:
        if fractions is None:
            raise ValueError(
                "Invalid value for argument `stream`. Expected False with "
                "whole_file_as_test=True. Received: stream=True"
            )
        return _from_stream(Path(data), levels, skip_header, max_examples, fractions)
    return _from_file(Path(data), levels, skip_header, max_examples, seed, fractions)
